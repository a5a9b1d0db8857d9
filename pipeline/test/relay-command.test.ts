import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { GitHubStandIn, fixtureBody, mlflowHeaders } from './fixtures/webhooks/stand-ins';

const MAIN = join(__dirname, 'fixtures', 'webhooks', 'relay-main.ts');
const SECRET = 'command-test-secret-77aa01';
const TOKEN = 'ghp_commandTestTokenMustNotLeak';

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  args: string[],
  env: Record<string, string>,
): { child: ChildProcessWithoutNullStreams; done: Promise<Finished> } {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'relay', ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    cwd: join(__dirname, '..', '..'),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const done = new Promise<Finished>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}

/** Waits (bounded) for the relay's "listening" log line and returns its URL. */
async function listeningUrl(child: ChildProcessWithoutNullStreams): Promise<string> {
  let buffered = '';
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start: ${buffered}`)), 20_000);
    child.stdout.on('data', (c: Buffer) => {
      buffered += c.toString('utf8');
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(buffered);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`relay exited before listening: ${buffered}`));
    });
  });
}

describe('model-gitops relay', () => {
  test('--help lists the options, their variables and the environment-only secrets', async () => {
    const { code, stdout } = await run(['--help'], {}).done;
    expect(code).toBe(0);
    expect(stdout).toContain('--port <port>');
    expect(stdout).toContain('env: PORT');
    expect(stdout).toContain('--alias-environments <map>');
    expect(stdout).toContain('MLFLOW_WEBHOOK_SECRET');
    expect(stdout).toContain('POST /webhooks/mlflow');
    // The defaults shown are the configuration's (help wraps lines at the terminal width).
    const text = stdout.replace(/\s+/g, ' ');
    for (const shown of [
      'port to listen on (default 8080)',
      'address to listen on (default 0.0.0.0)',
      'registered model to relay (default cats-dogs-classifier)',
      'alias=environment pairs (default production=production,staging=staging)',
      'GitHub API base URL (default https://api.github.com)',
      'pino log level (default info)',
    ]) {
      expect(text).toContain(shown);
    }
  });

  test('fails at start, naming the variables, when required configuration is missing', async () => {
    const { code, stderr } = await run([], { GITHUB_REPOSITORY: 'acme/cats-dogs' }).done;
    expect(code).toBe(2);
    expect(stderr).toMatch(/invalid relay configuration/);
    expect(stderr).toMatch(/MLFLOW_WEBHOOK_SECRET: is required/);
    expect(stderr).toMatch(/GITHUB_TOKEN: is required/);
  });

  test('a flag overrides its environment variable and is validated the same way', async () => {
    const { code, stderr } = await run(['--alias-environments', 'prod=nowhere'], {
      MLFLOW_WEBHOOK_SECRET: SECRET,
      GITHUB_TOKEN: TOKEN,
      GITHUB_REPOSITORY: 'acme/cats-dogs',
      RELAY_ALIAS_ENVIRONMENTS: 'production=production',
    }).done;
    expect(code).toBe(2);
    expect(stderr).toMatch(/RELAY_ALIAS_ENVIRONMENTS: environment 'nowhere'/);
  });

  test.each([
    ['a short one', 1_500, {}],
    // One try, answered after the relay would once have closed every connection (a fixed 10 s).
    ['one longer than 10 s', 10_500, { RELAY_DISPATCH_ATTEMPTS: '1', RELAY_DISPATCH_TIMEOUT_MS: '12000' }],
  ])(
    'on SIGTERM a delivery whose dispatch is in flight (%s) completes before the process exits 0, so MLflow never delivers it again',
    async (_what, delayMs, settings) => {
      const github = await GitHubStandIn.start();
      github.delayMs = delayMs;
      const { child, done } = run(['--host', '127.0.0.1', '--port', '0'], {
        MLFLOW_WEBHOOK_SECRET: SECRET,
        GITHUB_TOKEN: TOKEN,
        GITHUB_REPOSITORY: 'acme/cats-dogs',
        GITHUB_API_URL: github.url,
        ...settings,
      });
      try {
        const url = await listeningUrl(child);
        const body = fixtureBody('alias-created-production');
        const pending = fetch(`${url}/webhooks/mlflow`, {
          method: 'POST',
          headers: mlflowHeaders(SECRET, body, randomUUID()),
          body,
        });
        // Signal once the relay is waiting on GitHub.
        for (let i = 0; i < 100 && github.inFlight === 0; i++) await new Promise((r) => setTimeout(r, 20));
        child.kill('SIGTERM');
        expect((await pending).status).toBe(202);
        expect(github.requests).toHaveLength(1);
        expect((await done).code).toBe(0);
      } finally {
        child.kill('SIGKILL');
        await github.close();
      }
    },
    30_000,
  );

  test('fails at start with exit 2 naming HOST and PORT when it cannot listen', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const { code, stderr } = await run(['--host', '127.0.0.1', '--port', String(port)], {
        MLFLOW_WEBHOOK_SECRET: SECRET,
        GITHUB_TOKEN: TOKEN,
        GITHUB_REPOSITORY: 'acme/cats-dogs',
      }).done;
      expect(code).toBe(2);
      expect(stderr).toContain(`cannot listen on 127.0.0.1:${port} (HOST, PORT): listen EADDRINUSE`);
    } finally {
      taken.close();
    }
  });

  test('serves deliveries as a real process and exits 0 on SIGTERM', async () => {
    const github = await GitHubStandIn.start();
    const { child, done } = run(['--host', '127.0.0.1', '--port', '0'], {
      MLFLOW_WEBHOOK_SECRET: SECRET,
      GITHUB_TOKEN: TOKEN,
      GITHUB_REPOSITORY: 'acme/cats-dogs',
      GITHUB_API_URL: github.url,
      RELAY_ALIAS_ENVIRONMENTS: 'production=staging',
    });
    try {
      const url = await listeningUrl(child);
      expect((await fetch(`${url}/health`)).status).toBe(200);

      const body = fixtureBody('alias-created-production');
      const res = await fetch(`${url}/webhooks/mlflow`, {
        method: 'POST',
        headers: mlflowHeaders(SECRET, body, randomUUID()),
        body,
      });
      expect(res.status).toBe(202);
      expect(github.requests).toHaveLength(1);
      expect(JSON.parse(github.requests[0].body).client_payload).toMatchObject({
        environment: 'staging',
        version: '4',
      });

      child.kill('SIGTERM');
      const finished = await done;
      expect(finished.code).toBe(0);
      expect(finished.stdout).toContain('relay stopped');
      expect(finished.stdout + finished.stderr).not.toContain(TOKEN);
      expect(finished.stdout + finished.stderr).not.toContain(SECRET);
    } finally {
      child.kill('SIGKILL');
      await github.close();
    }
  });
});
