import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { readContainerEnvironment } from '../../charts/src';
import { buildDefaultModel } from '../../service/src/model/builders';
import { writeMlflowModelDir } from '../../service/src/model/format';
import { sampleImages } from '../src/samples';
import { FakeMlflow } from './support/fake-mlflow';
import { registeredDigests, registerInFake, tinyModel, writeModel } from './support/models';
import { createTempRepo, git, type TempRepo } from './support/repo';
import { startService, type ServiceProcess } from '../../bench/src/harness';
import { runCli, type CliRun } from './support/cli-process';

const NAME = 'cats-dogs-classifier';

/**
 * Issue 4 "Done when": local registry stand-in → register → promote → commit with the new dist/ → the service
 * started from that pin (model-fetch with the init container's own args, the inference container's env from dist/)
 * → smoke passes; then a version whose rollout fails → smoke fails → rollback commit. Every step is the CLI.
 */
describe('end to end: registry → promote → deploy from the pin → smoke → rollback', () => {
  let fake: FakeMlflow;
  let tmp: string;
  let repo: TempRepo;
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    fake = await FakeMlflow.start();
    tmp = mkdtempSync(join(tmpdir(), 'e2e-'));
    writeModel(join(tmp, 'old'), tinyModel(1));
    await registerInFake(fake, join(tmp, 'old'), NAME);
    const old = registeredDigests(fake, NAME, '1');
    repo = createTempRepo(join(tmp, 'repos'), {
      name: NAME,
      version: '1',
      ...old,
      source: `mlflow-artifacts:/1/${[...fake.runs.keys()][0]}/artifacts/model`,
    });
  });
  afterAll(async () => {
    for (const s of services) await s.stop();
    await fake.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  function cli(args: string[], cwd = repo.root): Promise<CliRun> {
    return runCli(args, { cwd, env: { ...process.env, MLFLOW_TRACKING_URI: fake.url } });
  }

  function readDist(file: string): Record<string, unknown> {
    return parse(readFileSync(join(repo.root, 'dist', 'production', file), 'utf8')) as Record<
      string,
      unknown
    >;
  }

  /** Does what the Deployment does: the init container's model-fetch args, then the service with the container's env. */
  async function deployFromDist(into: string): Promise<{ fetch: CliRun; service?: ServiceProcess }> {
    const deployment = readDist(`Deployment.${NAME}.yaml`) as {
      spec: { template: { spec: { initContainers: { name: string; command: string[]; args: string[] }[] } } };
    };
    const init = deployment.spec.template.spec.initContainers.find((c) => c.name === 'model-fetch');
    expect(init?.command).toEqual(['node', '/app/build/pipeline/src/cli.js', 'model-fetch']);
    const args = [...(init?.args ?? [])];
    args[args.indexOf('--dest') + 1] = join(into, 'current');
    args[args.indexOf('--wait-interval-ms') + 1] = '10';
    const fetch = await cli(['model-fetch', ...args], tmp);
    if (fetch.code !== 0) return { fetch };
    // The ConfigMap's settings under the pod template's own env (the pin), as the kubelet assembles them.
    const env = readContainerEnvironment(join(repo.root, 'dist', 'production'));
    const { MODEL_NAME, MODEL_VERSION, MODEL_SHA256, MODEL_FILES } = env;
    const service = await startService({
      env: {
        MODEL_DIR: join(into, 'current'),
        MODEL_NAME: MODEL_NAME ?? '',
        MODEL_VERSION: MODEL_VERSION ?? '',
        MODEL_SHA256: MODEL_SHA256 ?? '',
        MODEL_FILES: MODEL_FILES ?? '',
        DRAIN_DELAY_MS: '0',
        INFERENCE_WORKERS: '1',
      },
      inheritEnv: false,
      readyPath: '/health',
    });
    services.push(service);
    return { fetch, service };
  }

  it('promotes the default model, serves it from the pin, rolls back a version whose rollout fails, then serves a version logged the MLflow way', async () => {
    // Register the default model; the production alias points at it.
    const defaultDir = join(tmp, 'default');
    const defaults = writeModel(defaultDir, buildDefaultModel());
    const registered = await cli([
      'register',
      '--model-dir',
      defaultDir,
      '--name',
      NAME,
      '--alias',
      'production',
    ]);
    expect(registered).toMatchObject({ code: 0, stdout: '2\n' });

    // Promote: one pushed commit with the new pin and dist/.
    const promoted = await cli(['promote', '--env', 'production', '--push']);
    expect(promoted.stderr).toContain('gate passed');
    expect(promoted.code).toBe(0);
    expect(git(repo.root, 'log', '-1', '--format=%(trailers:key=Model-Promotion,valueonly)')).toBe(
      'production cats-dogs-classifier 1->2',
    );
    expect(git(repo.remote, 'rev-parse', 'main')).toBe(git(repo.root, 'rev-parse', 'HEAD'));
    // The pin is in the pod template; the ConfigMap every ReplicaSet shares holds settings and stays as it was.
    const changed = git(repo.root, 'show', '--name-only', '--format=', 'HEAD').split('\n');
    expect(changed).toEqual(
      expect.arrayContaining([
        `dist/production/Deployment.${NAME}.yaml`,
        'charts/environments/production.evaluation.json',
      ]),
    );
    expect(changed).not.toContain(`dist/production/ConfigMap.${NAME}.yaml`);
    expect(readContainerEnvironment(join(repo.root, 'dist', 'production'))).toMatchObject({
      MODEL_VERSION: '2',
      MODEL_SHA256: defaults.sha256,
    });

    // Deploy from the pin and smoke it.
    const v2 = await deployFromDist(join(tmp, 'pod-v2'));
    expect(v2.fetch.code).toBe(0);
    const smoke2 = await cli([
      'smoke',
      '--url',
      v2.service!.url,
      '--expect-version',
      '2',
      '--ready-interval-ms',
      '200',
      '--evidence',
      'charts/environments/production.evaluation.json',
    ]);
    // ready, model, 5 sample images, 8 golden images with the answers the gate computed.
    expect(smoke2.stdout).toContain('PASS golden dog/dog-04.png: dog');
    expect(smoke2.stdout).toContain('smoke: PASS (15/15 checks passed)');
    expect(smoke2.code).toBe(0);

    // A bad version: promoted, but its artifact is replaced in the store afterwards, so the new pods' model-fetch
    // fails the checksum; the old pods keep serving version 2 and the smoke test for version 3 fails.
    const badDir = join(tmp, 'bad');
    writeModel(badDir, tinyModel(5));
    expect(
      (await cli(['register', '--model-dir', badDir, '--name', NAME, '--alias', 'production'])).stdout,
    ).toBe('3\n');
    expect((await cli(['promote', '--env', 'production', '--push'])).code).toBe(0);
    for (const [key] of fake.artifacts) {
      if (
        key.endsWith('model.onnx') &&
        fake.artifacts.get(key)?.equals(readFileSync(join(badDir, 'model.onnx')))
      ) {
        fake.artifacts.set(key, Buffer.from('tampered'));
      }
    }
    const v3 = await deployFromDist(join(tmp, 'pod-v3'));
    expect(v3.fetch.code).toBe(1);
    expect(v3.fetch.stderr).toMatch(
      /model.onnx of cats-dogs-classifier version 3 has sha256 [0-9a-f]{64} but the pin expects/,
    );
    const smoke3 = await cli([
      'smoke',
      '--url',
      v2.service!.url,
      '--expect-version',
      '3',
      '--ready-attempts',
      '1',
    ]);
    expect(smoke3.code).toBe(1);
    expect(smoke3.stdout).toContain('FAIL model: cats-dogs-classifier version 2, expected 3');

    // Roll back: a pushed commit that brings the pin and dist/ back to version 2.
    const rolledBack = await cli(['rollback', '--env', 'production', '--push']);
    expect(rolledBack.code).toBe(0);
    expect(git(repo.root, 'log', '-1', '--format=%s')).toBe(
      'rollback(production): cats-dogs-classifier 3 -> 2',
    );
    expect(git(repo.remote, 'rev-parse', 'main')).toBe(git(repo.root, 'rev-parse', 'HEAD'));
    expect(git(repo.root, 'diff', 'HEAD~2', 'HEAD', '--stat')).toBe('');
    // The rollback brought the gate's evidence of version 2 back with the pin.
    const smokeAfter = await cli([
      'smoke',
      '--url',
      v2.service!.url,
      '--expect-version',
      '2',
      '--evidence',
      'charts/environments/production.evaluation.json',
    ]);
    expect(smokeAfter.stdout).toContain('smoke: PASS (15/15 checks passed)');
    expect(smokeAfter.code).toBe(0);

    // Issue 10: a version logged the way a notebook logs it (an MLmodel with the onnx flavor and the metadata
    // block, MLflow 3's models:/ source, no model.json and no model-gitops command) is promoted, fetched from
    // the pin by the init container's own args and served. Its weights are the default model's design with
    // other filler weights: other bytes, the same answers, so it passes the quality gate as well.
    const notebookDir = join(tmp, 'notebook');
    writeMlflowModelDir(notebookDir, buildDefaultModel({ seed: 7 }));
    const logged = fake.logModelVersion(
      NAME,
      {
        MLmodel: readFileSync(join(notebookDir, 'MLmodel')),
        'model.onnx': readFileSync(join(notebookDir, 'model.onnx')),
      },
      'models',
    );
    fake.setAlias(NAME, 'production', logged.version);
    const promotedMlflow = await cli(['promote', '--env', 'production', '--push']);
    expect(promotedMlflow.stderr).toContain('gate passed');
    expect(promotedMlflow.code).toBe(0);
    const v4 = await deployFromDist(join(tmp, 'pod-v4'));
    expect(v4.fetch.code).toBe(0);
    expect(readdirSync(join(tmp, 'pod-v4', 'current')).sort()).toEqual(['MLmodel', 'model.onnx']);
    const smoke4 = await cli(['smoke', '--url', v4.service!.url, '--expect-version', logged.version]);
    expect(smoke4.stdout).toContain('smoke: PASS (7/7 checks passed)');
    const [sample] = await sampleImages();
    const res = await fetch(`${v4.service!.url}/predict`, {
      method: 'POST',
      headers: { 'content-type': sample!.contentType },
      body: sample!.bytes,
    });
    const body = (await res.json()) as { predictions: { label: string; index: number }[] };
    expect(['cat', 'dog'][body.predictions[0]!.index]).toBe(body.predictions[0]!.label);
  }, 240_000);
});
