import { randomUUID } from 'node:crypto';
import { loadRelayConfig, type RelayConfig } from '../src/relay/config';
import { createRelayLogger, startRelay, type RunningRelay } from '../src/relay/server';
import { GitHubStandIn, LogCapture, fixtureBody, mlflowHeaders } from './fixtures/webhooks/stand-ins';

const SECRET = 'relay-test-secret-4f9d2c7a';
const TOKEN = 'ghp_relayTestToken0123456789abcdefDONOTLOG';

let github: GitHubStandIn;
let relay: RunningRelay;
let logs: LogCapture;
let clockOffsetMs = 0;

async function startWith(
  overrides: Record<string, string> = {},
  maxRememberedDeliveries?: number,
): Promise<void> {
  const config: RelayConfig = loadRelayConfig({
    MLFLOW_WEBHOOK_SECRET: SECRET,
    GITHUB_TOKEN: TOKEN,
    GITHUB_REPOSITORY: 'acme/cats-dogs',
    GITHUB_API_URL: `${github.url}/api/v3/`,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'debug',
    RELAY_DISPATCH_BACKOFF_MS: '0',
    RELAY_DISPATCH_TIMEOUT_MS: '2000',
    ...overrides,
  });
  logs = new LogCapture();
  relay = await startRelay(config, createRelayLogger(config.LOG_LEVEL, logs), {
    now: () => Date.now() + clockOffsetMs,
    maxRememberedDeliveries,
  });
}

beforeEach(async () => {
  clockOffsetMs = 0;
  github = await GitHubStandIn.start();
  await startWith();
});

afterEach(async () => {
  await relay.close(1000);
  await github.close();
});

