import os from 'node:os';
import {
  DEFAULT_MAX_IMAGE_PIXELS,
  configureSharp,
  openModel,
  preprocessImage,
  runBatch,
} from '../../service/src';
import type { BenchImage } from './images';

/** CPU milliseconds per call for one input, measured one call at a time. */
export interface CpuCost {
  readonly name: string;
  readonly cpuMs: number;
  readonly count: number;
}

/**
 * The CPU floor of one model: what preprocessing and inference cost when nothing else runs, and the
 * images/s the machine's cores could give if that were all they did.
 */
export interface FloorResult {
  /** Cores the floor assumes (`os.availableParallelism()`). */
  readonly cores: number;
  /** The service's `preprocessImage` (decode, resize, normalise) per image, sharp on one thread. */
  readonly preprocess: readonly CpuCost[];
  /** Mean over the images (each weighs the same: requests cycle through them). */
  readonly preprocessCpuMs: number;
  /** One inference (batch 1) on a main-thread session, intra-op 1. */
  readonly inferenceCpuMs: number;
  /** cores × 1000 / (preprocessCpuMs + inferenceCpuMs). */
  readonly imagesPerSec: number;
}

/** Images/s that `cores` cores reach when each image costs `cpuMsPerImage` and nothing else runs. */
export function floorImagesPerSec(cores: number, cpuMsPerImage: number): number {
  return (cores * 1000) / cpuMsPerImage;
}

/**
 * CPU-ms of `fn` on each item: one warm-up call each, then round-robin, one call at a time, for `seconds`
 * (at least one measured call each). `process.cpuUsage()` counts every thread of the process, so work that
 * sharp or ONNX Runtime does on their own threads is included.
 */
export async function cpuMsEach<T>(
  items: readonly T[],
  seconds: number,
  fn: (item: T) => Promise<unknown>,
): Promise<{ cpuMs: number; count: number }[]> {
  for (const item of items) await fn(item);
  const used = items.map(() => 0);
  const counts = items.map(() => 0);
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end || Math.min(...counts) === 0) {
    for (const [i, item] of items.entries()) {
      const before = process.cpuUsage();
      await fn(item);
      const d = process.cpuUsage(before);
      used[i] += (d.user + d.system) / 1000;
      counts[i]++;
    }
  }
  return items.map((_, i) => ({ cpuMs: used[i] / counts[i], count: counts[i] }));
}

/**
 * Measures the floor in isolation: the service's preprocessing of each bench image, then inference, one
 * call at a time (sharp set up as the service runs it, one libvips thread), `durationSec` each.
 */
export async function measureFloor(opts: {
  readonly modelDir: string;
  readonly images: readonly BenchImage[];
  readonly durationSec: number;
  /** @default DEFAULT_MAX_IMAGE_PIXELS (the service's MAX_IMAGE_PIXELS default) */
  readonly maxPixels?: number;
}): Promise<FloorResult> {
  const previousSharp = configureSharp(1);
  const model = await openModel(opts.modelDir, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const meta = model.files.metadata;
  try {
    const limits = { maxPixels: opts.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS };
    const pre = await cpuMsEach(opts.images, opts.durationSec, (img) =>
      preprocessImage(img.bytes, meta, limits),
    );
    const tensors = await Promise.all(opts.images.map((img) => preprocessImage(img.bytes, meta, limits)));
    const infer = await cpuMsEach(tensors, opts.durationSec, (t) =>
      runBatch(model.session, meta, model.io, t, 1),
    );
    const preprocess = opts.images.map((img, i) => ({ name: img.name, ...pre[i] }));
    const preprocessCpuMs = mean(preprocess.map((p) => p.cpuMs));
    const inferenceCpuMs = mean(infer.map((p) => p.cpuMs));
    const cores = os.availableParallelism();
    return {
      cores,
      preprocess,
      preprocessCpuMs,
      inferenceCpuMs,
      imagesPerSec: floorImagesPerSec(cores, preprocessCpuMs + inferenceCpuMs),
    };
  } finally {
    await model.session.release();
    configureSharp(previousSharp);
  }
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}
