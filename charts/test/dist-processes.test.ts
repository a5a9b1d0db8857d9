import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICE_NODE_ARGS } from '../../service/src/config';
import { containerEnvironment } from '../src/pod-environment';
import { Json, ofKind, readGenerated, REPO_ROOT } from './support/dist';

// The commands dist/ gives its containers, run for real from the sources (tsx stands in for the image's
// compiled build/): the CLI accepts the init container's arguments, and the relay boots from its env.

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
    const modelDir = join(REPO_ROOT, 'service', 'models', 'default');
    const sha256 = createHash('sha256')
      .update(readFileSync(join(modelDir, 'model.onnx')))
      .digest('hex');
    const port = await freePort();
    // The service's own Node options (as the image's CMD and the bench run it).
    expect(c.command).toEqual(['node', ...SERVICE_NODE_ARGS, '/app/build/service/src/server.js']);
    // The default model stands in for the fetched one: its own digests replace the pin's.
    const modelFiles = readdirSync(modelDir)
      .sort()
      .map(
        (f) =>
          `${f}=${createHash('sha256')
            .update(readFileSync(join(modelDir, f)))
            .digest('hex')}`,
      )
      .join(',');
    const env = {
      PATH: process.env.PATH ?? '',
      ...data,
      MODEL_DIR: modelDir,
      MODEL_SHA256: sha256,
      MODEL_FILES: modelFiles,
    };
    Object.assign(env, { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'error' });
    const { status, stderr } = await startAndPoll(
      [...SERVICE_NODE_ARGS, ...TSX, join(REPO_ROOT, 'service', 'src', 'server.ts')],
      env,
      `http://127.0.0.1:${port}${c.readinessProbe.httpGet.path}`,
    );
    expect({ status, stderr }).toEqual({ status: 200, stderr: '' });
    const model = await fetch(`http://127.0.0.1:${port}/model`);
    expect(model.headers.get('x-model-version')).toBe(data.MODEL_VERSION);
    expect(await model.json()).toMatchObject({ name: data.MODEL_NAME, version: data.MODEL_VERSION });
  });
});
