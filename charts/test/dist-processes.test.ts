import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'cdk8s';
import { SERVICE_NODE_ARGS } from '../../service/src/config';
import { environmentConfigPath, readEnvironmentConfig } from '../src/config/environment-config';
import { ModelPin, modelPinPath, readModelPin } from '../src/config/model-pin';
import { EnvironmentChart } from '../src/environment-chart';
import { containerEnvironment } from '../src/pod-environment';
import { synthObjects } from '../src/synth';
import { Json, ofKind, readGenerated, REPO_ROOT } from './support/dist';

// The commands dist/ gives its containers, run for real from the sources (tsx stands in for the image's
// compiled build/): the CLI accepts the init container's arguments, the relay boots from its env, and the service
// from its environment, also as a pod of an older ReplicaSet after a promotion.

/** `node --import tsx <file>`: one process (the tsx CLI would put a second one between the test and the code). */
const TSX = ['--import', 'tsx'];
const CLI = join(REPO_ROOT, 'pipeline', 'src', 'cli.ts');
/**
 * The image runs `node [node flags] /app/build/pipeline/src/cli.js <command>`; here the same node flags run
 * `tsx pipeline/src/cli.ts <command>`.
 */
const localCommand = (command: string[]) => {
  const cli = command.indexOf('/app/build/pipeline/src/cli.js');
  expect(command[0]).toBe('node');
  expect(cli).toBeGreaterThan(0);
  const nodeFlags = command.slice(1, cli);
  for (const flag of nodeFlags) expect(flag).toMatch(/^--[a-z-]+=\d+$/);
  return [...nodeFlags, ...TSX, CLI, ...command.slice(cli + 1)];
};

const production = readGenerated('dist/production');
const deployment = (name: string): Json =>
  ofKind(production, 'Deployment').find((f) => f.obj.metadata.name === name)!.obj;

