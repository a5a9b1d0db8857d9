import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  RelayConfigError,
  RelayEnvSchema,
  MLFLOW_DELIVERY_TIMEOUT_MS,
  dispatchBudgetMs,
  loadRelayConfig,
  relayDefault,
} from '../src/relay/config';

const REQUIRED = {
  MLFLOW_WEBHOOK_SECRET: 'a-long-webhook-secret-value',
  GITHUB_TOKEN: 'ghp_exampleTokenValue',
  GITHUB_REPOSITORY: 'acme/cats-dogs',
};

function configError(env: Record<string, string | undefined>): string {
  try {
    loadRelayConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(RelayConfigError);
    return (err as Error).message;
  }
  throw new Error('expected loadRelayConfig to fail');
}

describe('loadRelayConfig', () => {
  test('applies a default to every optional variable', () => {
    expect(loadRelayConfig(REQUIRED)).toEqual({
      ...REQUIRED,
      GITHUB_API_URL: 'https://api.github.com',
      RELAY_MODEL_NAME: 'cats-dogs-classifier',
      RELAY_ALIAS_ENVIRONMENTS: new Map([
        ['production', 'production'],
        ['staging', 'staging'],
      ]),
      PORT: 8080,
      HOST: '0.0.0.0',
      LOG_LEVEL: 'info',
      RELAY_MAX_BODY_BYTES: 65536,
      RELAY_REPLAY_WINDOW_SECONDS: 300,
      RELAY_MAX_CLOCK_SKEW_SECONDS: 60,
      RELAY_DISPATCH_ATTEMPTS: 3,
      RELAY_DISPATCH_TIMEOUT_MS: 8000,
      RELAY_DISPATCH_BACKOFF_MS: 500,
    });
  });

  test('relayDefault writes a default as it would be set, and fails for a required variable', () => {
    expect(relayDefault('PORT')).toBe('8080');
    expect(relayDefault('RELAY_ALIAS_ENVIRONMENTS')).toBe('production=production,staging=staging');
    expect(relayDefault('GITHUB_API_URL')).toBe('https://api.github.com');
    expect(() => relayDefault('GITHUB_TOKEN')).toThrow();
  });

  test('empty optional variables mean unset; a trailing slash on the API URL is dropped', () => {
    const config = loadRelayConfig({
      ...REQUIRED,
      PORT: '',
      GITHUB_API_URL: 'https://ghe.example.com/api/v3/',
    });
    expect(config.PORT).toBe(8080);
    expect(config.GITHUB_API_URL).toBe('https://ghe.example.com/api/v3');
  });

  test('parses an alias map with spaces and several aliases per environment', () => {
    const config = loadRelayConfig({
      ...REQUIRED,
      RELAY_ALIAS_ENVIRONMENTS: ' champion = production , rc=staging',
    });
    expect(config.RELAY_ALIAS_ENVIRONMENTS.get('champion')).toBe('production');
    expect(config.RELAY_ALIAS_ENVIRONMENTS.get('rc')).toBe('staging');
  });

  test('fails naming every missing required variable', () => {
    const message = configError({});
    expect(message).toMatch(/MLFLOW_WEBHOOK_SECRET: is required/);
    expect(message).toMatch(/GITHUB_TOKEN: is required/);
    expect(message).toMatch(/GITHUB_REPOSITORY: is required/);
  });

  test('fails when GITHUB_REPOSITORY is not owner/name, echoing the value', () => {
    expect(configError({ ...REQUIRED, GITHUB_REPOSITORY: 'https://github.com/acme/x' })).toMatch(
      /GITHUB_REPOSITORY: must look like owner\/name.*\(got 'https:\/\/github.com\/acme\/x'\)/,
    );
  });

  test('fails when an alias maps to an unknown environment', () => {
    expect(configError({ ...REQUIRED, RELAY_ALIAS_ENVIRONMENTS: 'production=prod' })).toMatch(
      /RELAY_ALIAS_ENVIRONMENTS: environment 'prod' \(for alias 'production'\) must be one of local, staging, production/,
    );
    expect(configError({ ...REQUIRED, RELAY_ALIAS_ENVIRONMENTS: 'production' })).toMatch(
      /entry 'production' must look like alias=environment/,
    );
    expect(configError({ ...REQUIRED, RELAY_ALIAS_ENVIRONMENTS: 'a=staging,a=production' })).toMatch(
      /mapped twice/,
    );
  });

  test("fails on an alias MLflow would refuse, with MLflow's rule", () => {
    expect(configError({ ...REQUIRED, RELAY_ALIAS_ENVIRONMENTS: 'champion.eu=production' })).toMatch(
      /RELAY_ALIAS_ENVIRONMENTS: alias 'champion.eu' must be an alias: letters, digits, _ and -/,
    );
    expect(configError({ ...REQUIRED, RELAY_ALIAS_ENVIRONMENTS: 'latest=production' })).toMatch(
      /alias 'latest' must not be 'latest': MLflow reserves it/,
    );
  });

  test('fails on out-of-range numbers with the variable and the limit', () => {
    expect(configError({ ...REQUIRED, PORT: '70000' })).toMatch(/PORT: must be ≤ 65535 \(got '70000'\)/);
    expect(configError({ ...REQUIRED, RELAY_DISPATCH_ATTEMPTS: 'three' })).toMatch(
      /RELAY_DISPATCH_ATTEMPTS: must be a whole number/,
    );
  });

  test.each([
    [
      'GITHUB_REPOSITORY',
      '../..',
      "must look like owner/name, e.g. acme/cats-dogs (neither part '.' or '..')",
    ],
    [
      'GITHUB_REPOSITORY',
      'acme/.',
      "must look like owner/name, e.g. acme/cats-dogs (neither part '.' or '..')",
    ],
    ['GITHUB_API_URL', 'https://github.example/api/v3?x=1', 'must have no query or fragment'],
    ['GITHUB_API_URL', 'https://github.example/api/v3#f', 'must have no query or fragment'],
    ['RELAY_MODEL_NAME', ' cats-dogs', 'must be a registered model name'],
    ['HOST', 'nope.invalid', 'must be an IP address, e.g. 0.0.0.0 or ::'],
  ])('fails at start on %s=%j, which would fail every delivery later', (variable, value, message) => {
    expect(configError({ ...REQUIRED, [variable]: value })).toContain(`${variable}: ${message}`);
  });

  test('fails on a token no HTTP header can carry, without echoing it', () => {
    const message = configError({ ...REQUIRED, GITHUB_TOKEN: 'ghp_€uro token' });
    expect(message).toContain('GITHUB_TOKEN: must be printable ASCII without spaces, as GitHub tokens are');
    expect(message).not.toContain('€uro');
  });

  test("fails when the dispatch's tries may outlast MLflow's 30 s delivery timeout, and accepts the defaults", () => {
    expect(configError({ ...REQUIRED, RELAY_DISPATCH_TIMEOUT_MS: '10000' })).toContain(
      "RELAY_DISPATCH_TIMEOUT_MS: with RELAY_DISPATCH_ATTEMPTS and RELAY_DISPATCH_BACKOFF_MS, a dispatch may take 31500 ms, not under MLflow's 30000 ms delivery timeout",
    );
    expect(dispatchBudgetMs(loadRelayConfig(REQUIRED))).toBe(3 * 8000 + 500 + 1000);
  });

  test('fails on a short webhook secret without echoing the secret', () => {
    const message = configError({ ...REQUIRED, MLFLOW_WEBHOOK_SECRET: 'short-s3cr3t' });
    expect(message).toMatch(/MLFLOW_WEBHOOK_SECRET: must be at least 16 characters/);
    expect(message).not.toContain('short-s3cr3t');
  });

  test('fails on an empty token without printing anything about its value', () => {
    const message = configError({ ...REQUIRED, GITHUB_TOKEN: '' });
    expect(message).toMatch(/GITHUB_TOKEN: must not be empty/);
    expect(message).not.toMatch(/got/);
  });
});