/** POSTs a delivery to the relay; `headers` replaces the signed MLflow headers when given. */
async function deliver(
  body: Buffer,
  options: { deliveryId?: string; headers?: Record<string, string>; timestamp?: number } = {},
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const headers =
    options.headers ?? mlflowHeaders(SECRET, body, options.deliveryId ?? randomUUID(), options.timestamp);
  const response = await fetch(`${relay.url}/webhooks/mlflow`, { method: 'POST', headers, body });
  return {
    status: response.status,
    json: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

async function metricsText(): Promise<string> {
  return (await fetch(`${relay.url}/metrics`)).text();
}

describe('relay: promoting deliveries', () => {
  test('a signed alias.created for a mapped alias dispatches model-promotion to GitHub and answers 202', async () => {
    const deliveryId = randomUUID();
    const res = await deliver(fixtureBody('alias-created-production'), { deliveryId });

    expect(res.status).toBe(202);
    expect(res.json).toEqual({
      dispatched: {
        environment: 'production',
        model: 'cats-dogs-classifier',
        version: '4',
        alias: 'production',
      },
    });
    expect(github.requests).toHaveLength(1);
    const [call] = github.requests;
    expect(call.method).toBe('POST');
    expect(call.url).toBe('/api/v3/repos/acme/cats-dogs/dispatches');
    expect(call.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(call.headers.accept).toBe('application/vnd.github+json');
    expect(call.headers['x-github-api-version']).toBe('2022-11-28');
    expect(JSON.parse(call.body)).toEqual({
      event_type: 'model-promotion',
      client_payload: {
        environment: 'production',
        model: 'cats-dogs-classifier',
        version: '4',
        alias: 'production',
        delivery_id: deliveryId,
      },
    });
    expect(await metricsText()).toMatch(/relay_deliveries_total\{outcome="dispatched"\} 1/);
    expect(await metricsText()).toMatch(/relay_dispatch_duration_seconds_count\{result="success"\} 1/);
  });

  test('the alias mapping decides the environment', async () => {
    await relay.close(1000);
    await startWith({ RELAY_ALIAS_ENVIRONMENTS: 'champion=production, production=staging' });
    const res = await deliver(fixtureBody('alias-created-production'));
    expect(res.status).toBe(202);
    expect(JSON.parse(github.requests[0].body).client_payload.environment).toBe('staging');
  });

  test('a duplicate delivery (MLflow retry with the same id) is dispatched once', async () => {
    const body = fixtureBody('alias-created-production');
    const headers = mlflowHeaders(SECRET, body, randomUUID());
    const first = await deliver(body, { headers });
    const second = await deliver(body, { headers });

    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    expect(second.json).toEqual({ duplicate: true });
    expect(github.requests).toHaveLength(1);
    expect(await metricsText()).toMatch(/relay_deliveries_total\{outcome="duplicate"\} 1/);
  });

  test('concurrent copies of one delivery dispatch once; the other copy is told to retry', async () => {
    const body = fixtureBody('alias-created-production');
    const headers = mlflowHeaders(SECRET, body, randomUUID());
    const results = await Promise.all([deliver(body, { headers }), deliver(body, { headers })]);
    const statuses = results.map((r) => r.status).sort();

    expect(github.requests).toHaveLength(1);
    expect(statuses).toContain(202);
    expect([
      [202, 503],
      [200, 202],
    ]).toContainEqual(statuses);
  });
});

describe('relay: deliveries that are ignored (200, no dispatch)', () => {
  test.each([
    ['alias-created-unmapped', /alias 'challenger' is not mapped to an environment/],
    ['alias-created-other-model', /model 'example_model' is not relayed/],
    ['alias-deleted', /alias 'staging' was deleted/],
    ['model-version-created', /event 'model_version\.created' does not promote/],
    ['tag-set', /event 'model_version_tag\.set' does not promote/],
  ])('%s is ignored with a reason', async (fixture, reason) => {
    const res = await deliver(fixtureBody(fixture));
    expect(res.status).toBe(200);
    expect(res.json.ignored).toMatch(reason);
    expect(github.requests).toHaveLength(0);
  });
});

describe('relay: deliveries that are refused', () => {
  test('fails when the signature was made with another secret (401, no dispatch)', async () => {
    const body = fixtureBody('alias-created-production');
    const res = await deliver(body, {
      headers: mlflowHeaders('some-other-secret-value', body, randomUUID()),
    });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({
      error: { code: 'signature_invalid', message: expect.stringContaining('MLFLOW_WEBHOOK_SECRET') },
    });
    expect(github.requests).toHaveLength(0);
    expect(await metricsText()).toMatch(/relay_deliveries_total\{outcome="unauthorized"\} 1/);
  });

  test('fails when the body was altered after signing', async () => {
    const body = fixtureBody('alias-created-production');
    const headers = mlflowHeaders(SECRET, body, randomUUID());
    const tampered = Buffer.from(body.toString('utf8').replace('"version": "4"', '"version": "5"'));
    const res = await deliver(tampered, { headers });
    expect(res.status).toBe(401);
    expect(github.requests).toHaveLength(0);
  });

  test('fails when the signature is truncated or not v1 (length-safe comparison)', async () => {
    const body = fixtureBody('alias-created-production');
    const headers = mlflowHeaders(SECRET, body, randomUUID());
    for (const signature of [
      headers['x-mlflow-signature'].slice(0, -4),
      'v0,' + headers['x-mlflow-signature'].slice(3),
      'v1,',
    ]) {
      const res = await deliver(body, { headers: { ...headers, 'x-mlflow-signature': signature } });
      expect(res.status).toBe(401);
    }
    expect(github.requests).toHaveLength(0);
  });

  test('fails when the signature header is missing (a webhook created without a secret)', async () => {
    const body = fixtureBody('alias-created-production');
    const headers = mlflowHeaders(SECRET, body, randomUUID());
    delete headers['x-mlflow-signature'];
    const res = await deliver(body, { headers });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({
      error: { code: 'signature_missing', message: expect.stringContaining('secret') },
    });
    expect(github.requests).toHaveLength(0);
  });

  test('fails when the delivery id or timestamp header is missing or malformed', async () => {
    const body = fixtureBody('alias-created-production');
    const headers = mlflowHeaders(SECRET, body, randomUUID());
    const noId = await deliver(body, { headers: { ...headers, 'x-mlflow-delivery-id': '' } });
    const badTs = await deliver(body, {
      headers: { ...headers, 'x-mlflow-timestamp': '2026-11-20T09:15:42Z' },
    });
    expect(noId.status).toBe(400);
    expect(noId.json).toMatchObject({
      error: { code: 'invalid_header', message: expect.stringContaining('X-MLflow-Delivery-Id') },
    });
    expect(badTs.status).toBe(400);
    expect(badTs.json).toMatchObject({ error: { message: expect.stringContaining('X-MLflow-Timestamp') } });
    expect(github.requests).toHaveLength(0);
  });

  test('fails when the timestamp is older than the five-minute replay window, even if correctly signed', async () => {
    const body = fixtureBody('alias-created-production');
    const res = await deliver(body, { timestamp: Math.floor(Date.now() / 1000) - 301 });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({
      error: { code: 'timestamp_expired', message: expect.stringMatching(/older than 300 s/) },
    });
    expect(github.requests).toHaveLength(0);
    expect(await metricsText()).toMatch(/relay_deliveries_total\{outcome="stale"\} 1/);
  });

  test('a delivery 4 minutes old is still accepted', async () => {
    const res = await deliver(fixtureBody('alias-created-production'), {
      timestamp: Math.floor(Date.now() / 1000) - 240,
    });
    expect(res.status).toBe(202);
  });

  test('fails when the timestamp is too far in the future', async () => {
    const res = await deliver(fixtureBody('alias-created-production'), {
      timestamp: Math.floor(Date.now() / 1000) + 3600,
    });
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ error: { code: 'timestamp_in_future' } });
    expect(github.requests).toHaveLength(0);
  });

  test('a delivery replayed after its id was forgotten is refused as stale', async () => {
    const body = fixtureBody('alias-created-production');
    const headers = mlflowHeaders(SECRET, body, randomUUID());
    expect((await deliver(body, { headers })).status).toBe(202);
    clockOffsetMs = 60 * 60 * 1000; // an hour later: the de-duplication entry has expired
    const replay = await deliver(body, { headers });
    expect(replay.status).toBe(401);
    expect(github.requests).toHaveLength(1);
  });

  test('fails with 503 + Retry-After, rather than forgetting an id early, when the de-duplication log is full', async () => {
    await relay.close(1000);
    await startWith({}, 2);
    expect((await deliver(fixtureBody('tag-set'))).status).toBe(200);
    expect((await deliver(fixtureBody('tag-set'))).status).toBe(200);
    const full = await deliver(fixtureBody('alias-created-production'));
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBe('60');
    expect(full.json).toMatchObject({ error: { code: 'overloaded' } });
    expect(github.requests).toHaveLength(0);
    clockOffsetMs = 60 * 60 * 1000; // the remembered ids expire; a fresh delivery goes through
    const later = await deliver(fixtureBody('alias-created-production'), {
      timestamp: Math.floor((Date.now() + clockOffsetMs) / 1000),
    });
    expect(later.status).toBe(202);
  });

  test('fails with 413 when the body exceeds the cap, before any dispatch', async () => {
    const body = Buffer.alloc(64 * 1024 + 1, 'a');
    const res = await deliver(body);
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ error: { code: 'payload_too_large' } });
    expect(github.requests).toHaveLength(0);
    expect(await metricsText()).toMatch(/relay_deliveries_total\{outcome="too_large"\} 1/);
  });

  test('fails with 400 on a correctly signed body that is not JSON', async () => {
    const res = await deliver(Buffer.from('{"entity": "model_version_alias", "action": '));
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'malformed_json' } });
    expect(github.requests).toHaveLength(0);
  });

  test('fails with 400 naming the field when the payload does not have the MLflow shape', async () => {
    const numeric = await deliver(fixtureBody('alias-created-numeric-version'));
    expect(numeric.status).toBe(400);
    expect(numeric.json).toMatchObject({
      error: { code: 'invalid_payload', message: expect.stringContaining("'data.version'") },
    });

    const noData = await deliver(Buffer.from('{"entity": "model_version_alias", "action": "created"}'));
    expect(noData.status).toBe(400);
    expect(noData.json).toMatchObject({ error: { message: expect.stringContaining("'data'") } });
    expect(github.requests).toHaveLength(0);
  });

  test('fails with 415 on a compressed body instead of inflating it', async () => {
    const body = fixtureBody('alias-created-production');
    const headers = { ...mlflowHeaders(SECRET, body, randomUUID()), 'content-encoding': 'gzip' };
    const res = await deliver(body, { headers });
    expect(res.status).toBe(415);
    expect(github.requests).toHaveLength(0);
  });
});

