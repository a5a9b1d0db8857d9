import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnService, type SpawnedService } from '../../bench/src/harness';
import { DEFAULT_MODEL_DIR } from '../src/config';
import { noisyJpeg, tempDir, waitFor, writeTinyCnn } from './helpers';

/** The server process (see bench/src/service-process.ts) on `env` alone, not waited for: tests watch its logs. */
function startServer(env: Record<string, string>): Promise<SpawnedService> {
  return spawnService({ env: { LOG_LEVEL: 'info', ...env }, inheritEnv: false, port: 0 });
}

/** The JSON log lines written so far. */
function logLines(proc: SpawnedService): string[] {
  return proc.stdout().split('\n');
}

function logged(proc: SpawnedService, msg: string): Record<string, unknown> | undefined {
  return logLines(proc)
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    })
    .find((l) => l.msg === msg);
}

/** Writes `text` on a new connection and resolves with all it receives until the server closes it. */
function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text, 'latin1'));
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
  });
}

/** The status line and the JSON body of a raw HTTP/1.1 response. */
function parseRawResponse(raw: string): { statusLine: string; body: unknown } {
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  return { statusLine: head.split('\r\n')[0] ?? '', body: body ? (JSON.parse(body) as unknown) : null };
}

interface Reply {
  status: number;
  body: string;
}

/** An HTTP request; `hold` delays the second half of the body until it resolves. */
function send(
  port: number,
  method: string,
  path: string,
  body?: Buffer,
  hold?: Promise<void>,
  agent: Agent | false = false,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: body ? { 'Content-Type': 'image/jpeg', 'Content-Length': body.length } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    if (!body) {
      req.end();
      return;
    }
    const half = Math.floor(body.length / 2);
    req.write(body.subarray(0, half));
    void (hold ?? Promise.resolve()).then(() => req.end(body.subarray(half)));
  });
}

let tmp: ReturnType<typeof tempDir>;
let procs: SpawnedService[] = [];
beforeEach(() => {
  tmp = tempDir();
  procs = [];
});
afterEach(() => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  tmp.cleanup();
});

function track(p: SpawnedService): SpawnedService {
  procs.push(p);
  return p;
}

