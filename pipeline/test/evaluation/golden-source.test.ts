import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LIMITS } from '../../src/evaluation/golden-set';
import { loadGoldenSet } from '../../src/evaluation/golden-source';
import { FakeMlflow } from '../support/fake-mlflow';
import { fakeClient } from '../support/models';
import { REPO_ROOT } from '../support/repo';

describe('loadGoldenSet (the three places a policy can name)', () => {
  let fake: FakeMlflow;
  let tmp: string;
  let runId: string;
  let runRoot: string;

  beforeEach(async () => {
    fake = await FakeMlflow.start();
    tmp = mkdtempSync(join(tmpdir(), 'golden-source-'));
    const client = fakeClient(fake);
    const run = await client.createRun(await client.ensureExperiment('e'), 'train');
    runId = run.run_id;
    runRoot = run.artifact_uri;
    const prefix = runRoot.replace('mlflow-artifacts:/', '');
    fake.artifacts.set(`${prefix}/eval/cat/a.png`, Buffer.from('run cat'));
    fake.artifacts.set(`${prefix}/eval/dog/a.png`, Buffer.from('run dog'));
    fake.artifacts.set(`${prefix}/model/golden/cat/b.png`, Buffer.from('model cat'));
    fake.artifacts.set(`${prefix}/model/golden/dog/b.png`, Buffer.from('model dog'));
  });
  afterEach(async () => {
    await fake.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const ctx = (over: object = {}): Parameters<typeof loadGoldenSet>[2] => ({
    repoRoot: REPO_ROOT,
    client: fakeClient(fake),
    modelLocation: `${runRoot}/model`,
    runId,
    downloadDir: join(tmp, 'dl'),
    ...over,
  });

  it('reads a repository path below the root', async () => {
    const set = await loadGoldenSet(
      { from: 'repository', path: 'charts/golden-sets/default' },
      DEFAULT_LIMITS,
      ctx(),
    );
    expect(set.source).toBe('charts/golden-sets/default');
    expect(set.images).toHaveLength(16);
  });

  it("downloads from below the version's artifact directory and from below its run's artifact root", async () => {
    const model = await loadGoldenSet({ from: 'model-artifacts', path: 'golden' }, DEFAULT_LIMITS, ctx());
    expect(model.source).toBe(`${runRoot}/model/golden`);
    expect(model.images.map((i) => [i.path, i.bytes.toString()])).toEqual([
      ['cat/b.png', 'model cat'],
      ['dog/b.png', 'model dog'],
    ]);
    const run = await loadGoldenSet(
      { from: 'run-artifacts', path: 'eval' },
      DEFAULT_LIMITS,
      ctx({ downloadDir: join(tmp, 'dl2') }),
    );
    expect(run.source).toBe(`${runRoot}/eval`);
    expect(run.images.map((i) => [i.path, i.bytes.toString()])).toEqual([
      ['cat/a.png', 'run cat'],
      ['dog/a.png', 'run dog'],
    ]);
  });

  it('fails clearly when the version has no run for run-artifacts', async () => {
    await expect(
      loadGoldenSet({ from: 'run-artifacts', path: 'eval' }, DEFAULT_LIMITS, ctx({ runId: undefined })),
    ).rejects.toThrow(
      /needs the version to have a run \(run_id\): register from a run, or use from: model-artifacts/,
    );
  });
  it('fails clearly when a golden set in MLflow has no MLflow or no registered version to read it from', async () => {
    await expect(
      loadGoldenSet({ from: 'model-artifacts', path: 'golden' }, DEFAULT_LIMITS, ctx({ client: undefined })),
    ).rejects.toThrow(/^a golden set in model-artifacts needs MLflow \(set MLFLOW_TRACKING_URI\)$/);
    await expect(
      loadGoldenSet(
        { from: 'model-artifacts', path: 'golden' },
        DEFAULT_LIMITS,
        ctx({ modelLocation: undefined }),
      ),
    ).rejects.toThrow(
      /^evaluation.goldenSet from model-artifacts needs a registered version \(--name\/--version\)$/,
    );
  });

  it("reads below a run's artifact root given with trailing slashes", async () => {
    fake.runs.get(runId)!.artifact_uri = `${runRoot}//`;
    const run = await loadGoldenSet({ from: 'run-artifacts', path: 'eval' }, DEFAULT_LIMITS, ctx());
    expect(run.source).toBe(`${runRoot}/eval`);
    expect(run.images.map((i) => i.path)).toEqual(['cat/a.png', 'dog/a.png']);
  });

  it('fails when the run keeps its artifacts outside the MLflow artifact proxy', async () => {
    fake.runs.get(runId)!.artifact_uri = 's3://bucket/1/run/artifacts';
    await expect(
      loadGoldenSet({ from: 'run-artifacts', path: 'eval' }, DEFAULT_LIMITS, ctx()),
    ).rejects.toThrow(
      "the run's artifacts are at 's3://bucket/1/run/artifacts', not behind the MLflow artifact proxy " +
        '(mlflow-artifacts:): run the server with --serve-artifacts',
    );
  });
});
