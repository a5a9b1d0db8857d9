import {
  DEFAULT_MAX_IMAGE_PIXELS,
  InferencePool,
  configureSharp,
  openModel,
  preprocessImage,
  runBatch,
} from '../../service/src';
import { readModelFiles, type ModelFiles } from '../../service/src/model/format';
import type { BenchImage } from './images';
import { summarize, type LatencySummary } from './stats';

/** One in-process measurement at a given number of images in flight. */
export interface CeilingPoint {
  readonly concurrency: number;
  readonly images: number;
  readonly seconds: number;
  readonly imagesPerSec: number;
  readonly latencyMs: LatencySummary;
  /** CPU-ms per image of the whole bench process (every thread), which runs nothing else meanwhile. */
  readonly cpuMsPerImage: number;
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
  /** The service's own `InferencePool.predict`: worker threads decode and infer, one session each. */
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

/** Encoded image → raw scores, one way or the other. */
type Classify = (image: Uint8Array) => Promise<unknown>;

async function openClassify(
  files: ModelFiles,
  dir: string,
  mode: CeilingMode,
  maxPixels: number,
): Promise<{ classify: Classify; close(): Promise<void> }> {
  if (mode.kind === 'main-session') {
    const model = await openModel(dir, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const limits = { maxPixels };
    return {
      classify: async (image) =>
        runBatch(
          model.session,
          files.metadata,
          model.io,
          await preprocessImage(image, files.metadata, limits),
          1,
        ),
      close: () => model.session.release(),
    };
  }
  const pool = await InferencePool.start({
    files,
    workers: mode.workers,
    settings: { intraOpNumThreads: mode.intraOpThreads, interOpNumThreads: 1 },
    queueMax: 100_000,
    maxImagePixels: maxPixels,
  });
  return { classify: (image) => pool.predict([image], Date.now() + 60_000), close: () => pool.close() };
}

/**
 * The service's own preprocessing and inference code driven directly, no HTTP: `concurrency` loops each
 * take the next image and classify it (decoding on the libuv pool, inference on a session), so decoding
 * overlaps inference on the cores. The best images/s over the concurrencies (and, in the
 * caller, over the modes) is the ceiling the service is compared with.
 */
export async function measureCeiling(opts: CeilingOptions): Promise<CeilingResult> {
  const previousSharp = configureSharp(opts.sharpConcurrency ?? 1); // as the service sets sharp up
  const files = await readModelFiles(opts.modelDir);
  const model = await openClassify(
    files,
    opts.modelDir,
    opts.mode,
    opts.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS,
  );
  const one = async (img: BenchImage): Promise<number> => {
    const t0 = process.hrtime.bigint();
    await model.classify(img.bytes);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const runFor = async (concurrency: number, seconds: number): Promise<CeilingPoint> => {
    const latencies: number[] = [];
    let next = 0;
    const cpu0 = process.cpuUsage();
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
    const cpu = process.cpuUsage(cpu0);
    return {
      concurrency,
      images: latencies.length,
      seconds: elapsed,
      imagesPerSec: latencies.length / elapsed,
      latencyMs: summarize(latencies),
      cpuMsPerImage: (cpu.user + cpu.system) / 1000 / latencies.length,
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
    configureSharp(previousSharp);
  }
}
