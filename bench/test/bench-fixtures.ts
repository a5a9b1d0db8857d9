/** Hand-made bench results for the pure parts (targets, report), with round figures easy to check. */
import type { BenchReport, LevelResult, ModelResult, VariantResult } from '../src/bench';
import type { CeilingResult } from '../src/ceiling';
import type { FloorResult } from '../src/floor';
import type { LoadResult } from '../src/load';
import type { PeerResult, PeerRoundResult, ServerFigures } from '../src/peer';
import type { LatencySummary } from '../src/stats';
import type { MeasuredModel } from '../src/targets';

export function latency(p50: number, p99: number): LatencySummary {
  return { count: 100, p50, p90: (p50 + p99) / 2, p99, max: p99, mean: p50 };
}

export function load(okPerSec: number, p50: number, p99: number): LoadResult {
  return {
    durationSec: 1,
    sent: okPerSec,
    completed: okPerSec,
    ok: okPerSec,
    status: { 200: okPerSec },
    errors: 0,
    timeouts: 0,
    reqErrors: 0,
    okPerSec,
    latencyMs: latency(p50, p99),
    cpuSeconds: 0.1,
  };
}

export function level(connections: number, imagesPerSec: number, o: Partial<LevelResult> = {}): LevelResult {
  return {
    connections,
    imagesPerSec,
    load: load(imagesPerSec, 10, 20),
    peakRssMiB: 250,
    maxLoopDelayMs: 10,
    gc: { major: { count: 4, ms: 20 }, minor: { count: 50, ms: 25 } },
    healthMs: latency(1, 2),
    serviceCores: 1.9,
    loadCores: 0.1,
    serviceCpuMsPerImage: 10,
    serviceThreadCpuMsPerImage: {
      MainThread: 2,
      WorkerThread: 3,
      'libvips worker': 4,
      V8Worker: 1,
      other: 0.01,
    },
    ...o,
  };
}

/** The service's default option: 190 img/s at 8 connections, p50 10 ms at one, ready in 500 ms. */
export function defaultVariant(o: Partial<VariantResult> = {}): VariantResult {
  const low = level(1, 90, { load: load(90, 10, 20) });
  const sat = level(8, 190, { maxLoopDelayMs: 15 });
  return {
    variant: { name: 'default (workers=CPU limit, intraOp=1)', env: {} },
    coldStart: {
      readyMs: 500,
      firstPredictionMs: 20,
      rssAfterReadyMiB: 200,
      threadCpuMs: { MainThread: 600, WorkerThread: 500, V8Worker: 150, 'libuv-worker': 4 },
    },
    lowLoad: low,
    sweep: [low, sat],
    saturation: sat,
    halfRate: level(32, 95, { overallRate: 95, load: load(95, 10, 25) }),
    exit: { code: 0, signal: null },
    ...o,
  };
}

/** 200 img/s in-process ceiling at 9 CPU-ms per image; single image p50 9.5 ms. */
export function ceiling(): CeilingResult {
  const single = {
    concurrency: 1,
    images: 100,
    seconds: 1,
    imagesPerSec: 100,
    latencyMs: latency(9.5, 12),
    cpuMsPerImage: 8.5,
  };
  const best = {
    concurrency: 4,
    images: 200,
    seconds: 1,
    imagesPerSec: 200,
    latencyMs: latency(20, 30),
    cpuMsPerImage: 9,
  };
  return { mode: 'main-thread session', points: [single, best], best, singleImage: single.latencyMs };
}

/** 2 cores / (8 + 2 CPU-ms) = 200 img/s. */
export function floor(): FloorResult {
  return {
    cores: 2,
    preprocess: [
      { name: 'jpeg-640x480', cpuMs: 6, count: 10 },
      { name: 'png-640x480', cpuMs: 10, count: 10 },
    ],
    preprocessCpuMs: 8,
    inferenceCpuMs: 2,
    imagesPerSec: 200,
  };
}

export function figures(o: Partial<ServerFigures> = {}): ServerFigures {
  return {
    saturationImagesPerSec: 190,
    cpuMsPerImage: 10,
    p50OneConnectionMs: 10,
    p99OneConnectionMs: 20,
    peakRssMiB: 250,
    readyMs: 500,
    ...o,
  };
}

/** The peer at 100 img/s, p50 20 ms, p99 25 ms at one connection; Pillow 5 CPU-ms per image. */
export function peer(o: Partial<PeerResult> = {}): PeerResult {
  const lvl = {
    connections: 1,
    imagesPerSec: 100,
    load: load(100, 20, 25),
    peakRssMiB: 500,
    workerCores: [0.9, 0.95],
    cpuMsPerImage: 18,
  };
  const round: PeerRoundResult = {
    readyMs: 3000,
    firstPredictionMs: 30,
    lowLoad: lvl,
    sweep: [lvl],
    saturation: lvl,
    exitCodes: [0, 0],
  };
  return {
    python: '/usr/bin/python3',
    workers: 2,
    check: {
      tensors: 7,
      maxAbsDiff: 2e-5,
      tolerance: 1e-4,
      preprocess: [{ name: 'jpeg-640x480', meanAbsDiff: 0.002 }],
    },
    cost: {
      torch: '1.13.0',
      preprocess: [
        { name: 'jpeg-640x480', cpuMs: 4, count: 10 },
        { name: 'png-640x480', cpuMs: 6, count: 10 },
      ],
      preprocessCpuMs: 5,
      inferenceCpuMs: 4,
    },
    serviceRounds: [defaultVariant(), defaultVariant()],
    peerRounds: [round, round],
    service: figures(),
    peer: figures({
      saturationImagesPerSec: 100,
      cpuMsPerImage: 18,
      p50OneConnectionMs: 20,
      p99OneConnectionMs: 25,
      peakRssMiB: 500,
      readyMs: 3000,
    }),
    ...o,
  };
}

export function measuredModel(o: Partial<MeasuredModel> = {}): MeasuredModel {
  const c = ceiling();
  return {
    model: 'default',
    modelDir: 'service/models/default',
    ceilings: [c],
    ceiling: c,
    floor: floor(),
    variants: [defaultVariant()],
    failed: [],
    ...o,
  };
}

export function report(models: readonly ModelResult[]): BenchReport {
  return {
    label: 'bench-test',
    startedAt: '2026-11-29T00:00:00.000Z',
    machine: {
      cpuModel: 'Test CPU',
      logicalCpus: 2,
      availableParallelism: 2,
      cgroupCpuMax: null,
      totalMemoryMiB: 1024,
      node: 'v20.0.0',
      onnxruntimeNode: '1.30.0',
      sharp: '0.35.5',
      libvips: '8.18.7',
      platform: 'linux',
    },
    serviceEntry: 'build/service/src/server.js',
    images: [{ name: 'jpeg-640x480', bytes: 55_000 }],
    settings: {
      models: ['default'],
      variants: ['default (workers=CPU limit, intraOp=1)'],
      connections: [1, 8],
      ceilingConcurrencies: [1, 4],
      ceilingModes: [{ kind: 'main-session' }],
      durationSec: 1,
      warmupSec: 0,
      outDir: '/tmp',
      label: 'bench-test',
      peerRounds: 0,
    },
    models,
  };
}
