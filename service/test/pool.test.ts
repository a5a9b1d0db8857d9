import type { Worker } from 'node:worker_threads';
import { InferencePool } from '../src/inference/pool';
import { readModelFiles, type ModelFiles } from '../src/model/loader';
import { buildIdentityModel, writeModelDir } from '../src/model/onnx-builder';
import { tempDir, waitFor } from './helpers';

let tmp: ReturnType<typeof tempDir>;
let files: ModelFiles;
beforeAll(async () => {
  tmp = tempDir();
  writeModelDir(tmp.dir, buildIdentityModel());
  files = await readModelFiles(tmp.dir);
});
afterAll(() => tmp.cleanup());

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

  test('close() fails waiting jobs with 503, refuses new ones and lets the running job finish', async () => {
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
      await expect(waiting).rejects.toMatchObject({ status: 503, code: 'shutting_down' });
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

  test('a failed run is a 500 inference_failed and the worker keeps serving', async () => {
    const pool = await InferencePool.start({ files, workers: 1, queueMax: 5 });
    try {
      await expect(pool.run(new Float32Array(5), 1, Infinity)).rejects.toMatchObject({
        status: 500,
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

  test('admits at most workers + queueMax requests; a released place can be reused', async () => {
    const pool = await InferencePool.start({ files, workers: 1, queueMax: 2 });
    try {
      const releases = [pool.admit(), pool.admit(), pool.admit()];
      expect(() => pool.admit()).toThrow(expect.objectContaining({ status: 503, code: 'queue_full' }));
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
