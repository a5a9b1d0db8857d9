import { Agent, request as httpRequest, type ClientRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import sharp from 'sharp';
import request from 'supertest';
import { createApp, type AppLimits } from '../src/app';
import { PredictionMemory } from '../src/feedback';
import { InferencePool } from '../src/inference/pool';
import { createMetrics, type ServiceMetrics } from '../src/metrics';
import { readModelFiles, writeMlflowModelDir, type ModelFiles } from '../src/model/format';
import { buildSimpleCnn } from '../src/model/onnx-builder';
import { ServiceState } from '../src/state';
import type { Worker } from 'node:worker_threads';
import type { WorkerInit } from '../src/inference/protocol';
import { noisyJpeg, pngHeaderOnly, spawnRealWorker, tempDir, waitFor, writeTinyCnn } from './helpers';

const LIMITS: AppLimits = {
  maxBodyBytes: 256 * 1024,
  maxImagesPerRequest: 4,
  requestTimeoutMs: 30_000,
};
const silent = pino({ level: 'silent' });

let tmp: ReturnType<typeof tempDir>;
let files: ModelFiles;
let good: Buffer;

beforeAll(async () => {
  tmp = tempDir();
  writeTinyCnn(tmp.dir);
  files = await readModelFiles(tmp.dir);
  good = await noisyJpeg(64, 48);
});
afterAll(() => tmp.cleanup());

interface Harness {
  server: Server;
  state: ServiceState;
  pool: InferencePool;
  metrics: ServiceMetrics;
  clock: { now: number };
  close(): Promise<void>;
}

async function startHarness(
  opts: {
    limits?: Partial<AppLimits>;
    queueMax?: number;
    beforeRun?: () => Promise<void>;
    workers?: number;
    maxConsecutiveFailures?: number;
    spawnWorker?: (init: WorkerInit) => Worker;
    logger?: pino.Logger;
    model?: ModelFiles;
  } = {},
): Promise<Harness> {
  const model = opts.model ?? files;
  const pool = await InferencePool.start({
    files: model,
    workers: opts.workers ?? 1,
    queueMax: opts.queueMax ?? 16,
    beforeRun: opts.beforeRun,
    maxConsecutiveFailures: opts.maxConsecutiveFailures,
    spawnWorker: opts.spawnWorker,
  });
  const state = new ServiceState({ name: 'tiny', version: '7' });
  state.setModel({
    sha256: model.sha256,
    metadataSha256: model.metadataSha256,
    files: model.files,
    metadata: model.metadata,
    loadedAt: new Date('2026-01-01T00:00:00Z'),
    loadSeconds: 0.25,
    engine: pool,
  });
  const metrics = createMetrics();
  const clock = { now: 1_000_000 };
  const feedback = new PredictionMemory({ ttlMs: 60_000, maxEntries: 100, now: () => clock.now });
  const app = createApp({
    state,
    limits: { ...LIMITS, ...opts.limits },
    metrics,
    logger: opts.logger ?? silent,
    feedback,
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    server,
    state,
    pool,
    metrics,
    clock,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.close();
    },
  };
}

function predict(server: Server, body: Buffer, type = 'image/jpeg') {
  return request(server).post('/predict').set('Content-Type', type).send(body);
}

/** POSTs `body` to /predict with chunked transfer encoding (no Content-Length) and resolves the status. */
function postChunked(server: Server, contentType: string, body: Buffer): Promise<number> {
  const { port } = server.address() as AddressInfo;
  return new Promise<number>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/predict',
        headers: { 'Content-Type': contentType, 'Transfer-Encoding': 'chunked' },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** POST /predict of a raw JPEG, sent whole, whose client the test can abandon (`destroy()`) while it waits. */
function sendAbandonable(server: Server, image: Buffer): ClientRequest {
  const req = httpRequest({
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    method: 'POST',
    path: '/predict',
    headers: { 'Content-Type': 'image/jpeg', 'Content-Length': image.length },
  });
  req.on('error', () => undefined);
  req.end(image);
  return req;
}

async function metricValue(server: Server, line: RegExp): Promise<number> {
  const text = (await request(server).get('/metrics')).text;
  const found = text.split('\n').find((l) => line.test(l));
  return found ? Number(found.split(' ').pop()) : 0;
}

describe('endpoints', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  test('GET /health is 200', async () => {
    const res = await request(h.server).get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  test('GET /ready is 200 when the model is loaded', async () => {
    const res = await request(h.server).get('/ready');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ready');
  });

  test('POST /predict with a raw JPEG returns the top label, scores and headers', async () => {
    const res = await predict(h.server, good);
    expect(res.status).toBe(200);
    expect(res.headers['x-model-version']).toBe('7');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.requestId).toBe(res.headers['x-request-id']);
    expect(res.body.model).toEqual({ name: 'tiny', version: '7' });
    const [p] = res.body.predictions;
    expect(p.id).toBe(res.body.requestId);
    expect(['cat', 'dog']).toContain(p.label);
    expect(p.topK).toHaveLength(2); // all classes when the model has at most 10
    expect(p.topK[0]).toEqual({ label: p.label, index: p.index, score: p.score });
    expect(p.topK.map((c: { index: number }) => c.index).sort()).toEqual([0, 1]);
    expect(['cat', 'dog'][p.index]).toBe(p.label);
    expect(p.topK[0].score + p.topK[1].score).toBeCloseTo(1, 6);
  });

  test('an incoming X-Request-Id is honoured', async () => {
    const res = await predict(h.server, good).set('X-Request-Id', 'client-abc.1');
    expect(res.headers['x-request-id']).toBe('client-abc.1');
    expect(res.body.predictions[0].id).toBe('client-abc.1');
    const unsafe = await predict(h.server, good).set('X-Request-Id', 'has spaces and "quotes"');
    expect(unsafe.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/); // replaced, never echoed
  });

  test("an incoming X-Request-Id with ':' is replaced, so it cannot take a batch's prediction id", async () => {
    const single = await predict(h.server, good).set('X-Request-Id', 'clash:0');
    expect(single.body.predictions[0].id).toMatch(/^[0-9a-f-]{36}$/);
    const batch = await request(h.server)
      .post('/predict')
      .set('X-Request-Id', 'clash')
      .attach('a', good, 'a.jpg')
      .attach('b', good, 'b.jpg');
    expect(batch.body.predictions.map((p: { id: string }) => p.id)).toEqual(['clash:0', 'clash:1']);
    const predicted = batch.body.predictions[0].label as string;
    const fb = await request(h.server)
      .post('/feedback')
      .send({ requestId: 'clash:0', label: predicted, predictedLabel: predicted });
    expect(fb.status).toBe(200);
    expect(fb.body.counted).toBe(true);
  });

  test('PNG and WebP bodies are accepted', async () => {
    const png = await sharp(good).png().toBuffer();
    const webp = await sharp(good).webp().toBuffer();
    expect((await predict(h.server, png, 'image/png')).status).toBe(200);
    expect((await predict(h.server, webp, 'image/webp')).status).toBe(200);
  });

  test('top_k limits the class list; a bad top_k is 400', async () => {
    const one = await predict(h.server, good).query({ top_k: 1 });
    expect(one.body.predictions[0].topK).toHaveLength(1);
    const bad = await predict(h.server, good).query({ top_k: 'many' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_top_k');
    expect((await predict(h.server, good).query({ top_k: 0 })).status).toBe(400);
    const many = await predict(h.server, good).query({ top_k: 50 });
    expect(many.body.predictions[0].topK).toHaveLength(2); // at most every class
  });

  test('multipart images run as one batch and get <requestId>:<index> ids', async () => {
    const before4 = await metricValue(h.server, /^inference_batch_size_bucket\{le="4"\}/);
    const before2 = await metricValue(h.server, /^inference_batch_size_bucket\{le="2"\}/);
    const preprocessCount = /^inference_preprocess_duration_seconds_count /;
    const inferenceCount = /^inference_duration_seconds_count /;
    const [beforePre, beforeInf] = [
      await metricValue(h.server, preprocessCount),
      await metricValue(h.server, inferenceCount),
    ];
    const res = await request(h.server)
      .post('/predict')
      .set('X-Request-Id', 'multi-1')
      .attach('a', good, 'a.jpg')
      .attach('b', good, 'b.jpg')
      .attach('c', await sharp(good).png().toBuffer(), 'c.png');
    expect(res.status).toBe(200);
    expect(res.body.predictions.map((p: { id: string }) => p.id)).toEqual([
      'multi-1:0',
      'multi-1:1',
      'multi-1:2',
    ]);
    expect(res.body.predictions[0].topK).toEqual(res.body.predictions[1].topK); // same image, same scores
    // one model run of 3 images: the le=4 bucket grows by one, the le=2 bucket does not
    expect(await metricValue(h.server, /^inference_batch_size_bucket\{le="4"\}/)).toBe(before4 + 1);
    expect(await metricValue(h.server, /^inference_batch_size_bucket\{le="2"\}/)).toBe(before2);
    // and one request's preprocessing and one model run timed
    expect(await metricValue(h.server, preprocessCount)).toBe(beforePre + 1);
    expect(await metricValue(h.server, inferenceCount)).toBe(beforeInf + 1);
  });

  test('JSON base64 instances are accepted', async () => {
    const res = await request(h.server)
      .post('/predict')
      .send({ instances: [{ b64: good.toString('base64') }, { b64: good.toString('base64') }] });
    expect(res.status).toBe(200);
    expect(res.body.predictions).toHaveLength(2);
  });

  test('GET /model describes the model', async () => {
    const res = await request(h.server).get('/model');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      name: 'tiny',
      version: '7',
      sha256: files.sha256,
      files: files.files,
      input: {
        name: 'input',
        shape: ['batch', 3, 32, 32],
        type: 'float32',
        layout: 'NCHW',
        channelOrder: 'RGB',
      },
      output: { name: 'logits', kind: 'logits', classes: 2 },
      labels: ['cat', 'dog'],
      preprocessing: { resize: 'squash' },
      loadedAt: '2026-01-01T00:00:00.000Z',
    });
  });

  test('GET /metrics exposes every metric of the contract with its type and buckets', async () => {
    await predict(h.server, good);
    await request(h.server).get('/nope'); // one error, so inference_errors_total has a sample
    const res = await request(h.server).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const contract: Array<[string, string]> = [
      ['http_requests_total', 'counter'],
      ['http_request_duration_seconds', 'histogram'],
      ['http_requests_in_flight', 'gauge'],
      ['inference_preprocess_duration_seconds', 'histogram'],
      ['inference_duration_seconds', 'histogram'],
      ['inference_batch_size', 'histogram'],
      ['inference_queue_depth', 'gauge'],
      ['inference_predictions_total', 'counter'],
      ['inference_errors_total', 'counter'],
      ['model_info', 'gauge'],
      ['model_load_duration_seconds', 'gauge'],
      ['inference_feedback_total', 'counter'],
      ['process_cpu_seconds_total', 'counter'],
      ['process_resident_memory_bytes', 'gauge'],
      ['nodejs_eventloop_lag_seconds', 'gauge'],
      ['nodejs_gc_duration_seconds', 'histogram'],
    ];
    for (const [name, type] of contract) expect(res.text).toContain(`# TYPE ${name} ${type}\n`);
    const buckets = (name: string) =>
      [...res.text.matchAll(new RegExp(`^${name}_bucket\\{(?:[^}]*,)?le="([^"]+)"`, 'gm'))]
        .map((m) => m[1])
        .filter((le, i, all) => all.indexOf(le) === i);
    const latency = [
      '0.001',
      '0.0025',
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.1',
      '0.25',
      '0.5',
      '1',
      '2.5',
      '5',
      '10',
    ];
    expect(buckets('http_request_duration_seconds')).toEqual([...latency, '+Inf']);
    expect(buckets('inference_preprocess_duration_seconds')).toEqual([...latency, '+Inf']);
    expect(buckets('inference_duration_seconds')).toEqual([...latency, '+Inf']);
    expect(buckets('inference_batch_size')).toEqual(['1', '2', '4', '8', '16', '32', '64', '+Inf']);
    expect(res.text).toContain(`model_info{name="tiny",version="7",sha256="${files.sha256}"} 1`);
    expect(res.text).toMatch(
      /^http_request_duration_seconds_bucket\{le="0\.001",route="\/predict",method="POST",status="200"\}/m,
    );
    expect(res.text).toMatch(/^http_requests_total\{route="unmatched",method="GET",status="404"\} 1$/m);
    expect(res.text).toMatch(/^inference_predictions_total\{label="(cat|dog)",model_version="7"\} \d+/m);
    expect(res.text).toMatch(/^inference_errors_total\{reason="not_found"\} 1$/m);
    expect(res.text).toMatch(/^model_load_duration_seconds 0\.25$/m);
  });

  test('unknown routes are a JSON 404', async () => {
    const res = await request(h.server).get('/nope');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });

  test.each([
    ['GET', '/predict', 'POST', 'use POST'],
    ['OPTIONS', '/health', 'GET, HEAD', 'use GET or HEAD'],
    ['PUT', '/feedback', 'POST', 'use POST'],
    ['DELETE', '/model', 'GET, HEAD', 'use GET or HEAD'],
    ['POST', '/docs/swagger-ui.css', 'GET, HEAD', 'use GET or HEAD'],
  ])(
    'fails when the path does not serve the method: %s %s is 405 with Allow: %s',
    async (method, path, allow, use) => {
      const res = await request(h.server)[method.toLowerCase() as 'get'](path);
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe(allow);
      expect(res.headers['x-request-id']).toEqual(expect.any(String));
      expect(res.body).toEqual({
        error: {
          code: 'method_not_allowed',
          message: `method ${method} is not allowed on '${path}': ${use}`,
        },
      });
    },
  );

  test('HEAD is served wherever GET is, and is a 405 where only POST is', async () => {
    for (const path of [
      '/health',
      '/ready',
      '/model',
      '/metrics',
      '/openapi.json',
      '/docs',
      '/v2',
      '/v2/health/live',
    ]) {
      const get = (await request(h.server).get(path)).status;
      expect([path, get, (await request(h.server).head(path)).status]).toEqual([path, 200, 200]);
    }
    const res = await request(h.server).head('/predict');
    expect([res.status, res.headers.allow]).toEqual([405, 'POST']);
  });

  test('a 405 is counted as 4xx under the bounded route label unmatched, not as the path it names', async () => {
    const before = await metricValue(
      h.server,
      /^http_requests_total\{route="unmatched",method="GET",status="405"\}/,
    );
    await request(h.server).get('/predict');
    await request(h.server).get('/v2/models/some-name/infer');
    const text = (await request(h.server).get('/metrics')).text;
    expect(text).toMatch(
      new RegExp(`^http_requests_total\\{route="unmatched",method="GET",status="405"\\} ${before + 2}$`, 'm'),
    );
    expect(text).not.toMatch(/^http_requests_total\{route="\/predict",method="GET"/m);
    expect(text).not.toMatch(/^http_requests_total\{route="[^"]*",method="GET",status="5/m);
    expect(text).toMatch(/^inference_errors_total\{reason="method_not_allowed"\} \d+$/m);
  });
});

describe('a model with 1000 labels, some names repeated (ImageNet names crane and maillot twice)', () => {
  test('is served: each prediction and top-k entry carries its class index next to the label', async () => {
    const labels = Array.from({ length: 1000 }, (_, i) => `class ${i}`);
    labels[134] = labels[517] = 'crane';
    labels[638] = labels[639] = 'maillot';
    const dir = tempDir('labels-1000-');
    try {
      const built = buildSimpleCnn({ inputSize: 32, channels: [4, 4, 4], hidden: 8, seed: 11, labels });
      writeMlflowModelDir(dir.dir, built);
      const h = await startHarness({ model: await readModelFiles(dir.dir) });
      try {
        const res = await request(h.server)
          .post('/predict?top_k=1000')
          .set('Content-Type', 'image/jpeg')
          .send(good);
        expect(res.status).toBe(200);
        const p = res.body.predictions[0] as {
          label: string;
          index: number;
          topK: { label: string; index: number }[];
        };
        expect(labels[p.index]).toBe(p.label);
        expect(p.topK).toHaveLength(1000);
        expect(new Set(p.topK.map((c) => c.index)).size).toBe(1000);
        for (const c of p.topK) expect(labels[c.index]).toBe(c.label);
        expect(
          p.topK
            .filter((c) => c.label === 'crane')
            .map((c) => c.index)
            .sort((a, b) => a - b),
        ).toEqual([134, 517]);
        expect((await request(h.server).get('/model')).body.labels).toEqual(labels);
      } finally {
        await h.close();
      }
    } finally {
      dir.cleanup();
    }
  });
});

describe('bad inputs get the right 4xx and the next request succeeds', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  const cases: Array<[string, () => Promise<request.Response>, number, string]> = [
    ['empty body', () => predict(h.server, Buffer.alloc(0)), 400, 'image_empty'],
    [
      'truncated JPEG',
      async () => {
        const jpeg = await noisyJpeg(320, 240, 5);
        return predict(h.server, jpeg.subarray(0, Math.floor(jpeg.length / 2)));
      },
      400,
      'image_undecodable',
    ],
    [
      'PNG header followed by garbage',
      () =>
        predict(
          h.server,
          Buffer.concat([pngHeaderOnly(1, 1).subarray(0, 8), Buffer.alloc(64, 7)]),
          'image/png',
        ),
      400,
      'image_undecodable',
    ],
    [
      'text sent as image/jpeg',
      () => predict(h.server, Buffer.from('just some text')),
      400,
      'image_undecodable',
    ],
    [
      'PNG header declaring 50000x50000',
      () => predict(h.server, pngHeaderOnly(50_000, 50_000), 'image/png'),
      422,
      'image_too_large',
    ],
    ['wrong content type', () => predict(h.server, good, 'text/plain'), 415, 'unsupported_media_type'],
    [
      'oversized body',
      () => predict(h.server, Buffer.alloc(LIMITS.maxBodyBytes + 1, 1)),
      413,
      'body_too_large',
    ],
    [
      'oversized multipart body',
      () =>
        request(h.server)
          .post('/predict')
          .attach('a', Buffer.alloc(LIMITS.maxBodyBytes / 2, 1), 'a.jpg')
          .attach('b', Buffer.alloc(LIMITS.maxBodyBytes / 2, 1), 'b.jpg'),
      413,
      'body_too_large',
    ],
    [
      'multipart body cut off inside a file part',
      () =>
        request(h.server)
          .post('/predict')
          .set('Content-Type', 'multipart/form-data; boundary=xyz')
          .send(
            Buffer.from('--xyz\r\nContent-Disposition: form-data; name="f"; filename="x.jpg"\r\n\r\nabc'),
          ),
      400,
      'invalid_multipart',
    ],
    [
      'multipart body without a boundary',
      () =>
        request(h.server).post('/predict').set('Content-Type', 'multipart/form-data').send(Buffer.from('x')),
      400,
      'invalid_multipart',
    ],
    [
      'malformed JSON',
      () =>
        request(h.server).post('/predict').set('Content-Type', 'application/json').send('{"instances": [}'),
      400,
      'invalid_json',
    ],
    [
      'malformed base64',
      () =>
        request(h.server)
          .post('/predict')
          .send({ instances: [{ b64: 'not*base64!' }] }),
      400,
      'invalid_base64',
    ],
    [
      'base64 with one character outside the alphabet',
      () => {
        const b64 = good.toString('base64');
        return request(h.server)
          .post('/predict')
          .send({ instances: [{ b64: `${b64.slice(0, 100)}*${b64.slice(101)}` }] });
      },
      400,
      'invalid_base64',
    ],
    [
      'base64 with padding in the middle',
      () =>
        request(h.server)
          .post('/predict')
          .send({ instances: [{ b64: `AA==${good.toString('base64')}` }] }),
      400,
      'invalid_base64',
    ],
    [
      'JSON without instances',
      () => request(h.server).post('/predict').send({ images: [] }),
      400,
      'invalid_request',
    ],
    [
      'too many images',
      () =>
        request(h.server)
          .post('/predict')
          .send({ instances: Array(5).fill({ b64: good.toString('base64') }) }),
      413,
      'too_many_images',
    ],
  ];

  test.each(cases)('%s', async (_name, send, status, code) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe('string');
    const next = await predict(h.server, good);
    expect(next.status).toBe(200);
  });

  test('a chunked raw body over MAX_BODY_BYTES is a 413 (not a reset connection)', async () => {
    const status = await postChunked(h.server, 'image/jpeg', Buffer.alloc(LIMITS.maxBodyBytes * 8, 1));
    expect(status).toBe(413);
    expect((await predict(h.server, good)).status).toBe(200);
  });

  test('a chunked multipart body whose fields exceed MAX_BODY_BYTES is a 413', async () => {
    const part = (headers: string, body: Buffer | string) =>
      Buffer.concat([Buffer.from(`--b0\r\n${headers}\r\n\r\n`), Buffer.from(body), Buffer.from('\r\n')]);
    const field = part('Content-Disposition: form-data; name="note"', 'x'.repeat(60 * 1024));
    const body = Buffer.concat([
      ...Array<Buffer>(6).fill(field), // 360 KiB of fields > 256 KiB, never a file byte over the limit
      part('Content-Disposition: form-data; name="f"; filename="a.jpg"', good),
      Buffer.from('--b0--\r\n'),
    ]);
    const status = await postChunked(h.server, 'multipart/form-data; boundary=b0', body);
    expect(status).toBe(413);
    expect((await predict(h.server, good)).status).toBe(200);
  });

  test.each([
    ['/predict', 'image/jpeg'],
    ['/feedback', 'application/json'],
  ])(
    'a client that disconnects mid-body on %s is counted as client_aborted and does not hurt the server',
    async (path, type) => {
      const port = (h.server.address() as AddressInfo).port;
      const errors = async (reason: string): Promise<number> =>
        metricValue(h.server, new RegExp(`^inference_errors_total\\{reason="${reason}"\\}`));
      const before = await Promise.all(['client_aborted', 'invalid_json', 'internal_error'].map(errors));
      await new Promise<void>((resolve) => {
        const req = httpRequest({
          host: '127.0.0.1',
          port,
          method: 'POST',
          path,
          headers: { 'Content-Type': type, 'Content-Length': good.length },
        });
        req.on('error', () => resolve());
        req.write(good.subarray(0, 100), () => setTimeout(() => req.destroy(), 50));
      });
      await waitFor(
        async () => (await errors('client_aborted')) === (before[0] as number) + 1,
        'the aborted request to be counted',
      );
      expect([await errors('invalid_json'), await errors('internal_error')]).toEqual(before.slice(1));
      expect((await predict(h.server, good)).status).toBe(200);
    },
  );

  test('errors are counted by reason', async () => {
    const line = /^inference_errors_total\{reason="image_undecodable"\}/;
    const before = await metricValue(h.server, line);
    expect((await predict(h.server, Buffer.from('not an image'))).status).toBe(400);
    expect(await metricValue(h.server, line)).toBe(before + 1);
  });
});

describe('readiness and draining', () => {
  test('GET /ready and POST /predict are 503 while the model loads', async () => {
    const state = new ServiceState({ name: 'tiny', version: '7' });
    const app = createApp({
      state,
      limits: LIMITS,
      metrics: createMetrics({ defaultMetrics: false }),
      logger: silent,
    });
    const ready = await request(app).get('/ready');
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ status: 'not_ready', reason: 'model_loading' });
    const res = await request(app).post('/predict').set('Content-Type', 'image/jpeg').send(good);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('not_ready');
    expect((await request(app).get('/health')).status).toBe(200);
  });

  test('GET /ready is 503 draining once draining starts', async () => {
    const h = await startHarness();
    try {
      h.state.startDraining();
      const res = await request(h.server).get('/ready');
      expect(res.status).toBe(503);
      expect(res.body.reason).toBe('draining');
    } finally {
      await h.close();
    }
  });
});

