import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeMlflow } from '../support/fake-mlflow';
import { meanColourModel, registeredDigests, registerInFake, tinyModel, writeModel } from '../support/models';
import { REPO_ROOT, createTempRepo, setEvaluationPolicy, type TempRepo } from '../support/repo';
import { runCli, type CliRun } from '../support/cli-process';

const GOLDEN = join(REPO_ROOT, 'charts', 'golden-sets', 'default');
/** What the promotion gate says about a model declared 'logits' whose output is a Softmax. */
const PROBABILITIES_AS_LOGITS =
  "validation gate: output 'scores' is declared 'logits' but on every sample image its values are " +
  'probabilities (in [0, 1], summing to 1): the service would apply softmax to them again; set ' +
  "output.kind to 'probabilities' in the model_gitops metadata";

/** `model-gitops evaluate` as a user runs it (a process, under tsx). */
describe('model-gitops evaluate', () => {
  let tmp: string;
  let fake: FakeMlflow;
  let repo: TempRepo;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'evaluate-cli-'));
    fake = await FakeMlflow.start();
    writeModel(join(tmp, 'good'), tinyModel(1));
    writeModel(join(tmp, 'worse'), tinyModel(2, { redThreshold: 0.5 }));
    // Right on every golden image, but the service would apply softmax to its probabilities a second time.
    writeModel(join(tmp, 'softmax'), meanColourModel('softmax', 'logits'));
    await registerInFake(fake, join(tmp, 'good'), 'm');
    await registerInFake(fake, join(tmp, 'worse'), 'm');
    await registerInFake(fake, join(tmp, 'softmax'), 'm');
    const runId = [...fake.runs.keys()][0] as string;
    repo = createTempRepo(join(tmp, 'repos'), {
      name: 'm',
      version: '1',
      ...registeredDigests(fake, 'm', '1'),
      source: `mlflow-artifacts:/1/${runId}/artifacts/model`,
    });
    setEvaluationPolicy(repo.root, 'staging', { minAccuracy: 0.8, minRecall: 0.7, minAgreement: null });
  });
  afterAll(async () => {
    await fake.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const cli = (args: string[], env: Record<string, string> = {}): Promise<CliRun> =>
    runCli(['evaluate', ...args], { cwd: repo.root, env: { PATH: process.env.PATH ?? '', ...env } });

  it('prints accuracy 0..1, samples and per-class recall as JSON for a model directory and a golden directory', async () => {
    const r = await cli(['--model-dir', join(tmp, 'worse'), '--golden', GOLDEN, '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({
      accuracy: 0.875,
      samples: 16,
      perClass: [
        { index: 0, label: 'cat', count: 8, correct: 6, recall: 0.75 },
        { index: 1, label: 'dog', count: 8, correct: 8, recall: 1 },
      ],
      confusion: [
        [6, 2],
        [0, 8],
      ],
    });
    expect(report.goldenSet.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it("judges a registered version exactly as promote would with --env: the environment's thresholds and champion", async () => {
    const r = await cli(['--name', 'm', '--version', '2', '--env', 'staging'], {
      MLFLOW_TRACKING_URI: fake.url,
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^validation gate: passed on 5 sample images /);
    expect(r.stdout).toMatch(/class +images +challenger recall +champion recall/);
    expect(r.stdout).toMatch(/cat \(#0\) +8 +75\.0 % \(6\/8\) +100\.0 % \(8\/8\)/);
    expect(r.stdout).toContain('verdict: failed');
    expect(r.stdout).toContain(
      '  - accuracy drops by 12.5 % against the champion (100.0 % → 87.5 %), more than maxAccuracyDrop 2.0 %',
    );
  });

  it("prints the gate's line and then the same report as before for a model the gate passes", async () => {
    const text = await cli(['--model-dir', join(tmp, 'good'), '--golden', GOLDEN]);
    expect(text.code).toBe(0);
    const [gate, ...report] = text.stdout.split('\n');
    expect(gate).toMatch(
      /^validation gate: passed on 5 sample images \(median [0-9.]+ ms\/image, max [0-9.]+ ms\)$/,
    );
    expect(report).toEqual([
      `golden set ${GOLDEN} (sha256 6ff9c711d364cdc7330b921550b01a30af0e73676590c227887523f7afeb4d41, 16 images)`,
      '  class     images  recall',
      '  cat (#0)  8       100.0 % (8/8)',
      '  dog (#1)  8       100.0 % (8/8)',
      '  accuracy  16      100.0 % (16/16)',
      '',
    ]);
    const json = await cli(['--model-dir', join(tmp, 'good'), '--golden', GOLDEN, '--json']);
    expect(json.code).toBe(0);
    const { gate: gateJson, ...rest } = JSON.parse(json.stdout);
    expect(gateJson).toStrictEqual({
      passed: true,
      samples: 5,
      medianMs: expect.any(Number),
      maxMs: expect.any(Number),
    });
    expect(Object.keys(rest)).toEqual([
      'goldenSet',
      'labels',
      'accuracy',
      'samples',
      'correct',
      'perClass',
      'confusion',
    ]);
    expect(rest).toMatchObject({ accuracy: 1, samples: 16, correct: 16 });
  });

  it("fails with the gate's message when the output declared 'logits' is probabilities, however well it scores", async () => {
    const text = await cli(['--model-dir', join(tmp, 'softmax'), '--golden', GOLDEN]);
    expect(text.code).toBe(1);
    expect(text.stdout).toBe(
      "verdict: failed (the gate's structural checks refused the model; the golden set was not evaluated)\n" +
        `  - ${PROBABILITIES_AS_LOGITS}\n`,
    );
    const json = await cli(['--model-dir', join(tmp, 'softmax'), '--golden', GOLDEN, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toStrictEqual({
      gate: { passed: false, message: PROBABILITIES_AS_LOGITS },
    });
  });

  it("fails the environment's verdict with the gate's message, as promote would refuse the version", async () => {
    const r = await cli(['--name', 'm', '--version', '3', '--env', 'staging', '--json'], {
      MLFLOW_TRACKING_URI: fake.url,
    });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toStrictEqual({
      gate: { passed: false, message: PROBABILITIES_AS_LOGITS },
      verdict: { passed: false, failures: [{ threshold: 'gate', message: PROBABILITIES_AS_LOGITS }] },
    });
  });

  it('fails with a usage error when neither or both model sources are given', async () => {
    const r = await cli(['--golden', GOLDEN]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pass either --model-dir DIR or --name N --version V');
  });
});