const temps: string[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children.filter((c) => c.exitCode === null && c.signalCode === null)) {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  temps.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** Starts a process and polls `url` (bounded) until it answers 200; returns the last status and stderr. */
async function startAndPoll(args: string[], env: Record<string, string>, url: string) {
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let status = 0;
  for (let attempt = 0; attempt < 150 && status !== 200 && child.exitCode === null; attempt++) {
    status = await fetch(url)
      .then((r) => r.status)
      .catch(() => 0);
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { status, stderr };
}

/** The default model: it stands in for the files an init container would have fetched. */
const DEFAULT_MODEL_DIR = join(REPO_ROOT, 'service', 'models', 'default');

/** The sha256 of each file of the default model, by name, as a pin lists them. */
function defaultModelDigests(): Record<string, string> {
  return Object.fromEntries(
    readdirSync(DEFAULT_MODEL_DIR)
      .sort()
      .map((f) => [
        f,
        createHash('sha256')
          .update(readFileSync(join(DEFAULT_MODEL_DIR, f)))
          .digest('hex'),
      ]),
  );
}

/** MODEL_FILES of those digests. */
const pinnedFiles = (files: Record<string, string>) =>
  Object.entries(files)
    .map(([f, sha]) => `${f}=${sha}`)
    .join(',');

/**
 * Boots the service from the sources with `env`, as container `c`'s command runs it (the service's own Node options),
 * on a free port, and polls its readiness probe's path.
 */
async function bootService(c: Json, env: Record<string, string>) {
  const port = await freePort();
  const { status, stderr } = await startAndPoll(
    [...SERVICE_NODE_ARGS, ...TSX, join(REPO_ROOT, 'service', 'src', 'server.ts')],
    { PATH: process.env.PATH ?? '', ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'error' },
    `http://127.0.0.1:${port}${c.readinessProbe.httpGet.path}`,
  );
  return { status, stderr, url: `http://127.0.0.1:${port}` };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('containers of dist/production, run as processes', () => {
  it('model-fetch accepts the init container arguments and fails only because MLflow is unreachable', async () => {
    const init = deployment('cats-dogs-classifier').spec.template.spec.initContainers[0];
    const dest = join(mkdtempSync(join(tmpdir(), 'charts-fetch-')), 'current');
    temps.push(join(dest, '..'));
    const args: string[] = [...init.args];
    args[args.indexOf('--dest') + 1] = dest;
    args[args.indexOf('--wait-attempts') + 1] = '1';
    args[args.indexOf('--wait-interval-ms') + 1] = '0';
    const closedPort = await freePort();
    const result = spawnSync(process.execPath, [...localCommand(init.command), ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, MLFLOW_TRACKING_URI: `http://127.0.0.1:${closedPort}` },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.stderr).not.toMatch(/unknown option|missing required|invalid/i);
    expect(result.stderr).toContain(`MLflow at http://127.0.0.1:${closedPort} is not ready`);
    expect(result.status).toBe(1);
  });

  it('the webhook relay boots from its Deployment env (secrets stubbed) and serves each path its Ingress routes', async () => {
    const c = deployment('model-gitops-webhook-relay').spec.template.spec.containers[0];
    const port = await freePort();
    const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
    for (const e of c.env) env[e.name] = e.value ?? 's'.repeat(32);
    Object.assign(env, { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'error' });
    const { status, stderr } = await startAndPoll(
      localCommand(c.command),
      env,
      `http://127.0.0.1:${port}${c.readinessProbe.httpGet.path}`,
    );
    expect({ status, stderr }).toEqual({ status: 200, stderr: '' });

    // Every path its Ingress routes is one the relay serves (an unsigned delivery: 401, not 404); /metrics exists on
    // the pod for Prometheus, and the Ingress has no route to it.
    const ingress: Json = ofKind(production, 'Ingress').find(
      (f) => f.obj.metadata.name === 'model-gitops-webhook-relay',
    )!.obj;
    const routed: string[] = ingress.spec.rules.flatMap((r: Json) => r.http.paths.map((p: Json) => p.path));
    const answers = await Promise.all(
      routed.map(async (path) => {
        const method = path === c.readinessProbe.httpGet.path ? 'GET' : 'POST';
        const body = method === 'POST' ? '{}' : undefined;
        const res = await fetch(`http://127.0.0.1:${port}${path}`, {
          method,
          body,
          headers: { 'content-type': 'application/json' },
        });
        return `${method} ${path} ${res.status}`;
      }),
    );
    expect(answers).toEqual(['POST /webhooks/mlflow 401', 'GET /health 200']);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
    expect(routed).not.toContain('/metrics');
  });

  it('the service boots from its local environment (default model in place of the fetched one) and reports the pin', async () => {
    const local = readGenerated('dist/local');
    const d: Json = ofKind(local, 'Deployment').find(
      (f) => f.obj.metadata.name === 'cats-dogs-classifier',
    )!.obj;
    const c = d.spec.template.spec.containers[0];
    // The ConfigMap's settings under the pod template's own env, as the kubelet assembles them.
    const data = containerEnvironment(local.map((f) => f.obj));
    // The service's own Node options (as the image's CMD and the bench run it).
    expect(c.command).toEqual(['node', ...SERVICE_NODE_ARGS, '/app/build/service/src/server.js']);
    // The default model stands in for the fetched one: its own digests replace the pin's.
    const files = defaultModelDigests();
    const { status, stderr, url } = await bootService(c, {
      ...data,
      MODEL_DIR: DEFAULT_MODEL_DIR,
      MODEL_SHA256: files['model.onnx']!,
      MODEL_FILES: pinnedFiles(files),
    });
    expect({ status, stderr }).toEqual({ status: 200, stderr: '' });
    const model = await fetch(`${url}/model`);
    expect(model.headers.get('x-model-version')).toBe(data.MODEL_VERSION);
    expect(await model.json()).toMatchObject({ name: data.MODEL_NAME, version: data.MODEL_VERSION });
  });

  it('after a promotion, a new pod of the old ReplicaSet (its own pod template, the promoted ConfigMap) boots and serves its own version', async () => {
    // local synthesized twice by the real chart: pinned to the default model's own digests (the files the old pods'
    // init container fetches), then promoted to version 2. An HPA scale-out, an eviction or an aborted canary
    // scaling the stable ReplicaSet back up starts such a pod while the ConfigMap already has the promoted state.
    const config = readEnvironmentConfig(environmentConfigPath(REPO_ROOT, 'local'));
    const files = defaultModelDigests();
    const before: ModelPin = {
      ...readModelPin(modelPinPath(REPO_ROOT, 'local')),
      version: '1',
      sha256: files['model.onnx']!,
      files,
    };
    const after: ModelPin = {
      ...before,
      version: '2',
      sha256: 'f'.repeat(64),
      files: { ...files, 'model.onnx': 'f'.repeat(64) },
    };
    const synthLocal = (pin: ModelPin) => {
      const app = new App();
      new EnvironmentChart(app, { environment: 'local', config, pin });
      return synthObjects(app);
    };
    const oldPods: Json = synthLocal(before).find(
      (o) => o.kind === 'Deployment' && o.metadata.name === 'cats-dogs-classifier',
    );
    const promotedConfigMaps = synthLocal(after).filter((o) => o.kind === 'ConfigMap');
    const init = oldPods.spec.template.spec.initContainers[0];
    expect(init.args).toEqual(
      expect.arrayContaining(['--version', '1', `model.onnx=${files['model.onnx']}`]),
    );
    const env = containerEnvironment([oldPods, ...promotedConfigMaps]);
    // MODEL_DIR is where that init container writes; the default model stands in for what it fetched.
    expect(env.MODEL_DIR).toBe(init.args[init.args.indexOf('--dest') + 1]);
    const { status, stderr, url } = await bootService(oldPods.spec.template.spec.containers[0], {
      ...env,
      MODEL_DIR: DEFAULT_MODEL_DIR,
    });
    expect({ status, stderr }).toEqual({ status: 200, stderr: '' });
    expect(await (await fetch(`${url}/model`)).json()).toMatchObject({ version: '1' });
  });
});
