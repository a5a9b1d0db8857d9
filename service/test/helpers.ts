import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import pino from 'pino';
import sharp from 'sharp';
import { createApp, type AppLimits } from '../src/app';
import { InferencePool } from '../src/inference/pool';
import { sendLoad, type WorkerInit } from '../src/inference/protocol';
import { createMetrics, type ServiceMetrics } from '../src/metrics';
import type { ModelFiles } from '../src/model/format';
import { ServiceState } from '../src/state';
import { buildSimpleCnn, writeModelDir, type BuiltModel } from '../src/model/onnx-builder';

/** A temp dir removed by the returned cleanup. */
export function tempDir(prefix = 'svc-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A small, fast SimpleCNN (32x32, cat/dog) written to `dir`; returns its sha256. */
export function writeTinyCnn(dir: string, overrides: Partial<BuiltModel['metadata']> = {}): string {
  const model = buildSimpleCnn({ inputSize: 32, channels: [4, 8, 8], hidden: 8, seed: 7 });
  return writeModelDir(dir, { onnx: model.onnx, metadata: { ...model.metadata, ...overrides } });
}

/** A noisy RGB JPEG (noise makes it compress like a photo). */
export async function noisyJpeg(width = 640, height = 480, seed = 1): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  let s = seed;
  for (let i = 0; i < pixels.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    pixels[i] = (i % 3) * 60 + (s % 64);
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

/** A PNG from exact RGB(A) pixel values. */
export function pngFrom(
  pixels: number[],
  width: number,
  height: number,
  channels: 3 | 4 = 3,
): Promise<Buffer> {
  return sharp(Buffer.from(pixels), { raw: { width, height, channels } }).png().toBuffer();
}

/** A PNG whose IHDR declares width x height but which carries no pixel data: a decompression-bomb header. */
export function pngHeaderOnly(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.alloc(16)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Polls `check` every 20 ms, at most `tries` times; fails with `what` if it never holds. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  tries = 250,
): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const WORKER_TS = join(__dirname, '..', 'src', 'inference', 'worker.ts');

/**
 * Starts the real inference worker script (through tsx) with `init`, after running `prelude` in the
 * worker: a stand-in for the pool's own spawn, so tests can break a worker the way production breaks one.
 */
export function spawnRealWorker(init: WorkerInit, prelude = ''): Worker {
  const code = `${prelude};require('tsx/cjs/api').register();require(${JSON.stringify(WORKER_TS)});`;
  const worker = new Worker(code, { eval: true });
  sendLoad(worker, init);
  return worker;
}

/** A running app on 127.0.0.1 with a real worker pool on `files` (model `tiny`, version `7`). */
export interface TestService {
  readonly server: Server;
  readonly state: ServiceState;
  readonly pool: InferencePool;
  readonly metrics: ServiceMetrics;
  readonly url: string;
  close(): Promise<void>;
}

/** Starts {@link TestService}: `createApp` listening on a random port, one worker unless told. */
export async function startTestService(
  files: ModelFiles,
  opts: { limits?: Partial<AppLimits>; workers?: number; queueMax?: number } = {},
): Promise<TestService> {
  const pool = await InferencePool.start({
    files,
    workers: opts.workers ?? 1,
    queueMax: opts.queueMax ?? 16,
  });
  const state = new ServiceState({ name: 'tiny', version: '7' });
  state.setModel({
    sha256: files.sha256,
    metadataSha256: files.metadataSha256,
    files: files.files,
    metadata: files.metadata,
    loadedAt: new Date('2026-01-01T00:00:00Z'),
    loadSeconds: 0.25,
    engine: pool,
  });
  const metrics = createMetrics();
  const app = createApp({
    state,
    limits: {
      maxBodyBytes: 256 * 1024,
      maxImagesPerRequest: 4,
      requestTimeoutMs: 30_000,
      ...opts.limits,
    },
    metrics,
    logger: pino({ level: 'silent' }),
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    state,
    pool,
    metrics,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.close();
    },
  };
}

/** Seeded pseudo-random numbers in [0, 1), for fuzzing that replays: the project's one PRNG. */
export { seededRandom } from '../src/model/onnx-builder';
