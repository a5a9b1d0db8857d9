import sharp from 'sharp';
import { DEFAULT_MAX_IMAGE_PIXELS } from '../../service/src';
import { InferencePool } from '../../service/src/inference/pool';
import { readModelFiles, type ModelFiles } from '../../service/src/model/format';
import { openModel, runBatch } from '../../service/src/model/loader';
import { preprocessImage } from '../../service/src/preprocess';
import type { BenchImage } from './images';
import { summarize, type LatencySummary } from './stats';

/** One in-process measurement at a given number of images in flight. */
export interface CeilingPoint {
  readonly concurrency: number;
  readonly images: number;
  readonly seconds: number;
  readonly imagesPerSec: number;
  readonly latencyMs: LatencySummary;
}

/** The in-process ceiling of one model: every concurrency tried, and the best. */
export interface CeilingResult {
  readonly mode: string;
  readonly points: readonly CeilingPoint[];
  readonly best: CeilingPoint;
  /** Latency of one image alone (concurrency 1): the floor for the service's low-load p50. */
  readonly singleImage: LatencySummary;
}

/** How the in-process ceiling runs inference. */
export type CeilingMode =
  /** One session on the main thread (intra-op 1): `run()` blocks the loop, sharp decodes on libuv. */
  | { readonly kind: 'main-session' }
  /** The service's own `InferencePool`: worker threads, one session each. */
  | { readonly kind: 'pool'; readonly workers: number; readonly intraOpThreads: number };

/** Display name of a ceiling mode. */
export function ceilingModeName(mode: CeilingMode): string {
  return mode.kind === 'main-session'
    ? 'main-thread session'
    : `InferencePool workers=${mode.workers} intraOp=${mode.intraOpThreads}`;
}

/** Options of {@link measureCeiling}. */
export interface CeilingOptions {
  readonly modelDir: string;
  readonly images: readonly BenchImage[];
  readonly mode: CeilingMode;
  /** Images in flight to try. */
  readonly concurrencies: readonly number[];
  /** Measuring time per concurrency, after a warm-up of `warmupSec`. */
  readonly durationSec: number;
  readonly warmupSec: number;
  /** libvips threads per image, as the service's SHARP_CONCURRENCY. @default 1 */
  readonly sharpConcurrency?: number;
  /** Largest image accepted (the service's MAX_IMAGE_PIXELS default). @default DEFAULT_MAX_IMAGE_PIXELS */
  readonly maxPixels?: number;
}

type Infer = (input: Float32Array) => Promise<unknown>;

async function openInfer(
  files: ModelFiles,
  dir: string,
  mode: CeilingMode,
): Promise<{ infer: Infer; close(): Promise<void> }> {
  if (mode.kind === 'main-session') {
    const model = await openModel(dir, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    return {
      infer: (input) => runBatch(model.session, files.metadata, model.io, input, 1),
      close: () => model.session.release(),
    };
  }
  const pool = await InferencePool.start({
    files,
    workers: mode.workers,
    settings: { intraOpNumThreads: mode.intraOpThreads, interOpNumThreads: 1 },
    queueMax: 100_000,
  });
  return { infer: (input) => pool.run(input, 1, Date.now() + 60_000), close: () => pool.close() };
}

/**
 * The service's own preprocessing (`preprocessImage`) and inference code driven directly, no HTTP:
 * `concurrency` loops each take the next image, preprocess it (sharp on the libuv pool) and infer it,
 * so decoding overlaps inference on the cores. The best images/s over the concurrencies (and, in the
 * caller, over the modes) is the ceiling the service is compared with.
 */
export async function measureCeiling(opts: CeilingOptions): Promise<CeilingResult> {
  const previousSharp = sharp.concurrency();
  sharp.concurrency(opts.sharpConcurrency ?? 1);
  const files = await readModelFiles(opts.modelDir);
  const meta = files.metadata;
  const model = await openInfer(files, opts.modelDir, opts.mode);
  const limits = { maxPixels: opts.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS };
  const one = async (img: BenchImage): Promise<number> => {
    const t0 = process.hrtime.bigint();
    await model.infer(await preprocessImage(img.bytes, meta, limits));
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const runFor = async (concurrency: number, seconds: number): Promise<CeilingPoint> => {
    const latencies: number[] = [];
    let next = 0;
    const t0 = process.hrtime.bigint();
    const end = Date.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < end) {
          latencies.push(await one(opts.images[next++ % opts.images.length]));
        }
      }),
    );
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    return {
      concurrency,
      images: latencies.length,
      seconds: elapsed,
      imagesPerSec: latencies.length / elapsed,
      latencyMs: summarize(latencies),
    };
  };
  try {
    const points: CeilingPoint[] = [];
    for (const c of opts.concurrencies) {
      if (opts.warmupSec > 0) await runFor(c, opts.warmupSec);
      points.push(await runFor(c, opts.durationSec));
    }
    const single = points.find((p) => p.concurrency === 1) ?? (await runFor(1, opts.durationSec));
    const best = points.reduce((a, b) => (b.imagesPerSec > a.imagesPerSec ? b : a));
    return { mode: ceilingModeName(opts.mode), points, best, singleImage: single.latencyMs };
  } finally {
    await model.close();
    sharp.concurrency(previousSharp);
  }
}