describe('relay: GitHub failures', () => {
  test('GitHub 5xx is retried up to the bound, then the delivery gets 502 and a later retry dispatches', async () => {
    github.statuses.push(502, 503, 500);
    const body = fixtureBody('alias-created-production');
    const headers = mlflowHeaders(SECRET, body, randomUUID());

    const failed = await deliver(body, { headers });
    expect(failed.status).toBe(502);
    expect(failed.json).toEqual({ error: { code: 'dispatch_failed', message: expect.any(String) } });
    expect(github.requests).toHaveLength(3);
    expect(await metricsText()).toMatch(/relay_dispatch_failures_total\{reason="http_500"\} 1/);

    // MLflow retries with the same delivery id: the failed attempt must not count as a duplicate.
    const retried = await deliver(body, { headers });
    expect(retried.status).toBe(202);
    expect(github.requests).toHaveLength(4);
  });

  test('a transient 5xx followed by success dispatches once and answers 202', async () => {
    github.statuses.push(500);
    const res = await deliver(fixtureBody('alias-created-production'));
    expect(res.status).toBe(202);
    expect(github.requests).toHaveLength(2);
  });

  test('GitHub 4xx (bad token, unknown repository) is not retried', async () => {
    github.statuses.push(401);
    const res = await deliver(fixtureBody('alias-created-production'));
    expect(res.status).toBe(502);
    expect(github.requests).toHaveLength(1);
    expect(await metricsText()).toMatch(/relay_dispatch_failures_total\{reason="http_401"\} 1/);
  });

  test('GitHub unreachable gives 502 after the bounded attempts', async () => {
    await github.close();
    const res = await deliver(fixtureBody('alias-created-production'));
    expect(res.status).toBe(502);
    expect(await metricsText()).toMatch(/relay_dispatch_failures_total\{reason="network"\} 1/);
  });
});

