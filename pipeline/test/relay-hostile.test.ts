import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { seededRandom } from '../../service/src/model/builders';
import { GitHubStandIn, fixtureBody, mlflowHeaders } from './fixtures/webhooks/stand-ins';

// Hostile input against the relay running as its own process: random and malformed bodies, forged and
// absurd signatures, deep and huge JSON, oversize bodies and headers, bodies that never finish. The relay
// must answer every request with a 4xx (or 503), never exit, keep its memory bounded, and still relay a
// genuine delivery afterwards.

const MAIN = join(__dirname, 'fixtures', 'webhooks', 'relay-main.ts');
const SECRET = 'hostile-test-secret-5b1e99';
const TIME_BOX_MS = 8000;
const MAX_REQUESTS = 5000;
/**
 * The relay runs with a small old-space limit, as in a container: anything it retained per request would
 * exhaust it within the run and kill the process (asserted below), while garbage is simply collected.
 */
const MAX_OLD_SPACE_MB = 48;
const CONCURRENCY = 16;
// Memory: heap in use stays flat (17-25 MiB) however long this runs; RSS rises to V8's and the allocator's
// high-water mark under this allocation rate, then levels off (100 → 120 → 122 MiB on Node 24 with the
// container's semi-space cap; without the cap 100 → 200 → 231 MiB, all of it reserved young-generation pages).
// The bounds are the container's limit and the run's own first half: the second half may not grow more than
// the first did, plus allocator slack.
const SECOND_HALF_SLACK_BYTES = 32 * 1024 * 1024;
/** RSS ceiling after the run: the relay container's memory limit in the charts (not OOM-killed there). */
const RSS_CEILING_BYTES = 256 * 1024 * 1024;
/** Every random choice and byte comes from this seed, so a failing run can be replayed. */
const SEED = 20261129;
const random = seededRandom(SEED);

/** Seeded garbage, made once: bodies are slices of it at seeded offsets (cheap, and still replayable). */
const NOISE = Buffer.from(Uint32Array.from({ length: 80_000 }, () => Math.floor(random() * 2 ** 32)).buffer);

/** `n` (at most {@link NOISE}'s 320 000) pseudo-random bytes, seeded. */
function randomBytes(n: number): Buffer {
  const start = Math.floor(random() * (NOISE.length - n));
  return Buffer.from(NOISE.subarray(start, start + n));
}

let github: GitHubStandIn;
let child: ChildProcessWithoutNullStreams;
let baseUrl: URL;
let exited = false;
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

beforeAll(async () => {
  github = await GitHubStandIn.start();
  child = spawn(
    process.execPath,
    [
      `--max-old-space-size=${MAX_OLD_SPACE_MB}`,
      // As the relay's container runs it (charts/src/webhook-relay.ts, RELAY_SEMI_SPACE_MIB).
      '--max-semi-space-size=8',
      '--import',
      'tsx',
      MAIN,
      'relay',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
    ],
    {
      env: {
        PATH: process.env.PATH ?? '',
        MLFLOW_WEBHOOK_SECRET: SECRET,
        GITHUB_TOKEN: 'ghp_hostileTestToken',
        GITHUB_REPOSITORY: 'acme/cats-dogs',
        GITHUB_API_URL: github.url,
        LOG_LEVEL: 'info',
      },
      cwd: join(__dirname, '..', '..'),
    },
  );
  child.on('exit', () => (exited = true));
  child.stderr.resume();
  baseUrl = await new Promise<URL>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`relay did not start: ${out}`)), 20_000);
    const onData = (c: Buffer) => {
      out += c.toString('utf8');
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
      if (match) {
        clearTimeout(timer);
        // Keep draining the relay's log lines without holding them.
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve(new URL(match[1]));
      }
    };
    child.stdout.on('data', onData);
  });
});

afterAll(async () => {
  agent.destroy();
  if (!exited) {
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await gone;
  }
  await github.close();
});

interface Sent {
  status: number;
}