describe('connections while draining', () => {
  /** A request on `agent`'s pooled connections: the status and the Connection header of the answer. */
  function exchange(
    server: Server,
    agent: Agent,
    method: string,
    path: string,
    body?: Buffer,
  ): Promise<{ status: number; connection: string | undefined }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: (server.address() as AddressInfo).port,
          method,
          path,
          agent,
          headers: body ? { 'Content-Type': 'image/jpeg', 'Content-Length': body.length } : {},
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  test('once draining, every answer says Connection: close, also to a request that arrived before', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = await startHarness({ beforeRun: () => gate });
    const agent = new Agent({ keepAlive: true });
    try {
      expect(await exchange(h.server, agent, 'GET', '/health')).toEqual({
        status: 200,
        connection: 'keep-alive',
      });
      const inFlight = exchange(h.server, agent, 'POST', '/predict', good);
      await waitFor(() => h.pool.busyWorkers === 1, 'the request to reach the held worker');
      h.state.startDraining();
      // Clients must move to other pods: their pool must not reuse a connection the server will close.
      expect(await exchange(h.server, agent, 'GET', '/health')).toEqual({ status: 200, connection: 'close' });
      expect(await exchange(h.server, agent, 'GET', '/nope')).toEqual({ status: 404, connection: 'close' });
      release();
      expect(await inFlight).toEqual({ status: 200, connection: 'close' });
      expect(await exchange(h.server, agent, 'POST', '/predict', good)).toEqual({
        status: 200,
        connection: 'close',
      });
    } finally {
      release();
      agent.destroy();
      await h.close();
    }
  });
});

