import type { Worker } from 'node:worker_threads';
import { InferencePool, type InferencePoolEvents } from '../src/inference/pool';
import type { WorkerInit } from '../src/inference/protocol';
import { readModelFiles, type ModelFiles } from '../src/model/format';
import { buildIdentityModel, writeModelDir } from '../src/model/onnx-builder';
import { preprocessImage } from '../src/preprocess';
import { noisyJpeg, pngFrom, spawnRealWorker, tempDir, waitFor } from './helpers';

let tmp: ReturnType<typeof tempDir>;
let files: ModelFiles;
beforeAll(async () => {
  tmp = tempDir();
  writeModelDir(tmp.dir, buildIdentityModel());
  files = await readModelFiles(tmp.dir);
});
afterAll(() => tmp.cleanup());
// 2x2 RGB, row-major.
const PIXELS = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120];

describe('InferencePool', () => {
  test('many concurrent jobs on two workers each get their own result', async () => {
    const pool = await InferencePool.start({ files, workers: 2, queueMax: 100 });
    try {
      const inputs = Array.from({ length: 40 }, (_, j) =>
        Float32Array.from({ length: 12 }, (_, i) => j * 100 + i),
      );
      const expected = inputs.map((x) => Array.from(x));
      const results = await Promise.all(inputs.map((x) => pool.run(x, 1, Infinity)));
      expect(results.map((r) => Array.from(r.scores))).toEqual(expected);
      expect(pool.runs).toBe(40);
    } finally {
      await pool.close();
    }
  });

  test('predict reports the first bad image by index, not the first one to fail', async () => {
    const pool = await InferencePool.start({ files, workers: 1, queueMax: 4 });
    try {
      const png = await pngFrom(PIXELS, 2, 2);
      const jpeg = await noisyJpeg(1280, 960);
      const truncated = jpeg.subarray(0, Math.floor(jpeg.length * 0.9)); // fails late, after decoding
      const garbage = Buffer.from('not an image'); // fails at once
      await expect(pool.predict([png, truncated, garbage], Infinity)).rejects.toMatchObject({
        index: 1,
        code: 'image_undecodable',
      });
    } finally {
      await pool.close();
    }
  });

  test('predict runs exactly what preprocessImage makes; a bad image is named by its index', async () => {
    const pool = await InferencePool.start({ files, workers: 1, queueMax: 4, maxImagePixels: 100 });
    try {
      const png = await pngFrom([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120], 2, 2);
      const expected = await preprocessImage(png, files.metadata, { maxPixels: 100 });
      const both = await pool.predict([png, png], Infinity);
      expect(Array.from(both.scores)).toEqual([...expected, ...expected]);
      expect(both.preprocessSeconds).toBeGreaterThan(0);
      await expect(pool.predict([png, Buffer.from('not an image')], Infinity)).rejects.toMatchObject({
        name: 'ImageError',
        index: 1,
        code: 'image_undecodable',
      });
      await expect(
        pool.predict([await pngFrom(new Array(11 * 11 * 3).fill(0), 11, 11)], Infinity),
      ).rejects.toMatchObject({
        index: 0,
        code: 'image_too_large',
      });
      // The pool still serves.
      expect(Array.from((await pool.predict([png], Infinity)).scores)).toEqual(Array.from(expected));
    } finally {
      await pool.close();
    }
  });

  test('buffers handed back and forth between pool and workers never mix images (single, batch, after a bad image, after run())', async () => {
    // The identity model answers its input: a value left over from an earlier image would show in the scores.
    const pool = await InferencePool.start({ files, workers: 2, queueMax: 8, maxImagePixels: 100 });
    try {
      const pngs = await Promise.all(
        [0, 1, 2].map((k) =>
          pngFrom(
            PIXELS.map((v) => v + 40 * k),
            2,
            2,
          ),
        ),
      );
      const expected = await Promise.all(
        pngs.map(async (png) => Array.from(await preprocessImage(png, files.metadata, { maxPixels: 100 }))),
      );
      for (let round = 0; round < 3; round++) {
        const singles = await Promise.all(pngs.map((png) => pool.predict([png], Infinity)));
        expect(singles.map((r) => Array.from(r.scores))).toEqual(expected);
        const batch = await pool.predict([pngs[2] as Buffer, pngs[0] as Buffer], Infinity);
        expect(Array.from(batch.scores)).toEqual([
          ...(expected[2] as number[]),
          ...(expected[0] as number[]),
        ]);
        // A bad image gives its buffer back unused; the next image still gets all its own values.
        await expect(pool.predict([Buffer.from('not an image')], Infinity)).rejects.toMatchObject({
          index: 0,
        });
      }
      // run() hands over (transfers) the caller's buffer, which the pool may reuse later.
      const own = new Float32Array(12).fill(3);
      expect(Array.from((await pool.run(own, 1, Infinity)).scores)).toEqual(new Array(12).fill(3));
      expect(own.length).toBe(0);
      expect(Array.from((await pool.predict([pngs[1] as Buffer], Infinity)).scores)).toEqual(expected[1]);
    } finally {
      await pool.close();
    }
  });

  test('close() fails waiting jobs with shutting_down, refuses new ones and lets the running job finish', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const pool = await InferencePool.start({ files, workers: 1, queueMax: 5, beforeRun: () => gate });
    const running = pool.run(new Float32Array(12), 1, Infinity);
    const closed = (async () => {
      await waitFor(() => pool.busyWorkers === 1, 'the first job to hold the worker');
      const waiting = pool.run(new Float32Array(12), 1, Infinity);
      const closing = pool.close();
      return { waiting, closing };
    })();
    try {
      const { waiting } = await closed;
      await expect(waiting).rejects.toMatchObject({ code: 'shutting_down' });
      expect(() => pool.admit()).toThrow('shutting down');
      await expect(pool.run(new Float32Array(12), 1, Infinity)).rejects.toMatchObject({
        code: 'shutting_down',
      });
    } finally {
      release(); // whatever happened above, let the running job and close() finish
    }
    expect(Array.from((await running).scores)).toEqual(new Array(12).fill(0));
    await (
      await closed
    ).closing;
  });

  test('a failed run is inference_failed and the worker keeps serving', async () => {
    const pool = await InferencePool.start({ files, workers: 1, queueMax: 5 });
    try {
      await expect(pool.run(new Float32Array(5), 1, Infinity)).rejects.toMatchObject({
        code: 'inference_failed',
      });
      const ok = await pool.run(new Float32Array(12).fill(2), 1, Infinity);
      expect(Array.from(ok.scores)).toEqual(new Array(12).fill(2));
    } finally {
      await pool.close();
    }
  });

  test('a worker that dies is replaced', async () => {
    const pool = await InferencePool.start({ files, workers: 1, queueMax: 5 });
    try {
      // White-box: kill the only worker thread, as an out-of-memory abort would.
      const slots = (pool as unknown as { slots: Array<{ worker: Worker }> }).slots;
      const dead = slots[0]?.worker;
      await dead?.terminate();
      await waitFor(() => slots.length === 1 && slots[0]?.worker !== dead, 'a replacement worker');
      const ok = await pool.run(new Float32Array(12).fill(3), 1, Infinity);
      expect(Array.from(ok.scores)).toEqual(new Array(12).fill(3));
    } finally {
      await pool.close();
    }
  });

  test('a replacement that keeps failing to load is retried with back-off, then the pool gives up', async () => {
    let spawned = 0;
    // The first worker loads; every replacement gets unloadable model bytes, so ONNX Runtime refuses them.
    const spawnWorker = (init: WorkerInit): Worker =>
      spawnRealWorker(++spawned === 1 ? init : { ...init, onnx: new Uint8Array(16) });
    const pool = await InferencePool.start({
      files,
      workers: 1,
      queueMax: 5,
      restartDelayMs: 5,
      maxConsecutiveFailures: 3,
      spawnWorker,
    });
    const events = recordEvents(pool);
    try {
      const slots = (pool as unknown as { slots: Array<{ worker: Worker }> }).slots;
      await slots[0]?.worker.terminate();
      await waitFor(() => events.some((e) => e.event === 'failed'), 'the pool to give up');
      expect(events.map((e) => [e.event, e.info.retryInMs])).toEqual([
        ['worker-exit', 5],
        ['restart-failed', 10],
        ['restart-failed', 20],
        ['restart-failed', null],
        ['failed', undefined],
      ]);
      expect(events[1]?.info.error).toContain('ONNX Runtime cannot load the model');
      expect(spawned).toBe(4);
      expect(pool.liveWorkers).toBe(0);
      await expect(pool.run(new Float32Array(12), 1, Infinity)).rejects.toMatchObject({
        code: 'no_inference_worker',
        retryAfterSeconds: 1,
      });
      expect(() => pool.admit()).toThrow(expect.objectContaining({ code: 'no_inference_worker' }));
    } finally {
      await pool.close();
    }
  });

  test('when the last worker dies its job fails with inference_failed and waiting jobs get no_inference_worker at once', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const pool = await InferencePool.start({
      files,
      workers: 1,
      queueMax: 5,
      beforeRun: () => gate,
      restartDelayMs: 60_000, // the replacement does not come back during this test
    });
    try {
      const running = pool.run(new Float32Array(12), 1, Infinity);
      await waitFor(() => pool.busyWorkers === 1, 'the first job to hold the worker');
      const waiting = pool.run(new Float32Array(12), 1, Infinity); // no deadline: only the pool can end it
      expect(pool.queueDepth).toBe(1);
      const slots = (pool as unknown as { slots: Array<{ worker: Worker }> }).slots;
      await slots[0]?.worker.terminate();
      await expect(waiting).rejects.toMatchObject({ code: 'no_inference_worker' });
      await expect(running).rejects.toMatchObject({ code: 'inference_failed' });
      expect(pool.liveWorkers).toBe(0);
    } finally {
      release();
      await pool.close();
    }
  });

  test('a worker that crashes on its jobs is replaced until too many crashes in a row; a success resets the count', async () => {
    // Real workers that exit (like a native crash) when an input starts with -1.
    const spawnWorker = (init: WorkerInit): Worker =>
      spawnRealWorker(
        init,
        "require('node:worker_threads').parentPort.on('message', (m) => { if (m.type === 'run' && m.data[0] === -1) process.exit(70); })",
      );
    const pool = await InferencePool.start({
      files,
      workers: 1,
      queueMax: 5,
      restartDelayMs: 5,
      maxConsecutiveFailures: 1,
      spawnWorker,
    });
    const events = recordEvents(pool);
    const crash = () => pool.run(new Float32Array(12).fill(-1), 1, Infinity);
    try {
      await expect(crash()).rejects.toMatchObject({ code: 'inference_failed' });
      await waitFor(() => pool.liveWorkers === 1, 'the first replacement');
      expect(Array.from((await pool.run(new Float32Array(12).fill(4), 1, Infinity)).scores)).toEqual(
        new Array(12).fill(4),
      );
      await expect(crash()).rejects.toMatchObject({ code: 'inference_failed' });
      await waitFor(() => pool.liveWorkers === 1, 'the second replacement (the success reset the count)');
      await expect(crash()).rejects.toMatchObject({ code: 'inference_failed' });
      await waitFor(() => events.some((e) => e.event === 'failed'), 'the pool to give up');
      expect(events.map((e) => e.event)).toEqual([
        'worker-exit',
        'worker-restart',
        'worker-exit',
        'worker-restart',
        'worker-exit',
        'failed',
      ]);
      expect(events[0]?.info).toMatchObject({ exitCode: 70, liveWorkers: 0, retryInMs: 5 });
      expect(pool.liveWorkers).toBe(0);
    } finally {
      await pool.close();
    }
  });

  test('admits at most workers + queueMax requests; a released place can be reused', async () => {
    const pool = await InferencePool.start({ files, workers: 1, queueMax: 2 });
    try {
      const releases = [pool.admit(), pool.admit(), pool.admit()];
      expect(() => pool.admit()).toThrow(expect.objectContaining({ code: 'queue_full' }));
      releases[0]?.();
      releases[0]?.(); // idempotent
      expect(pool.admittedRequests).toBe(2);
      releases.push(pool.admit());
      expect(pool.admittedRequests).toBe(3);
    } finally {
      await pool.close();
    }
  });
});

type PoolEvent = { event: keyof InferencePoolEvents; info: { retryInMs?: number | null; error?: string } };

function recordEvents(pool: InferencePool): PoolEvent[] {
  const events: PoolEvent[] = [];
  for (const event of ['worker-exit', 'worker-restart', 'restart-failed', 'failed'] as const) {
    pool.on(event, (info: PoolEvent['info']) => events.push({ event, info }));
  }
  return events;
}