/** Sends one request; `fresh` uses its own connection (one the server may close must not poison the pool). */
function send(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
  fresh = false,
): Promise<Sent> {
  // Node's client frames a GET/DELETE body only when told its length.
  const framed = body ? { ...headers, 'content-length': String(body.length) } : headers;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: baseUrl.hostname,
        port: baseUrl.port,
        method,
        path,
        headers: framed,
        agent: fresh ? false : agent,
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

async function rssBytes(): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    request({ host: baseUrl.hostname, port: baseUrl.port, path: '/metrics', agent }, (res) => {
      let data = '';
      res.on('data', (c: Buffer) => (data += c.toString('utf8')));
      res.on('end', () => resolve(data));
    })
      .on('error', reject)
      .end();
  });
  const match = /^process_resident_memory_bytes (\d+)/m.exec(text);
  if (!match) throw new Error('no process_resident_memory_bytes in /metrics');
  return Number(match[1]);
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

const CONTENT_TYPES = [
  'application/json',
  'image/jpeg',
  'text/plain',
  'application/octet-stream',
  'multipart/form-data',
];

/** One hostile request. `mayBeCut`: the server may answer and close before the body is fully sent. */
interface Hostile {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
  readonly mayBeCut?: boolean;
}

const KINDS: ReadonlyArray<() => Hostile> = [
  // Random bytes under assorted content types, no MLflow headers.
  () => ({
    method: 'POST',
    path: '/webhooks/mlflow',
    headers: { 'content-type': pick(CONTENT_TYPES) },
    body: randomBytes(Math.floor(random() * 4096)),
  }),
  // Random bytes, correctly signed: passes authentication, must fail parsing with 400.
  () => signed(randomBytes(1 + Math.floor(random() * 2048))),
  // Deeply nested JSON, signed.
  () => {
    const depth = 1000 + Math.floor(random() * 30_000);
    return signed(Buffer.from('['.repeat(depth) + ']'.repeat(depth)));
  },
  // Huge flat JSON just under the cap, signed: a valid envelope of an ignored event with a giant data object.
  () => {
    const data: Record<string, string> = {};
    for (let i = 0; i < 1500; i++) data[`k${i}`] = 'x'.repeat(30);
    return signed(Buffer.from(JSON.stringify({ entity: 'model_version_tag', action: 'set', data })));
  },
  // Oversize body.
  () => ({ ...signed(randomBytes(64 * 1024 + 1 + Math.floor(random() * 200_000))), mayBeCut: true }),
  // Forged signatures: invalid base64, huge, wrong scheme, empty.
  () => {
    const forged = signed(fixtureBody('alias-created-production'));
    const signature = pick([
      'v1,!!!not-base64!!!',
      `v1,${'A'.repeat(8000)}`,
      'sha256=deadbeef',
      'v1,',
      'v1,====',
    ]);
    return { ...forged, headers: { ...forged.headers, 'x-mlflow-signature': signature } };
  },
  // Absurd timestamps and delivery ids next to a signature made for other values.
  () => {
    const forged = signed(fixtureBody('alias-created-production'));
    const headers = {
      ...forged.headers,
      'x-mlflow-timestamp': pick(['0', '99999999999', '-1', '1e10', 'NaN', '']),
      'x-mlflow-delivery-id': pick([randomUUID(), '../../etc', 'x'.repeat(500)]),
    };
    return { ...forged, headers };
  },
  // A header beyond Node's 16 KiB limit (431).
  () => {
    const request = signed(fixtureBody('tag-set'));
    return { ...request, headers: { ...request.headers, 'x-padding': 'p'.repeat(20_000) }, mayBeCut: true };
  },
  // Other methods and paths.
  () => ({
    method: pick(['GET', 'PUT', 'DELETE', 'PATCH']),
    path: pick(['/webhooks/mlflow', '/', '/%ff', '/health/../metrics']),
    headers: {},
    body: randomBytes(64),
  }),
];

function signed(body: Buffer): Hostile {
  return {
    method: 'POST',
    path: '/webhooks/mlflow',
    headers: mlflowHeaders(SECRET, body, randomUUID()),
    body,
  };
}