describe('logs', () => {
  function captured(): {
    logger: pino.Logger;
    lines: () => Array<Record<string, unknown>>;
    text: () => string;
  } {
    let text = '';
    const logger = pino({ level: 'info' }, { write: (chunk: string) => (text += chunk) });
    const lines = () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { logger, lines, text: () => text };
  }

  test('one line per request with id, route, status, latency and model version; never the image', async () => {
    const log = captured();
    const h = await startHarness({ logger: log.logger });
    try {
      const b64 = good.toString('base64');
      await request(h.server)
        .post('/predict')
        .set('X-Request-Id', 'log-1')
        .send({ instances: [{ b64 }] });
      const requests = log.lines().filter((l) => l.msg === 'request');
      expect(requests).toHaveLength(1);
      expect(requests[0]).toMatchObject({
        requestId: 'log-1',
        method: 'POST',
        route: '/predict',
        status: 200,
        modelVersion: '7',
        latencyMs: expect.any(Number),
      });
      expect(log.text()).not.toContain(b64.slice(0, 64));
    } finally {
      await h.close();
    }
  });

  test('a failed inference answers a generic 500 and logs its cause', async () => {
    const log = captured();
    const h = await startHarness({
      logger: log.logger,
      // A worker that dies on its first job, like a native crash in ONNX Runtime.
      spawnWorker: (init) =>
        spawnRealWorker(
          init,
          "require('node:worker_threads').parentPort.on('message', (m) => { if (m.type === 'run') process.exit(70); })",
        ),
    });
    try {
      const res = await predict(h.server, good).set('X-Request-Id', 'log-500');
      expect(res.status).toBe(500);
      expect(res.body.error).toEqual({ code: 'inference_failed', message: 'internal error' });
      const failed = log.lines().find((l) => l.msg === 'request failed');
      expect(failed).toMatchObject({
        requestId: 'log-500',
        err: { message: 'the inference worker stopped' },
      });
    } finally {
      await h.close();
    }
  });
});