describe('loadRelayConfig: each rule, to the character', () => {
  test('the error names every offending variable on its own line, echoing only non-secret values', () => {
    let err: unknown;
    try {
      loadRelayConfig({ GITHUB_TOKEN: 'ghp_x', PORT: '80a', MLFLOW_WEBHOOK_SECRET: 'short-s3cr3t' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RelayConfigError);
    expect((err as Error).name).toBe('RelayConfigError');
    expect((err as Error).message).toBe(
      [
        'invalid relay configuration:',
        '  MLFLOW_WEBHOOK_SECRET: must be at least 16 characters: use the same long random secret as the MLflow webhook',
        '  GITHUB_REPOSITORY: is required: the repository as owner/name, e.g. acme/cats-dogs',
        "  PORT: must be a whole number (got '80a')",
      ].join('\n'),
    );
  });

  test('numbers may have surrounding spaces and are checked against both limits', () => {
    expect(loadRelayConfig({ ...REQUIRED, PORT: ' 8081 ' }).PORT).toBe(8081);
    expect(loadRelayConfig({ ...REQUIRED, RELAY_MAX_BODY_BYTES: '1048576' }).RELAY_MAX_BODY_BYTES).toBe(
      1048576,
    );
    expect(configError({ ...REQUIRED, RELAY_MAX_BODY_BYTES: '1048577' })).toMatch(
      /RELAY_MAX_BODY_BYTES: must be ≤ 1048576 \(got '1048577'\)/,
    );
    expect(configError({ ...REQUIRED, RELAY_DISPATCH_ATTEMPTS: '0' })).toMatch(
      /RELAY_DISPATCH_ATTEMPTS: must be ≥ 1 \(got '0'\)/,
    );
  });

  test.each(['x3', '3x', '-3', '3.5'])('fails when a number is %s, naming the rule', (value) => {
    expect(configError({ ...REQUIRED, RELAY_DISPATCH_ATTEMPTS: value })).toContain(
      `RELAY_DISPATCH_ATTEMPTS: must be a whole number (got '${value}')`,
    );
  });

  test('empty entries of the alias map are skipped, but some alias must be mapped', () => {
    const config = loadRelayConfig({ ...REQUIRED, RELAY_ALIAS_ENVIRONMENTS: ',production=production,,' });
    expect([...config.RELAY_ALIAS_ENVIRONMENTS]).toEqual([['production', 'production']]);
    expect(configError({ ...REQUIRED, RELAY_ALIAS_ENVIRONMENTS: ' , ' })).toContain(
      'RELAY_ALIAS_ENVIRONMENTS: must map at least one alias, e.g. production=production',
    );
  });

  test.each(['my alias=production', 'production=production2', 'production=staging=local'])(
    'fails when an alias map entry is %s',
    (entry) => {
      expect(configError({ ...REQUIRED, RELAY_ALIAS_ENVIRONMENTS: entry })).toContain(
        `RELAY_ALIAS_ENVIRONMENTS: entry '${entry}' must look like alias=environment, e.g. production=production`,
      );
    },
  );

  test('fails when GITHUB_REPOSITORY has more than owner/name', () => {
    expect(configError({ ...REQUIRED, GITHUB_REPOSITORY: 'acme/cats-dogs/extra' })).toContain(
      "GITHUB_REPOSITORY: must look like owner/name, e.g. acme/cats-dogs (neither part '.' or '..') (got 'acme/cats-dogs/extra')",
    );
  });

  test.each([
    'ftp://ghe.example.com',
    'xhttp://ghe.example.com',
    'httpx://ghe.example.com',
    'api.github.com',
  ])('fails when GITHUB_API_URL is %s', (url) => {
    expect(configError({ ...REQUIRED, GITHUB_API_URL: url })).toContain(
      `GITHUB_API_URL: must be an http(s) URL, e.g. https://api.github.com (got '${url}')`,
    );
  });

  test('an http API URL is allowed to a loopback host only, and every trailing slash is dropped', () => {
    expect(
      loadRelayConfig({ ...REQUIRED, GITHUB_API_URL: 'http://127.0.0.1:9000/api/v3//' }).GITHUB_API_URL,
    ).toBe('http://127.0.0.1:9000/api/v3');
    expect(loadRelayConfig({ ...REQUIRED, GITHUB_API_URL: 'http://localhost:9000' }).GITHUB_API_URL).toBe(
      'http://localhost:9000',
    );
    expect(loadRelayConfig({ ...REQUIRED, GITHUB_API_URL: 'http://[::1]:9000' }).GITHUB_API_URL).toBe(
      'http://[::1]:9000',
    );
    // Anywhere else the token would cross the network in clear text.
    expect(configError({ ...REQUIRED, GITHUB_API_URL: 'http://ghe.example.com/api/v3' })).toContain(
      'GITHUB_API_URL: must be https: the token travels in its Authorization header (http only to a loopback ' +
        "host, for tests) (got 'http://ghe.example.com/api/v3')",
    );
  });

  test.each(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])(
    'LOG_LEVEL %s is a level',
    (level) => {
      expect(loadRelayConfig({ ...REQUIRED, LOG_LEVEL: level }).LOG_LEVEL).toBe(level);
    },
  );

  test('fails on a LOG_LEVEL pino does not have', () => {
    expect(configError({ ...REQUIRED, LOG_LEVEL: 'verbose' })).toMatch(/LOG_LEVEL: .*\(got 'verbose'\)/);
  });

  test('the schema itself refuses an empty model name (loadRelayConfig reads an empty variable as unset)', () => {
    const parsed = RelayEnvSchema.safeParse({ ...REQUIRED, RELAY_MODEL_NAME: '' });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['RELAY_MODEL_NAME', 'must be a registered model name: letters, digits, . _ -'],
    ]);
    expect(loadRelayConfig({ ...REQUIRED, RELAY_MODEL_NAME: '' }).RELAY_MODEL_NAME).toBe(
      'cats-dogs-classifier',
    );
  });
});

