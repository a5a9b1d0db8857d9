import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import type { RelayAppDeps } from '../src/relay/app';
import { loadRelayConfig, type RelayConfig } from '../src/relay/config';
import { createRelayLogger, startRelay, type RunningRelay } from '../src/relay/server';
import { signMlflowDelivery } from '../src/relay/signature';
import { GitHubStandIn, LogCapture, fixtureBody, mlflowHeaders } from './fixtures/webhooks/stand-ins';

const SECRET = 'relay-test-secret-4f9d2c7a';
const TOKEN = 'ghp_relayTestToken0123456789abcdefDONOTLOG';

let github: GitHubStandIn;
let relay: RunningRelay;
let logs: LogCapture;
let clockOffsetMs = 0;
/** When set, the relay's clock stands still at this time (ms since the epoch). */
let frozenNowMs: number | undefined;

async function startWith(
  overrides: Record<string, string> = {},
  deps: Pick<RelayAppDeps, 'maxRememberedDeliveries' | 'dispatch'> = {},
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
    now: () => frozenNowMs ?? Date.now() + clockOffsetMs,
    ...deps,
  });
}

beforeEach(async () => {
  clockOffsetMs = 0;
  frozenNowMs = undefined;
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

/** `relay_deliveries_total{outcome}` now (0 when the series does not exist yet). */
async function deliveries(outcome: string): Promise<number> {
  const match = new RegExp(`^relay_deliveries_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(
    await metricsText(),
  );
  return match ? Number(match[1]) : 0;
}

/** Log lines with this message. */
function logged(msg: string): Array<Record<string, unknown>> {
  return logs.lines.filter((l) => l.msg === msg);
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

  test('the dispatch duration histogram spans 50 ms to MLflow’s 30 s webhook timeout', async () => {
    await deliver(fixtureBody('alias-created-production'));
    const buckets = [
      ...(await metricsText()).matchAll(/^relay_dispatch_duration_seconds_bucket\{le="([^"]+)"/gm),
    ];
    expect(buckets.map((m) => m[1])).toEqual([
      '0.05',
      '0.1',
      '0.25',
      '0.5',
      '1',
      '2.5',
      '5',
      '10',
      '30',
      '+Inf',
    ]);
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
    await startWith({}, { maxRememberedDeliveries: 2 });
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

describe('relay: the MLflow headers', () => {
  test.each([
    ['a character outside the id alphabet first', `/${randomUUID()}`],
    ['a character outside the id alphabet last', `${randomUUID()}/`],
    ['more than 128 characters', 'a'.repeat(129)],
  ])('fails when the delivery id has %s, even if correctly signed', async (_case, deliveryId) => {
    const res = await deliver(fixtureBody('alias-created-production'), { deliveryId });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      error: { code: 'invalid_header', message: 'X-MLflow-Delivery-Id header is missing or malformed' },
    });
    expect(github.requests).toHaveLength(0);
  });

  test('a delivery id of 128 characters from the whole alphabet is accepted', async () => {
    const deliveryId = 'Az09._:-'.repeat(16);
    expect((await deliver(fixtureBody('alias-created-production'), { deliveryId })).status).toBe(202);
    expect(JSON.parse(github.requests[0].body).client_payload.delivery_id).toBe(deliveryId);
  });

  test('fails when the timestamp has a sign, even if correctly signed', async () => {
    const body = fixtureBody('alias-created-production');
    const deliveryId = randomUUID();
    const timestamp = `+${Math.floor(Date.now() / 1000)}`;
    const headers = {
      'content-type': 'application/json',
      'x-mlflow-delivery-id': deliveryId,
      'x-mlflow-timestamp': timestamp,
      'x-mlflow-signature': signMlflowDelivery(SECRET, deliveryId, timestamp, body),
    };
    const res = await deliver(body, { headers });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      error: { code: 'invalid_header', message: 'X-MLflow-Timestamp header is missing or not Unix seconds' },
    });
    expect(github.requests).toHaveLength(0);
  });

  test('refusals for missing or malformed headers count as unauthorized or invalid', async () => {
    const body = fixtureBody('alias-created-production');
    const headers = mlflowHeaders(SECRET, body, randomUUID());
    const unsigned = { ...headers };
    delete unsigned['x-mlflow-signature'];
    await deliver(body, { headers: unsigned });
    await deliver(body, { headers: { ...headers, 'x-mlflow-delivery-id': 'not an id' } });
    await deliver(body, { headers: { ...headers, 'x-mlflow-timestamp': 'yesterday' } });
    expect(await deliveries('unauthorized')).toBe(1);
    expect(await deliveries('invalid')).toBe(2);
  });

  test('refusals on the paths Express routes to the webhook too (trailing slash, other case) are counted', async () => {
    const body = fixtureBody('alias-created-production');
    const headers = { ...mlflowHeaders(SECRET, body, randomUUID()), 'x-mlflow-signature': 'v1,AAAA' };
    for (const path of ['/webhooks/mlflow/', '/Webhooks/MLflow']) {
      const res = await fetch(`${relay.url}${path}`, { method: 'POST', headers, body });
      expect(res.status).toBe(401);
    }
    expect(await deliveries('unauthorized')).toBe(2);
    expect((await fetch(`${relay.url}/webhooks/other`, { method: 'POST', headers, body })).status).toBe(404);
    expect(await deliveries('invalid')).toBe(0);
  });
});

describe('relay: the acceptance window, to the second', () => {
  const nowSeconds = 1_795_180_542;
  beforeEach(() => {
    frozenNowMs = nowSeconds * 1000 + 999;
  });

  test('a delivery exactly RELAY_REPLAY_WINDOW_SECONDS old is accepted, one second more is refused', async () => {
    const body = fixtureBody('alias-created-production');
    expect((await deliver(body, { timestamp: nowSeconds - 300 })).status).toBe(202);
    const late = await deliver(body, { timestamp: nowSeconds - 301 });
    expect(late.status).toBe(401);
    expect(late.json).toEqual({
      error: {
        code: 'timestamp_expired',
        message: 'delivery is 301 s old; deliveries older than 300 s are refused as replays',
      },
    });
  });

  test('a delivery dated RELAY_MAX_CLOCK_SKEW_SECONDS ahead is accepted, one second more is refused', async () => {
    const body = fixtureBody('alias-created-production');
    expect((await deliver(body, { timestamp: nowSeconds + 60 })).status).toBe(202);
    const early = await deliver(body, { timestamp: nowSeconds + 61 });
    expect(early.status).toBe(401);
    expect(early.json).toEqual({
      error: {
        code: 'timestamp_in_future',
        message: 'delivery is dated 61 s in the future (allowed skew 60 s): check the clocks',
      },
    });
    expect(await deliveries('stale')).toBe(1);
  });

  test('delivery ids are remembered for twice the acceptance window, 2 × (300 + 60) s', async () => {
    await relay.close(1000);
    await startWith({}, { maxRememberedDeliveries: 1 });
    expect((await deliver(fixtureBody('tag-set'), { timestamp: nowSeconds })).status).toBe(200);

    const claimedAtMs = nowSeconds * 1000 + 999;
    frozenNowMs = claimedAtMs + 720_000 - 1;
    const full = await deliver(fixtureBody('tag-set'), { timestamp: nowSeconds + 719 });
    expect(full.status).toBe(503);
    expect(full.json).toEqual({
      error: { code: 'overloaded', message: 'too many recent deliveries; retry later' },
    });
    expect(await deliveries('overloaded')).toBe(1);

    frozenNowMs = claimedAtMs + 720_000;
    expect((await deliver(fixtureBody('tag-set'), { timestamp: nowSeconds + 720 })).status).toBe(200);
  });
});

describe('relay: answers, counts and log lines', () => {
  test('a copy of a delivery still being dispatched gets 503 delivery_in_progress with Retry-After 5', async () => {
    github.delayMs = 300;
    const body = fixtureBody('alias-created-production');
    const headers = mlflowHeaders(SECRET, body, randomUUID());
    const first = deliver(body, { headers });
    for (let i = 0; i < 100 && github.inFlight === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const copy = await deliver(body, { headers });
    expect(copy.status).toBe(503);
    expect(copy.headers.get('retry-after')).toBe('5');
    expect(copy.json).toEqual({
      error: { code: 'delivery_in_progress', message: 'this delivery is being processed; retry later' },
    });
    expect((await first).status).toBe(202);
    expect(await deliveries('in_progress')).toBe(1);
    expect(github.requests).toHaveLength(1);
  });

  test('an ignored delivery is remembered too: its retry is a duplicate', async () => {
    const body = fixtureBody('tag-set');
    const headers = mlflowHeaders(SECRET, body, randomUUID());
    expect((await deliver(body, { headers })).status).toBe(200);
    const retry = await deliver(body, { headers });
    expect(retry.status).toBe(200);
    expect(retry.json).toEqual({ duplicate: true });
    expect(await deliveries('ignored')).toBe(1);
    expect(await deliveries('duplicate')).toBe(1);
  });

  test('handled deliveries are logged at info with what was done; refusals are not', async () => {
    const dispatchedId = randomUUID();
    await deliver(fixtureBody('alias-created-production'), { deliveryId: dispatchedId });
    const body = fixtureBody('tag-set');
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = mlflowHeaders(SECRET, body, randomUUID(), timestamp);
    await deliver(body, { headers });
    await deliver(body, { headers });
    await deliver(body, { headers: mlflowHeaders('wrong-secret-0123456789', body, randomUUID()) });

    /** A line without pino's own fields. */
    const pick = (line: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(line).filter(
          ([key]) => !['level', 'time', 'pid', 'hostname', 'service'].includes(key),
        ),
      );
    expect(logged('delivery dispatched').map(pick)).toEqual([
      {
        msg: 'delivery dispatched',
        delivery_id: dispatchedId,
        outcome: 'dispatched',
        environment: 'production',
        model: 'cats-dogs-classifier',
        version: '4',
        alias: 'production',
        attempts: 1,
      },
    ]);
    expect(logged('delivery ignored').map(pick)).toEqual([
      {
        msg: 'delivery ignored',
        delivery_id: headers['x-mlflow-delivery-id'],
        outcome: 'ignored',
        reason: "event 'model_version_tag.set' does not promote a model version",
        timestamp: String(timestamp),
      },
    ]);
    expect(logged('delivery duplicate').map(pick)).toEqual([
      { msg: 'delivery duplicate', delivery_id: headers['x-mlflow-delivery-id'], outcome: 'duplicate' },
    ]);
    expect(logs.lines.filter((l) => l.level === 30).map((l) => l.msg)).toEqual([
      'relay listening',
      'delivery dispatched',
      'delivery ignored',
      'delivery duplicate',
    ]);
  });

  test('a refusal is logged as a warning with its status, code and path; unknown paths are neither logged nor counted', async () => {
    const body = fixtureBody('alias-created-production');
    await deliver(body, { headers: mlflowHeaders('wrong-secret-0123456789', body, randomUUID()) });
    const missing = await fetch(`${relay.url}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      error: { code: 'not_found', message: 'no such endpoint; MLflow must POST to /webhooks/mlflow' },
    });
    expect((await fetch(`${relay.url}/webhooks/other`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect((await fetch(`${relay.url}/webhooks/mlflow`)).status).toBe(404);

    expect(logs.lines.filter((l) => (l.level as number) >= 40)).toEqual([
      expect.objectContaining({
        level: 40,
        status: 401,
        code: 'signature_invalid',
        path: '/webhooks/mlflow',
        msg: 'X-MLflow-Signature does not match: check that MLFLOW_WEBHOOK_SECRET equals the webhook secret',
      }),
    ]);
    expect(await deliveries('unauthorized')).toBe(1);
    expect(await deliveries('invalid')).toBe(0);
  });

  test('responses carry neither X-Powered-By nor an ETag', async () => {
    const health = await fetch(`${relay.url}/health`);
    expect(health.headers.get('x-powered-by')).toBeNull();
    expect(health.headers.get('etag')).toBeNull();
    const res = await deliver(fixtureBody('tag-set'));
    expect(res.headers.get('etag')).toBeNull();
  });

  test('fails with 400 bad_request, counted and logged, when the client drops the connection mid-body', async () => {
    const { hostname, port } = new URL(relay.url);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(
      'POST /webhooks/mlflow HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n' +
        'Content-Length: 1000\r\n\r\n{"entity": "model_version_alias",',
    );
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();
    for (let i = 0; i < 100 && (await deliveries('invalid')) === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await deliveries('invalid')).toBe(1);
    expect(logs.lines.filter((l) => (l.level as number) >= 40)).toEqual([
      expect.objectContaining({
        level: 40,
        status: 400,
        code: 'bad_request',
        path: '/webhooks/mlflow',
        msg: 'the request could not be read',
      }),
    ]);
  });
});

describe('relay: failures of its own', () => {
  test.each([
    ['an Error', new Error('bug in a dispatcher'), { message: 'bug in a dispatcher' }],
    ['an Error with HTTP status 500', Object.assign(new Error('upstream'), { status: 500 }), { status: 500 }],
    ['an Error with HTTP status 302', Object.assign(new Error('moved'), { status: 302 }), { status: 302 }],
    // Express hands a rejection without a reason on as an Error of its own.
    ['nothing', undefined, { message: 'Rejected promise' }],
  ])(
    'a dispatcher that throws %s gives a generic 500, an error log line, and the retry is processed',
    async (_case, thrown, logged) => {
      await relay.close(1000);
      let calls = 0;
      await startWith(
        {},
        {
          dispatch: async () => {
            calls++;
            if (calls === 1) throw thrown;
            return { attempts: 1 };
          },
        },
      );
      const body = fixtureBody('alias-created-production');
      const headers = mlflowHeaders(SECRET, body, randomUUID());
      const res = await deliver(body, { headers });
      expect(res.status).toBe(500);
      expect(res.json).toEqual({ error: { code: 'internal_error', message: 'internal error' } });
      expect(logs.lines.filter((l) => (l.level as number) >= 40)).toEqual([
        expect.objectContaining({ level: 50, msg: 'unexpected error', err: expect.objectContaining(logged) }),
      ]);
      expect(await deliveries('invalid')).toBe(1);
      expect(await deliveries('dispatch_failed')).toBe(0);
      expect((await deliver(body, { headers })).status).toBe(202);
    },
  );

  test('a dispatch GitHub refuses is a 502, counted with its duration and logged with the reason', async () => {
    github.statuses.push(500, 500, 500);
    const deliveryId = randomUUID();
    const res = await deliver(fixtureBody('alias-created-production'), { deliveryId });
    expect(res.json).toEqual({
      error: {
        code: 'dispatch_failed',
        message: 'GitHub did not accept the repository_dispatch; retry the delivery',
      },
    });
    expect(await deliveries('dispatch_failed')).toBe(1);
    expect(await metricsText()).toMatch(/^relay_dispatch_duration_seconds_count\{result="failure"\} 1$/m);
    expect(logged('dispatch failed')).toEqual([
      expect.objectContaining({
        level: 50,
        delivery_id: deliveryId,
        attempts: 3,
        reason: expect.stringMatching(
          /GitHub answered 500: stand-in answered 500 \(gave up after 3 attempts\)$/,
        ),
      }),
    ]);
    expect(logged('unexpected error')).toEqual([]);
  });
});

describe('relay: the payload', () => {
  const aliasCreated = (version: string) =>
    Buffer.from(
      JSON.stringify({
        entity: 'model_version_alias',
        action: 'created',
        data: { name: 'cats-dogs-classifier', alias: 'production', version },
      }),
    );

  test.each(['1', '12', '9'.repeat(19)])('version %s is a model version', async (version) => {
    const res = await deliver(aliasCreated(version));
    expect(res.status).toBe(202);
    expect(JSON.parse(github.requests[0].body).client_payload.version).toBe(version);
  });

  test.each(['0', '04', 'v4', '4a', '4.0', '1'.repeat(20)])('fails when version is %s', async (version) => {
    const res = await deliver(aliasCreated(version));
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      error: {
        code: 'invalid_payload',
        message: `'data.version' must be a model version as a string of digits, e.g. "3"`,
      },
    });
    expect(github.requests).toHaveLength(0);
  });

  test('fails naming the body when it is JSON but not an object', async () => {
    const res = await deliver(Buffer.from('[1, 2]'));
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      error: { code: 'invalid_payload', message: "'(body)' Invalid input: expected object, received array" },
    });
    expect(await deliveries('invalid')).toBe(1);
  });

  test('fails naming the field when an alias.deleted delivery lacks the model name', async () => {
    const res = await deliver(
      Buffer.from('{"entity": "model_version_alias", "action": "deleted", "data": {"alias": "staging"}}'),
    );
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({
      error: { code: 'invalid_payload', message: expect.stringMatching(/^'data\.name' /) },
    });
  });

  test('a body that is not JSON, or compressed, is refused with its own message', async () => {
    const notJson = await deliver(Buffer.from('{"entity": '));
    expect(notJson.json).toEqual({
      error: { code: 'malformed_json', message: 'the delivery body is not valid JSON' },
    });
    const body = fixtureBody('alias-created-production');
    const headers = { ...mlflowHeaders(SECRET, body, randomUUID()), 'content-encoding': 'gzip' };
    const compressed = await deliver(body, { headers });
    expect(compressed.json).toEqual({
      error: { code: 'unsupported_encoding', message: 'send the body without Content-Encoding' },
    });
    const huge = await deliver(Buffer.alloc(64 * 1024 + 1, 'a'));
    expect(huge.json).toEqual({
      error: { code: 'payload_too_large', message: 'the delivery body is larger than allowed' },
    });
    expect(await deliveries('invalid')).toBe(2);
  });
});