describe('a pool without a live worker', () => {
  test('GET /ready is 503 no_inference_worker and POST /predict fails at once with 503', async () => {
    const h = await startHarness({ maxConsecutiveFailures: 0 }); // the first crash is final
    try {
      const failed = new Promise((resolve) => h.pool.once('failed', resolve));
      const slots = (h.pool as unknown as { slots: Array<{ worker: { terminate(): Promise<number> } }> })
        .slots;
      await slots[0]?.worker.terminate();
      await failed;
      const ready = await request(h.server).get('/ready');
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual({ status: 'not_ready', reason: 'no_inference_worker' });
      const res = await predict(h.server, good);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.body.error.code).toBe('no_inference_worker');
      expect((await request(h.server).get('/health')).status).toBe(200);
    } finally {
      await h.close();
    }
  });
});

describe('load shedding', () => {
  test('a full queue answers 503 with Retry-After at once', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = await startHarness({ queueMax: 1, beforeRun: () => gate });
    try {
      const first = predict(h.server, good).then((r) => r);
      await waitFor(() => h.pool.busyWorkers === 1, 'the first request to hold the worker');
      const second = predict(h.server, good).then((r) => r);
      await waitFor(() => h.pool.queueDepth === 1, 'the second request to wait in the queue');
      const third = await predict(h.server, good);
      expect(third.status).toBe(503);
      expect(third.headers['retry-after']).toBe('1');
      expect(third.body.error.code).toBe('queue_full');
      release();
      expect((await first).status).toBe(200);
      expect((await second).status).toBe(200);
    } finally {
      release();
      await h.close();
    }
  });

  test('a body that would exceed MAX_BUFFERED_BODY_BYTES gets 503 overloaded; the budget is returned after each response', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const big = await noisyJpeg(640, 480);
    const h = await startHarness({
      limits: { maxBufferedBodyBytes: Math.floor(big.length * 1.5) },
      beforeRun: () => gate,
    });
    try {
      const first = predict(h.server, big).then((r) => r); // its body stays held while the gate is shut
      await waitFor(() => h.pool.busyWorkers === 1, 'the first request to hold the worker');
      const second = await predict(h.server, big);
      expect(second.status).toBe(503);
      expect(second.headers['retry-after']).toBe('1');
      expect(second.body.error.code).toBe('overloaded');
      release();
      expect((await first).status).toBe(200);
      expect((await predict(h.server, big)).status).toBe(200);
      expect((await predict(h.server, big)).status).toBe(200);
    } finally {
      release();
      await h.close();
    }
  });

  test('a client that leaves while its image waits is counted as 499, not as the 200 written after it left', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = await startHarness({ beforeRun: () => gate });
    try {
      const req = sendAbandonable(h.server, good);
      await waitFor(() => h.pool.busyWorkers === 1, 'the image to reach the held worker');
      req.destroy();
      const count = (status: string): Promise<number> =>
        metricValue(
          h.server,
          new RegExp(`^http_requests_total\\{route="/predict",method="POST",status="${status}"\\}`),
        );
      await waitFor(async () => (await count('499')) === 1, 'the request to be counted as 499');
      release();
      await waitFor(() => h.pool.busyWorkers === 0, 'the worker to finish the image');
      expect(await count('200')).toBe(0);
      expect((await predict(h.server, good)).status).toBe(200);
      expect(await count('200')).toBe(1);
    } finally {
      release();
      await h.close();
    }
  });

  test('a request whose client leaves while it waits in the queue leaves the queue: it never runs, nor keeps a later request out', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = await startHarness({ queueMax: 2, beforeRun: () => gate });
    try {
      const first = predict(h.server, good).then((r) => r); // holds the worker at the gate
      await waitFor(() => h.pool.busyWorkers === 1, 'the first request to hold the worker');
      const leavers = [0, 1].map(() => sendAbandonable(h.server, good));
      await waitFor(() => h.pool.queueDepth === 2, 'both to wait in the queue');
      for (const req of leavers) req.destroy();
      await waitFor(() => h.pool.queueDepth === 0, 'the queue to drop the jobs of the clients that left');
      const later = predict(h.server, good).then((r) => r);
      await waitFor(() => h.pool.queueDepth === 1, 'the later request to be queued, not refused');
      release();
      expect((await first).status).toBe(200);
      expect((await later).status).toBe(200);
      expect(h.pool.runs).toBe(2);
    } finally {
      release();
      await h.close();
    }
  });

  test('a request that waits past REQUEST_TIMEOUT_MS gets 504 and never reaches the model', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = await startHarness({ limits: { requestTimeoutMs: 200 }, beforeRun: () => gate });
    try {
      const res = await predict(h.server, good);
      expect(res.status).toBe(504);
      expect(res.body.error.code).toBe('timeout');
      release();
      await waitFor(() => h.pool.busyWorkers === 0, 'the worker slot to be freed');
      expect(h.pool.runs).toBe(0); // dropped before inference
      const next = await predict(h.server, good);
      expect(next.status).toBe(200);
      expect(h.pool.runs).toBe(1);
    } finally {
      release();
      await h.close();
    }
  });
});

