import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  copyRuntimeFiles,
  runtimeProblems,
  selectRuntimeFiles,
  type PackageLock,
  type RuntimeFile,
} from '../image/runtime-files';
import { noisyJpeg, tempDir, waitFor } from './helpers';

// The same selection service/Dockerfile makes, on this checkout (build/ comes from `npm ci`'s prepare).
const REPO = join(__dirname, '..', '..');
const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as PackageLock;
let files: RuntimeFile[];
beforeAll(() => {
  files = selectRuntimeFiles({ appDir: REPO, nodeModulesDir: join(REPO, 'node_modules') });
});

const paths = (): string[] => files.map((f) => f.to);
const packages = (): string[] =>
  [...new Set(paths().flatMap((p) => /^node_modules\/((@[^/]+\/)?[^/]+)\//.exec(p)?.[1] ?? []))].sort();

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir('runtime-files-')));
afterEach(() => tmp.cleanup());

describe('the image runtime tree', () => {
  test('holds nothing that never runs: no source map, test, doc, dev-only or build-time module', () => {
    expect(runtimeProblems(files, lock)).toEqual([]);
    expect(packages()).toEqual(
      expect.arrayContaining([
        'busboy',
        'commander',
        'express',
        'onnx-proto',
        'onnxruntime-node',
        'pino',
        'sharp',
        'yaml',
        'zod',
      ]),
    );
    for (const absent of ['cdk8s', 'cdk8s-plus-28', 'constructs', 'adm-zip', 'global-agent', 'tsx']) {
      expect(packages()).not.toContain(absent);
    }
  });

  test('holds the service, the CLI, the default model and only this platform’s ONNX Runtime binaries', () => {
    expect(paths()).toEqual(
      expect.arrayContaining([
        'build/service/src/server.js',
        'build/service/src/inference/worker.js',
        'build/pipeline/src/cli.js',
        'build/pipeline/src/relay/server.js',
        'service/models/default/model.onnx',
        // A directory named like a doc folder deep inside a package is code (the YAML parser's), not docs.
        'node_modules/yaml/dist/doc/directives.js',
        `node_modules/onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding.node`,
      ]),
    );
    const ortBinaries = paths().filter((p) => p.startsWith('node_modules/onnxruntime-node/bin/'));
    expect(ortBinaries.every((p) => p.includes(`/${process.platform}/${process.arch}/`))).toBe(true);
    // A budget, not a measurement: the tree was 83 MiB (45 MiB of it ONNX Runtime) on linux-x64.
    const mib = files.reduce((sum, f) => sum + f.bytes, 0) / 2 ** 20;
    expect(mib).toBeLessThan(100);
  });

  test('fails when a dev-only module, a source map, a test or a build-time package reaches the list', () => {
    const leaked = [
      ...files,
      { to: 'node_modules/typescript/lib/tsc.js' },
      { to: 'build/service/src/app.js.map' },
      { to: 'node_modules/pino/test/basic.test.js' },
      { to: 'node_modules/cdk8s/lib/index.js' },
      { to: 'build/bench/src/bench.js' },
    ];
    expect(runtimeProblems(leaked, lock)).toEqual([
      'node_modules/typescript: dev-only package',
      'build/service/src/app.js.map: source map, TypeScript or Markdown',
      'node_modules/pino/test/basic.test.js: test, doc or example directory',
      'node_modules/cdk8s: build-time package',
      'build/bench/src/bench.js: build-time output',
    ]);
  });

  test('runs from a copy of itself: the service serves a prediction and exits 0 on SIGTERM; the CLI starts', async () => {
    const app = join(tmp.dir, 'app');
    const home = join(tmp.dir, 'home');
    mkdirSync(home);
    copyRuntimeFiles(files, app);
    const env = { PATH: process.env.PATH ?? '', HOME: home, HOST: '127.0.0.1', PORT: '0' };
    const child = spawn(process.execPath, ['build/service/src/server.js'], {
      cwd: app,
      env: { ...env, INFERENCE_WORKERS: '1', DRAIN_DELAY_MS: '100' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => out.includes('"msg":"ready"'), 'the service to be ready', 3000);
      const port = (
        JSON.parse(out.split('\n').find((l) => l.includes('"listening"')) ?? '{}') as { port: number }
      ).port;
      const reply = await fetch(`http://127.0.0.1:${port}/predict`, {
        method: 'POST',
        headers: { 'Content-Type': 'image/jpeg' },
        body: new Uint8Array(await noisyJpeg(64, 48)),
      });
      expect(reply.status).toBe(200);
      expect(((await reply.json()) as { predictions: unknown[] }).predictions).toHaveLength(1);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    for (const command of ['model-fetch', 'relay']) {
      const help = spawnSync(process.execPath, ['build/pipeline/src/cli.js', command, '--help'], {
        cwd: app,
        env,
        encoding: 'utf8',
      });
      expect({ command, status: help.status, stderr: help.stderr }).toEqual({
        command,
        status: 0,
        stderr: '',
      });
    }
  }, 120_000);
});