/** Opens `count` connections that send headers and part of a body, then stall. */
async function slowBodies(count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const socket = connect(Number(baseUrl.port), baseUrl.hostname);
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      'POST /webhooks/mlflow HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"entity": ',
    );
    sockets.push(socket);
  }
  return sockets;
}

test('hostile deliveries get 4xx (or 503), the relay stays up with bounded memory and still relays a real delivery', async () => {
  // Warm up (JIT, buffers) with ordinary traffic before taking the memory baseline.
  for (let i = 0; i < 100; i++) {
    const body = fixtureBody('tag-set');
    expect(
      (await send('POST', '/webhooks/mlflow', mlflowHeaders(SECRET, body, randomUUID()), body)).status,
    ).toBe(200);
  }
  const rssBefore = await rssBytes();
  const stalled = await slowBodies(50);

  const statuses = new Map<number, number>();
  const started = Date.now();
  let sent = 0;
  let cut = 0;
  const unexpectedTransportErrors: string[] = [];
  const worker = async (until: number) => {
    while (sent < until && Date.now() - started < TIME_BOX_MS * (until / MAX_REQUESTS)) {
      sent++;
      const kindIndex = Math.floor(random() * KINDS.length);
      const hostile = KINDS[kindIndex]();
      try {
        const { status } = await send(
          hostile.method,
          hostile.path,
          hostile.headers,
          hostile.body,
          hostile.mayBeCut,
        );
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      } catch (err) {
        // Refusing an oversize body or header may close the connection while the client still writes.
        if (hostile.mayBeCut) cut++;
        else
          unexpectedTransportErrors.push(
            `kind ${kindIndex}: ${hostile.method} ${hostile.path}: ${(err as Error).message}`,
          );
      }
    }
  };
  // Two halves of the same load: a leak grows RSS in the second as in the first.
  await Promise.all(Array.from({ length: CONCURRENCY }, () => worker(MAX_REQUESTS / 2)));
  const rssMid = await rssBytes();
  await Promise.all(Array.from({ length: CONCURRENCY }, () => worker(MAX_REQUESTS)));

  // While 50 connections still hold unfinished bodies, the relay serves normal traffic.
  expect((await send('GET', '/health', {})).status).toBe(200);
  for (const socket of stalled) socket.destroy();

  const rssAfter = await rssBytes();
  const serverErrors = [...statuses].filter(([status]) => status >= 500 && status !== 503);
  process.stdout.write(
    `relay hostile run: ${sent} requests in ${Date.now() - started} ms, statuses ${JSON.stringify(Object.fromEntries(statuses))}, ` +
      `connections cut while refusing ${cut}, RSS ${(rssBefore / 2 ** 20).toFixed(1)} → ${(rssMid / 2 ** 20).toFixed(1)} (half) → ${(rssAfter / 2 ** 20).toFixed(1)} MiB, seed ${SEED}\n`,
  );

  expect(sent).toBeGreaterThan(500);
  expect(serverErrors).toEqual([]);
  expect(statuses.get(200) ?? 0).toBeGreaterThan(0); // signed, well-formed but irrelevant events
  expect(statuses.get(401) ?? 0).toBeGreaterThan(0);
  expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
  expect(statuses.get(413) ?? 0).toBeGreaterThan(0);
  expect(unexpectedTransportErrors).toEqual([]);
  expect(exited).toBe(false);
  expect(rssAfter - rssMid).toBeLessThan(Math.max(0, rssMid - rssBefore) + SECOND_HALF_SLACK_BYTES);
  expect(rssAfter).toBeLessThan(RSS_CEILING_BYTES);
  expect(github.requests).toHaveLength(0);

  const body = fixtureBody('alias-created-production');
  expect(
    (await send('POST', '/webhooks/mlflow', mlflowHeaders(SECRET, body, randomUUID()), body)).status,
  ).toBe(202);
  expect(github.requests).toHaveLength(1);
});