describe('relay: operations', () => {
  test('GET /health answers ok and unknown paths answer JSON 404', async () => {
    const health = await fetch(`${relay.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const missing = await fetch(`${relay.url}/webhooks/other`, { method: 'POST', body: '{}' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  test('GET /metrics exposes the relay series and process metrics in Prometheus text format', async () => {
    const res = await fetch(`${relay.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain('# TYPE relay_deliveries_total counter');
    expect(text).toContain('# TYPE relay_dispatch_duration_seconds histogram');
    expect(text).toContain('process_cpu_seconds_total');
  });

  test('the GitHub token and webhook secret never appear in the logs, whatever happens', async () => {
    const body = fixtureBody('alias-created-production');
    await deliver(body); // dispatched
    await deliver(body, { headers: mlflowHeaders('wrong-secret-0123456789', body, randomUUID()) }); // 401
    github.statuses.push(500, 500, 500);
    await deliver(body); // 502 after retries
    github.statuses.push(403);
    await deliver(body); // 502 at once
    await deliver(fixtureBody('tag-set')); // ignored

    const lines = logs.lines;
    expect(lines.some((l) => l.msg === 'delivery dispatched')).toBe(true);
    expect(lines.some((l) => l.msg === 'dispatch failed')).toBe(true);
    expect(lines.some((l) => l.msg === 'relay listening')).toBe(true);
    expect(logs.text).not.toContain(TOKEN);
    expect(logs.text).not.toContain(TOKEN.slice(4, 20));
    expect(logs.text).not.toContain(SECRET);
  });
});