describe('POST /feedback', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  const feedback = (body: object) => request(h.server).post('/feedback').send(body);

  test('counts feedback once per prediction into inference_feedback_total', async () => {
    const res = await predict(h.server, good).set('X-Request-Id', 'fb-1');
    const predicted = res.body.predictions[0].label as string;
    const truth = predicted === 'cat' ? 'dog' : 'cat';
    const first = await feedback({ requestId: 'fb-1', label: truth });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ requestId: 'fb-1', label: truth, predictedLabel: predicted, counted: true });
    const again = await feedback({ requestId: 'fb-1', label: truth, predictedLabel: predicted });
    expect(again.status).toBe(200);
    expect(again.body.counted).toBe(false);
    const line = new RegExp(
      `^inference_feedback_total\\{model_version="7",true_label="${truth}",predicted_label="${predicted}"\\}`,
    );
    expect(await metricValue(h.server, line)).toBe(1);
  });

  test('multi-image predictions take feedback per <requestId>:<index>', async () => {
    await request(h.server)
      .post('/predict')
      .set('X-Request-Id', 'fb-multi')
      .send({ instances: [{ b64: good.toString('base64') }, { b64: good.toString('base64') }] });
    expect((await feedback({ requestId: 'fb-multi:1', label: 'cat' })).status).toBe(200);
    expect((await feedback({ requestId: 'fb-multi', label: 'cat' })).status).toBe(404);
  });

  test('fails with 404 when the id is unknown', async () => {
    const res = await feedback({ requestId: 'never-seen', label: 'cat' });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('prediction_not_found');
  });

  test('fails with 410 when the prediction is older than the TTL', async () => {
    await predict(h.server, good).set('X-Request-Id', 'fb-old');
    h.clock.now += 60_001;
    const res = await feedback({ requestId: 'fb-old', label: 'cat' });
    expect(res.status).toBe(410);
    expect(res.body.error.code).toBe('prediction_expired');
  });

  test('fails with 400 when the label is not one of the model', async () => {
    await predict(h.server, good).set('X-Request-Id', 'fb-label');
    const res = await feedback({ requestId: 'fb-label', label: 'hamster' });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({
      code: 'unknown_label',
      message: "'label' 'hamster' is not a label of the model (cat, dog)",
    });
  });

  test('fails with 409 when the given predicted label is not what was predicted', async () => {
    const res = await predict(h.server, good).set('X-Request-Id', 'fb-mismatch');
    const other = res.body.predictions[0].label === 'cat' ? 'dog' : 'cat';
    const fb = await feedback({ requestId: 'fb-mismatch', label: 'cat', predictedLabel: other });
    expect(fb.status).toBe(409);
    expect(fb.body.error.code).toBe('prediction_mismatch');
  });

  test('fails with 413 naming the /feedback limit when the body is over 64 KiB', async () => {
    const res = await feedback({ requestId: 'x', label: 'cat'.repeat(30_000) });
    expect(res.status).toBe(413);
    expect(res.body.error.message).toBe('the request body is larger than 65536 bytes (the /feedback limit)');
  });

  test('fails with 400 on a malformed body', async () => {
    const res = await feedback({ requestId: 'x' });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain("'label'");
  });
});
