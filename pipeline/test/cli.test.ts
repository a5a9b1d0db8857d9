import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import path from 'node:path';
import { buildProgram, main } from '../src/cli';

describe('the model-gitops CLI', () => {
  let out: jest.SpyInstance;
  let err: jest.SpyInstance;
  beforeEach(() => {
    out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });
  afterEach(() => {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = undefined;
  });

  const written = (spy: jest.SpyInstance): string => spy.mock.calls.map((c) => String(c[0])).join('');

  /** The CLI's contract: these commands, in this order (the workflows and the README call them). */
  const COMMANDS = [
    'model-fetch',
    'register',
    'promote',
    'rollback',
    'rollout-status',
    'check',
    'evaluate',
    'smoke',
    'migrate-pins',
    'relay',
  ];

  it('has the commands of the contract', () => {
    expect(buildProgram().commands.map((c) => c.name())).toEqual(COMMANDS);
  });

  it.each(COMMANDS)('prints help for %s and exits 0', async (command) => {
    expect(await main(['node', 'model-gitops', command, '--help'])).toBe(0);
    expect(written(out)).toContain(`Usage: model-gitops ${command} [options]`);
  });

  it('fails with exit code 2 when an option is invalid, naming it and the rule', async () => {
    expect(await main(['node', 'model-gitops', 'promote', '--env', 'prod'])).toBe(2);
    expect(written(err)).toContain("--env must be one of local, staging, production (got 'prod')");
  });

  it('fails with exit code 2 when --version is not a positive integer (MLflow would answer 400)', async () => {
    const sha = 'a'.repeat(64);
    const argv = ['model-fetch', '--name', 'm', '--version', 'v3', '--sha256', sha, '--dest', '/nonexistent'];
    expect(await main(['node', 'model-gitops', ...argv])).toBe(2);
    expect(written(err)).toContain("--version must be a positive integer like 3 (got 'v3')");
  });

  it('fails with exit code 2 when --sha256 is not a sha256 digest, saying how to get one', async () => {
    const argv = [
      'model-fetch',
      '--name',
      'm',
      '--version',
      '3',
      '--sha256',
      'ABC',
      '--dest',
      '/nonexistent',
    ];
    expect(await main(['node', 'model-gitops', ...argv])).toBe(2);
    expect(written(err)).toContain("--sha256 must be 64 lower-case hex characters (e.g. from 'sha256sum");
  });

  it('fails with exit code 2 when --version and --alias are both given', async () => {
    expect(
      await main(['node', 'model-gitops', 'promote', '--env', 'staging', '--version', '2', '--alias', 'x']),
    ).toBe(2);
    expect(written(err)).toMatch(/option '--version <n>' cannot be used with option '--alias <alias>'/);
  });

  it.each([
    [['promote', '--env', 'production', '--alias', ''], "--alias '' must be an alias"],
    [['promote', '--env', 'production', '--alias', 'latest'], "--alias 'latest' must not be 'latest'"],
    [['promote', '--env', 'production', '--stage', ''], '--stage must not be empty'],
    [['promote', '--env', 'production', '--name', ''], "--name '' "],
    [
      ['promote', '--env', 'production', '--name', 'my model'],
      "--name 'my model' must be a registered model name",
    ],
    [['register', '--model-dir', '/m', '--name', 'm', '--alias', 'v3'], "--alias 'v3' must not be v<number>"],
    [
      ['register', '--model-dir', '/m', '--name', 'm', '--alias', 'bad alias'],
      "--alias 'bad alias' must be an alias",
    ],
    [['model-fetch', '--name', '', '--version', '1', '--dest', '/m'], "--name '' "],
    [['evaluate', '--name', ' ', '--version', '1'], '--name must not be empty'],
  ])(
    'fails with exit code 2 before any request when a name is empty or not one MLflow and the pin accept: %j',
    async (argv, message) => {
      expect(await main(['node', 'model-gitops', ...argv])).toBe(2);
      expect(written(err)).toContain(message);
    },
  );

  it('fails with exit code 2 naming --evidence when the evidence file is not in a git checkout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smoke-evidence-'));
    try {
      const file = join(dir, 'production.evaluation.json');
      copyFileSync(
        path.join(__dirname, '..', '..', 'charts', 'environments', 'production.evaluation.json'),
        file,
      );
      const argv = ['smoke', '--url', 'http://127.0.0.1:9', '--expect-version', '1', '--evidence', file];
      expect(await main(['node', 'model-gitops', ...argv])).toBe(2);
      expect(written(err)).toContain(`--evidence ${file}: the file is not in a git checkout`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails with exit code 1 and one line when MLflow is not configured', async () => {
    const saved = process.env.MLFLOW_TRACKING_URI;
    delete process.env.MLFLOW_TRACKING_URI;
    try {
      expect(await main(['node', 'model-gitops', 'check'])).toBe(1);
    } finally {
      if (saved !== undefined) process.env.MLFLOW_TRACKING_URI = saved;
    }
    expect(written(err)).toBe(
      'error: MLFLOW_TRACKING_URI is not set: export MLFLOW_TRACKING_URI=http(s)://<mlflow-host>:<port>\n',
    );
  });

  it('starts model-fetch (the init container) without loading the relay, the gate or the charts', () => {
    // A fresh process: jest's own module registry would hide what the real CLI loads.
    const probe = `
      const { main } = require(${JSON.stringify(path.join(__dirname, '../src/cli.ts'))});
      main(['node', 'model-gitops', 'model-fetch', '--help']).then((code) => {
        const loaded = Object.keys(require.cache);
        const heavy = ['express', 'pino', 'prom-client', 'onnxruntime-node', 'sharp', 'cdk8s'];
        process.stderr.write(JSON.stringify({ code, heavy: heavy.filter((n) => loaded.some((k) => k.includes('/node_modules/' + n + '/'))) }));
      });`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', probe], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(child.stdout).toContain('Usage: model-gitops model-fetch [options]');
    expect(JSON.parse(child.stderr)).toEqual({ code: 0, heavy: [] });
  });
});
