import {
  DispatchError,
  PROMOTION_EVENT_TYPE,
  createGitHubDispatcher,
  type GitHubDispatcherOptions,
  type PromotionPayload,
} from '../src/relay/github';
import { createRelayLogger } from '../src/relay/server';
import { GitHubStandIn, LogCapture } from './fixtures/webhooks/stand-ins';

// The GitHub client on its own, against a stand-in GitHub API on 127.0.0.1 that records every request: what it
// sends, when it retries and how long it waits, and what its errors and log lines say.

const TOKEN = 'ghp_githubClientTestToken0123456789DONOTLOG';
const PAYLOAD: PromotionPayload = {
  environment: 'production',
  model: 'cats-dogs-classifier',
  version: '4',
  alias: 'production',
  delivery_id: 'd-7f3a',
};

let github: GitHubStandIn;
let logs: LogCapture;

beforeEach(async () => {
  github = await GitHubStandIn.start();
  logs = new LogCapture();
});

afterEach(async () => {
  await github.close();
});

function dispatcher(options: Partial<GitHubDispatcherOptions> = {}) {
  return createGitHubDispatcher({
    apiUrl: `${github.url}/api/v3`,
    repository: 'acme/cats-dogs',
    token: TOKEN,
    attempts: 3,
    timeoutMs: 2000,
    backoffMs: 0,
    logger: createRelayLogger('debug', logs),
    ...options,
  });
}