describe('the relay Deployment the charts generate', () => {
  // Contract with charts/src/webhook-relay.ts: every variable it sets is one the relay reads, and the
  // resulting configuration is valid (secret values come from a Secret, so stand-ins are used here).
  const file = join(
    __dirname,
    '..',
    '..',
    'dist',
    'production',
    'Deployment.model-gitops-webhook-relay.yaml',
  );
  const deployment = parse(readFileSync(file, 'utf8')) as {
    spec: {
      template: {
        spec: {
          terminationGracePeriodSeconds?: number;
          containers: Array<{
            command?: string[];
            env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
            ports?: Array<{ containerPort: number }>;
            readinessProbe?: { httpGet?: { path: string; port: number } };
          }>;
        };
      };
    };
  };
  const [container] = deployment.spec.template.spec.containers;
  const env = Object.fromEntries(
    (container.env ?? []).map((e) => [
      e.name,
      e.valueFrom ? `stand-in-for-a-secret-value-${e.name}` : e.value,
    ]),
  );

  test('runs the relay command and sets only variables the relay reads', () => {
    expect(container.command?.slice(-1)).toEqual(['relay']);
    expect(Object.keys(env).filter((name) => !(name in RelayEnvSchema.shape))).toEqual([]);
  });

  test('its configuration is valid and it probes the port the relay listens on', () => {
    const config = loadRelayConfig(env);
    expect(container.ports?.map((p) => p.containerPort)).toEqual([config.PORT]);
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/health', port: config.PORT, scheme: 'HTTP' });
    expect(config.RELAY_ALIAS_ENVIRONMENTS.get('production')).toBe('production');
  });

  test('its grace period outlasts the longest wait for deliveries in flight that the relay allows itself', () => {
    // close() waits a dispatch budget and a second; start-up keeps any budget under MLflow's timeout.
    const graceMs = (deployment.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    expect(graceMs).toBeGreaterThan(MLFLOW_DELIVERY_TIMEOUT_MS + 1_000);
    expect(graceMs).toBeGreaterThan(dispatchBudgetMs(loadRelayConfig(env)) + 1_000);
  });
});