describe('server process', () => {
  test('SIGTERM: /ready turns 503, in-flight and drain-time requests succeed, exit 0', async () => {
    writeTinyCnn(tmp.dir);
    const proc = track(
      await startServer({
        MODEL_DIR: tmp.dir,
        DRAIN_DELAY_MS: '1500',
        SHUTDOWN_TIMEOUT_MS: '10000',
        INFERENCE_WORKERS: '2',
      }),
    );
    await waitFor(() => logged(proc, 'ready') !== undefined, 'the server to be ready', 1000);
    const port = logged(proc, 'listening')?.port as number;
    const image = await noisyJpeg(640, 480);
    expect((await send(port, 'GET', '/ready')).status).toBe(200);

    let releaseUpload!: () => void;
    const upload = new Promise<void>((r) => (releaseUpload = r));
    // A keep-alive client, as a proxy is: its connection must close once its answer is sent, not linger
    // until KEEP_ALIVE_TIMEOUT_MS (65 s) past SHUTDOWN_TIMEOUT_MS.
    const keepAlive = new Agent({ keepAlive: true });
    const inFlight = [
      send(port, 'POST', '/predict', image, upload, keepAlive), // body half sent; finished after the drain delay
      ...Array.from({ length: 4 }, () => send(port, 'POST', '/predict', image)),
    ];
    await new Promise((r) => setTimeout(r, 50));
    proc.child.kill('SIGTERM');
    await waitFor(async () => (await send(port, 'GET', '/ready')).status === 503, '/ready to turn 503');
    const ready = await send(port, 'GET', '/ready');
    expect(JSON.parse(ready.body)).toEqual({ status: 'not_ready', reason: 'draining' });
    // still serving during the drain delay
    expect((await send(port, 'POST', '/predict', image)).status).toBe(200);
    await waitFor(() => logged(proc, 'draining') !== undefined, 'the draining log line');
    await new Promise((r) => setTimeout(r, 1700)); // past DRAIN_DELAY_MS: the server no longer accepts
    releaseUpload();
    const results = await Promise.all(inFlight);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect((await proc.exited).code).toBe(0);
    expect(logged(proc, 'stopped')).toBeDefined();
    keepAlive.destroy();
  });

  test('a multipart body cut off inside a file part is a 400 and the process lives on', async () => {
    writeTinyCnn(tmp.dir);
    const proc = track(await startServer({ MODEL_DIR: tmp.dir, INFERENCE_WORKERS: '1' }));
    await waitFor(() => logged(proc, 'ready') !== undefined, 'the server to be ready', 1000);
    const port = logged(proc, 'listening')?.port as number;
    const body = Buffer.from(
      '--xyz\r\nContent-Disposition: form-data; name="f"; filename="x.jpg"\r\n\r\nabc',
    );
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/predict',
          agent: false,
          headers: { 'Content-Type': 'multipart/form-data; boundary=xyz', 'Content-Length': body.length },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body).error.code).toBe('invalid_multipart');
    expect((await send(port, 'POST', '/predict', await noisyJpeg(64, 48))).status).toBe(200);
    expect(proc.child.exitCode).toBeNull();
  });

  test('workers that crash on every job: 500, then 503 no_inference_worker, then drain and exit 1', async () => {
    writeTinyCnn(tmp.dir);
    // Preloaded in every thread: inference workers exit on each job, the way a native crash ends them.
    const preload = join(tmp.dir, 'crash-on-run.js');
    writeFileSync(
      preload,
      "const { isMainThread, parentPort } = require('node:worker_threads');\n" +
        // parentPort is null in tsx's module-loader thread.
        "if (!isMainThread && parentPort) parentPort.on('message', (m) => { if (m && m.type === 'run') process.exit(70); });\n",
    );
    const proc = track(
      await startServer({
        MODEL_DIR: tmp.dir,
        INFERENCE_WORKERS: '1',
        DRAIN_DELAY_MS: '100',
        NODE_OPTIONS: `--require ${preload}`,
      }),
    );
    await waitFor(() => logged(proc, 'ready') !== undefined, 'the server to be ready', 1000);
    const port = logged(proc, 'listening')?.port as number;
    const image = await noisyJpeg(64, 48);
    const codes = new Set<string>();
    let sawNotReady = false;
    // Each job kills its worker; the pool replaces it (back-off 100 ms, doubling) until 6 exits in a row.
    for (let i = 0; i < 500 && proc.child.exitCode === null; i++) {
      const reply = await send(port, 'POST', '/predict', image).catch(() => null);
      if (reply)
        codes.add(`${reply.status} ${(JSON.parse(reply.body) as { error: { code: string } }).error.code}`);
      const ready = await send(port, 'GET', '/ready').catch(() => null);
      if (ready?.body.includes('no_inference_worker')) sawNotReady = true;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await proc.exited).code).toBe(1);
    expect([...codes].sort()).toEqual(['500 inference_failed', '503 no_inference_worker']);
    expect(sawNotReady).toBe(true);
    expect(logLines(proc).filter((l) => l.includes('"inference worker exited"'))).toHaveLength(6);
    expect(logged(proc, 'every inference worker failed; stopping')).toBeDefined();
    expect(logged(proc, 'stopped')).toMatchObject({ exitCode: 1 });
  });

  test('slow clients that never finish their headers or body get 408 and are closed; others are served', async () => {
    writeTinyCnn(tmp.dir);
    const proc = track(
      await startServer({
        MODEL_DIR: tmp.dir,
        INFERENCE_WORKERS: '1',
        REQUEST_TIMEOUT_MS: '1500',
        HEADERS_TIMEOUT_MS: '1000',
      }),
    );
    await waitFor(() => logged(proc, 'ready') !== undefined, 'the server to be ready', 1000);
    const port = logged(proc, 'listening')?.port as number;
    // Each sends the start of a request, then one byte every 100 ms, forever.
    const starts = {
      body: 'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 1000000\r\n\r\n\xff\xd8\xff',
      headers: 'POST /predict HTTP/1.1\r\nHost: x\r\nX-Slow: ',
    };
    const clients = Object.entries(starts).map(([mode, start]) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(start, 'latin1'));
      let received = '';
      let closed = false;
      socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => (closed = true));
      const trickle = setInterval(() => socket.write(mode === 'body' ? '\x00' : 'a', 'latin1'), 100);
      return { mode, socket, trickle, received: () => received, closed: () => closed };
    });
    try {
      // Node's defaults (300 s, checked every 30 s) would keep them for minutes; 10 s is the bound here.
      await waitFor(() => clients.every((c) => c.closed()), 'the server to close both slow clients', 500);
    } finally {
      for (const c of clients) {
        clearInterval(c.trickle);
        c.socket.destroy();
      }
    }
    for (const c of clients)
      expect({ mode: c.mode, ...parseRawResponse(c.received()) }).toEqual({
        mode: c.mode,
        statusLine: 'HTTP/1.1 408 Request Timeout',
        body: { error: { code: 'request_timeout', message: expect.stringContaining('REQUEST_TIMEOUT_MS') } },
      });
    // The slow body reached the app, which never answered it: logged with the status the client got (the
    // line reaches the log stream some time after the client saw its socket closed).
    const slowBody = (): string | undefined => logLines(proc).find((l) => l.includes('"route":"/predict"'));
    await waitFor(() => slowBody() !== undefined, "the slow body's request log line", 500);
    expect(JSON.parse(slowBody() ?? '{}')).toMatchObject({ status: 408, aborted: true });
    expect((await send(port, 'POST', '/predict', await noisyJpeg(64, 48))).status).toBe(200);
    expect(proc.child.exitCode).toBeNull();
  });

  test('requests Node cannot parse get its status with a JSON error, and are logged and counted with it', async () => {
    writeTinyCnn(tmp.dir);
    const proc = track(await startServer({ MODEL_DIR: tmp.dir, INFERENCE_WORKERS: '1' }));
    await waitFor(() => logged(proc, 'ready') !== undefined, 'the server to be ready', 1000);
    const port = logged(proc, 'listening')?.port as number;
    const badChunk =
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n';
    expect(parseRawResponse(await rawExchange(port, badChunk))).toEqual({
      statusLine: 'HTTP/1.1 400 Bad Request',
      body: { error: { code: 'malformed_request', message: 'the request is not valid HTTP/1.1' } },
    });
    const bigHeader = `GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${'a'.repeat(20_000)}\r\n\r\n`;
    expect(parseRawResponse(await rawExchange(port, bigHeader))).toEqual({
      statusLine: 'HTTP/1.1 431 Request Header Fields Too Large',
      body: { error: { code: 'headers_too_large', message: 'the request headers are over 16 KiB' } },
    });
    const predictCounts = async (): Promise<string[]> =>
      (await rawExchange(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))
        .split('\n')
        .filter((l) => l.startsWith('http_requests_total{') && l.includes('route="/predict"'));
    await waitFor(async () => (await predictCounts()).length > 0, 'the malformed request to be counted', 100);
    expect(await predictCounts()).toEqual([expect.stringMatching(/status="400"\} 1$/)]);
    const malformed = (): string | undefined => logLines(proc).find((l) => l.includes('"route":"/predict"'));
    await waitFor(() => malformed() !== undefined, "the malformed request's log line", 500);
    expect(JSON.parse(malformed() ?? '{}')).toMatchObject({ status: 400, aborted: true });
    expect((await send(port, 'POST', '/predict', await noisyJpeg(64, 48))).status).toBe(200);
  });

  test('an HTTP/1.1 request without Host gets 400 malformed_request with a JSON body and X-Request-Id', async () => {
    writeTinyCnn(tmp.dir);
    const proc = track(await startServer({ MODEL_DIR: tmp.dir, INFERENCE_WORKERS: '1' }));
    await waitFor(() => logged(proc, 'ready') !== undefined, 'the server to be ready', 1000);
    const port = logged(proc, 'listening')?.port as number;
    // What `curl -H 'Host:'` sends: HTTP/1.1 requires the header (RFC 9112, section 3.2).
    const raw = await rawExchange(port, 'GET /health HTTP/1.1\r\nX-Request-Id: no-host\r\n\r\n');
    expect(parseRawResponse(raw)).toEqual({
      statusLine: 'HTTP/1.1 400 Bad Request',
      body: {
        error: {
          code: 'malformed_request',
          message: 'the request has no Host header, which HTTP/1.1 requires',
        },
      },
    });
    const head = raw.split('\r\n\r\n')[0]?.toLowerCase() ?? '';
    expect(head).toContain('\r\nx-request-id: no-host\r\n');
    expect(head).toContain('\r\nconnection: close');
    // HTTP/1.0 needs no Host: served as before.
    expect(parseRawResponse(await rawExchange(port, 'GET /health HTTP/1.0\r\n\r\n'))).toEqual({
      statusLine: 'HTTP/1.1 200 OK',
      body: { status: 'ok' },
    });
  });

  test('a start and a prediction leave no ONNX Runtime telemetry traces (device id cache, mat-debug log)', async () => {
    writeTinyCnn(tmp.dir);
    const home = join(tmp.dir, 'home');
    mkdirSync(home);
    // The environment names no ORT_DISABLE_TELEMETRY: the service must turn telemetry off by itself.
    const proc = track(
      await startServer({ MODEL_DIR: tmp.dir, INFERENCE_WORKERS: '1', DRAIN_DELAY_MS: '100', HOME: home }),
    );
    await waitFor(() => logged(proc, 'ready') !== undefined, 'the server to be ready', 1000);
    const port = logged(proc, 'listening')?.port as number;
    expect((await send(port, 'POST', '/predict', await noisyJpeg(64, 48))).status).toBe(200);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    // Where onnxruntime-node 1.30 writes them when telemetry is on (its 1DS client, at the first session).
    const traces = new Set([
      join(home, '.cache', 'Microsoft'),
      `/tmp/mat-debug-${proc.child.pid}.log`,
      join(tmpdir(), `mat-debug-${proc.child.pid}.log`),
    ]);
    const found = [...traces].filter((p) => existsSync(p));
    for (const p of found) rmSync(p, { recursive: true, force: true }); // a failing run cleans up too
    expect(found).toEqual([]);
  });

  test('fails to start with a message naming the variable when the config is invalid', async () => {
    const proc = track(await startServer({ PORT: 'eighty', REQUEST_TIMEOUT_MS: '-5' }));
    expect((await proc.exited).code).toBe(2);
    expect(proc.stderr()).toContain('PORT="eighty": must be a whole number from 0 to 65535');
    expect(proc.stderr()).toContain('REQUEST_TIMEOUT_MS="-5"');
  });

  test('fails to start with exit 1 and the reason when the port is taken, not an abort under the loading workers', async () => {
    // The default model, not a tiny one: the listen error must come while the workers are still loading it.
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const proc = track(await startServer({ MODEL_DIR: DEFAULT_MODEL_DIR, PORT: String(port) }));
      expect(await proc.exited).toEqual({ code: 1, signal: null });
      expect(proc.stderr()).toContain(
        `cannot start: cannot listen on 127.0.0.1:${port} (HOST, PORT): listen EADDRINUSE`,
      );
    } finally {
      taken.close();
    }
  });

  test('fails to start when the model directory is missing', async () => {
    const proc = track(await startServer({ MODEL_DIR: join(tmp.dir, 'absent') }));
    expect((await proc.exited).code).toBe(1);
    expect(proc.stderr()).toMatch(/cannot start: .*absent: cannot read the model directory \(ENOENT/);
  });

  test('fails to start when model.onnx is corrupt', async () => {
    writeTinyCnn(tmp.dir);
    writeFileSync(join(tmp.dir, 'model.onnx'), Buffer.alloc(1000, 0xab));
    const proc = track(await startServer({ MODEL_DIR: tmp.dir }));
    expect((await proc.exited).code).toBe(1);
    expect(proc.stderr()).toMatch(/model\.onnx: not an ONNX model .*the file is corrupt/);
  });

  test('fails to start when MODEL_SHA256 does not match', async () => {
    writeTinyCnn(tmp.dir);
    const proc = track(await startServer({ MODEL_DIR: tmp.dir, MODEL_SHA256: 'f'.repeat(64) }));
    expect((await proc.exited).code).toBe(1);
    expect(proc.stderr()).toContain(`but MODEL_SHA256 expects ${'f'.repeat(64)}`);
  });

  test('fails to start when the labels do not match the model output', async () => {
    writeTinyCnn(tmp.dir, { labels: ['cat', 'dog', 'bird'] });
    const proc = track(await startServer({ MODEL_DIR: tmp.dir }));
    expect((await proc.exited).code).toBe(1);
    expect(proc.stderr()).toContain('has 2 classes but the description lists 3 labels');
  });
});