/** The dispatcher's rejection, which must be a DispatchError. */
async function dispatchError(promise: Promise<unknown>): Promise<DispatchError> {
  const err = await promise.then(
    () => new Error('expected the dispatch to fail'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DispatchError);
  return err as DispatchError;
}

function dispatchUrl(): string {
  return `${github.url}/api/v3/repos/acme/cats-dogs/dispatches`;
}

/** The warnings logged per failed attempt, without pino's own fields. */
function attemptWarnings(): Array<Record<string, unknown>> {
  return logs.lines
    .filter((l) => l.msg === 'dispatch attempt failed')
    .map(({ level, attempt, status, reason, delivery_id }) => ({
      level,
      attempt,
      status,
      reason,
      delivery_id,
    }));
}

describe('GitHub dispatch client: the request', () => {
  test('POSTs model-promotion with the payload, the token as Bearer and GitHub’s JSON headers', async () => {
    await expect(dispatcher()(PAYLOAD)).resolves.toEqual({ attempts: 1 });

    expect(github.requests).toHaveLength(1);
    const [call] = github.requests;
    expect(call.method).toBe('POST');
    expect(call.url).toBe('/api/v3/repos/acme/cats-dogs/dispatches');
    expect(call.headers).toMatchObject({
      accept: 'application/vnd.github+json',
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      'user-agent': 'model-gitops-relay',
      'x-github-api-version': '2022-11-28',
    });
    expect(JSON.parse(call.body)).toEqual({ event_type: PROMOTION_EVENT_TYPE, client_payload: PAYLOAD });
    expect(PROMOTION_EVENT_TYPE).toBe('model-promotion');
    expect(logs.lines).toEqual([]);
  });
});

describe('GitHub dispatch client: retries', () => {
  test('a 5xx then a 429 are retried; it resolves with the attempts it took and logs each failed one', async () => {
    github.statuses.push(503, 429);
    await expect(dispatcher()(PAYLOAD)).resolves.toEqual({ attempts: 3 });
    expect(github.requests).toHaveLength(3);
    expect(attemptWarnings()).toEqual([
      { level: 40, attempt: 1, status: 503, reason: undefined, delivery_id: 'd-7f3a' },
      { level: 40, attempt: 2, status: 429, reason: undefined, delivery_id: 'd-7f3a' },
    ]);
  });

  test('fails after the last attempt with GitHub’s last status and message', async () => {
    github.statuses.push(500, 502, 503);
    const err = await dispatchError(dispatcher()(PAYLOAD));
    expect(github.requests).toHaveLength(3);
    expect(err.name).toBe('DispatchError');
    expect(err.message).toBe(
      `${dispatchUrl()}: GitHub answered 503: stand-in answered 503 (gave up after 3 attempts)`,
    );
    expect(err.attempts).toBe(3);
    expect(err.status).toBe(503);
  });

  test('fails at once on a 4xx other than 429, naming the status and GitHub’s message', async () => {
    github.statuses.push({ status: 422, body: '{"message": "Validation Failed", "errors": []}' });
    const err = await dispatchError(dispatcher()(PAYLOAD));
    expect(github.requests).toHaveLength(1);
    expect(err.message).toBe(`${dispatchUrl()}: GitHub answered 422: Validation Failed`);
    expect(err.attempts).toBe(1);
    expect(err.status).toBe(422);
    expect(attemptWarnings()).toEqual([
      { level: 40, attempt: 1, status: 422, reason: undefined, delivery_id: 'd-7f3a' },
    ]);
  });

  test('waits backoffMs before the first retry and twice as long before each next one', async () => {
    const backoffMs = 200;
    github.statuses.push(503, 503, 503);
    await dispatchError(dispatcher({ backoffMs })(PAYLOAD));
    const [first, second, third] = github.requests.map((r) => r.receivedAtMs);
    const gaps = [second - first, third - second];
    // Timers never fire early (1 ms of clock rounding aside); late ones are bounded loosely, well under a
    // schedule that starts at 16× the backoff.
    expect(gaps[0]).toBeGreaterThanOrEqual(backoffMs - 1);
    expect(gaps[1]).toBeGreaterThanOrEqual(2 * backoffMs - 1);
    for (const gap of gaps) expect(gap).toBeLessThan(12 * backoffMs);
  });

  test('sends the first attempt at once: the backoff only comes before retries', async () => {
    // With the one-minute backoff applied before the first attempt too, this would time out.
    github.statuses.push(503);
    const err = await dispatchError(dispatcher({ attempts: 1, backoffMs: 60_000 })(PAYLOAD));
    expect(err.message).toMatch(/\(gave up after 1 attempts\)$/);
    expect(github.requests).toHaveLength(1);
  }, 10_000);
});

describe('GitHub dispatch client: what it reports', () => {
  test('an error body that is not JSON is reported raw, cut to 200 characters', async () => {
    github.statuses.push({ status: 400, body: `<html>${'x'.repeat(500)}</html>` });
    const err = await dispatchError(dispatcher()(PAYLOAD));
    expect(err.message).toBe(`${dispatchUrl()}: GitHub answered 400: <html>${'x'.repeat(194)}`);
  });

  test('a JSON error body without a string message is reported raw', async () => {
    for (const body of ['{"message": 42}', '{"errors": ["bad"]}', '[1, 2]', '"quoted"', '7', 'null']) {
      github.statuses.push({ status: 400, body });
      const err = await dispatchError(dispatcher()(PAYLOAD));
      expect(err.message).toBe(`${dispatchUrl()}: GitHub answered 400: ${body}`);
    }
  });

  test('an empty error body leaves only the status', async () => {
    github.statuses.push({ status: 404, body: '' });
    const err = await dispatchError(dispatcher()(PAYLOAD));
    expect(err.message).toBe(`${dispatchUrl()}: GitHub answered 404`);
  });

  test('an error body cut off mid-way leaves only the status', async () => {
    github.statuses.push({ status: 400, body: '{"message": "never comp', cut: true });
    const err = await dispatchError(dispatcher()(PAYLOAD));
    expect(err.message).toBe(`${dispatchUrl()}: GitHub answered 400`);
    expect(err.status).toBe(400);
  });

  test('a network error is retried, then reported without a status, and each attempt is logged', async () => {
    const dispatch = dispatcher({ attempts: 2 });
    const url = dispatchUrl();
    await github.close();
    const err = await dispatchError(dispatch(PAYLOAD));
    expect(err.message).toBe(`${url}: network error: fetch failed (gave up after 2 attempts)`);
    expect(err.attempts).toBe(2);
    expect(err.status).toBeUndefined();
    expect(attemptWarnings()).toEqual(
      [1, 2].map((attempt) => ({
        level: 40,
        attempt,
        status: undefined,
        reason: 'network error: fetch failed',
        delivery_id: 'd-7f3a',
      })),
    );
  });

  test('an attempt GitHub does not answer within timeoutMs is reported as such', async () => {
    github.delayMs = 1000;
    const err = await dispatchError(dispatcher({ attempts: 1, timeoutMs: 100 })(PAYLOAD));
    expect(err.message).toBe(
      `${dispatchUrl()}: network error: no answer within 100 ms (gave up after 1 attempts)`,
    );
    expect(err.status).toBeUndefined();
  });

  test('never logs the token', async () => {
    github.statuses.push(500, { status: 401, body: '{"message": "Bad credentials"}' });
    await dispatchError(dispatcher()(PAYLOAD));
    expect(logs.lines).toHaveLength(2);
    expect(logs.text).not.toContain(TOKEN);
  });
});
