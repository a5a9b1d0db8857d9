/**
 * `npm run bench`: the service against its in-process ceiling, on the same generated images.
 * See bench/README.md for the phases and how to read the table. `--quick` is a ~1 s smoke run.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { preprocessImage } from '../../service/src';
import { SERVICE_NODE_ARGS } from '../../service/src/config';
import { readModelFiles } from '../../service/src/model/format';
import { measureCeiling, type CeilingMode, type CeilingResult } from './ceiling';
import { measureFloor, type FloorResult } from './floor';
import { DEFAULT_IMAGE_SPECS, generateImages, type BenchImage } from './images';
import { runLoad, type LoadResult } from './load';
import { machineInfo, type MachineInfo } from './machine';
import { ensureModels } from './models';
import { ensurePeerPackages, peerInProcess, peerRounds, type PeerResult } from './peer';
import { mainThreadProfileFile, readCpuProfile, summariseProfile, type ThreadProfile } from './profile';
import { renderMarkdown } from './report';
import {
  REPO_ROOT,
  procCpuSeconds,
  procThreadCpuSeconds,
  threadCpuMsPerImage,
  procStatusMiB,
  request,
  resetPeakRss,
  rssSampler,
  gcBetween,
  scrapeServiceMetrics,
  serviceCommand,
  sleep,
  startService,
  type GcTotals,
  type ServiceProcess,
} from './service-process';
import { summarize, type LatencySummary } from './stats';
import { defaultVariant, evaluateTargets, type TargetResult } from './targets';

/**
 * Which endpoint the load calls: `/predict`, or the Open Inference Protocol's
 * `/v2/models/{name}/infer` with a BYTES tensor of the base64 image file (`v2-bytes`: same preprocessing
 * in the service) or with the FP32 tensor preprocessed by the client (`v2-fp32`).
 */
export type BenchApi = 'predict' | 'v2-bytes' | 'v2-fp32';

/** A way of running the service (environment variables it exposes) and of calling it. */
export interface Variant {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
  /**
   * Images per /predict request (JSON `instances`, run by one worker as one batch): the service's
   * only batching; it has no server-side dynamic batching. @default 1 (raw image body)
   */
  readonly imagesPerRequest?: number;
  /** The endpoint and body format. @default 'predict' */
  readonly api?: BenchApi;
}

/** Name of the reference server in the report. */
const PEER_NAME = 'peer (FastAPI + uvicorn + PyTorch + Pillow)';
/** Rounds of each server in the `--peer` comparison (interleaved, see peer.ts `roundOrder`). */
export const PEER_ROUNDS = 2;

/** Serving options measured for every model; the first one is the service's default. */
export const VARIANTS: readonly Variant[] = [
  { name: 'default (workers=CPU limit, intraOp=1)', env: {} },
  { name: 'workers=1 intraOp=2', env: { INFERENCE_WORKERS: '1', ORT_INTRA_OP_THREADS: '2' } },
  { name: 'workers=1 intraOp=1', env: { INFERENCE_WORKERS: '1', ORT_INTRA_OP_THREADS: '1' } },
  { name: 'workers=2 sharp=2', env: { INFERENCE_WORKERS: '2', SHARP_CONCURRENCY: '2' } },
  { name: 'client batches of 4 images', env: {}, imagesPerRequest: 4 },
  { name: 'OIP v2 infer, BYTES (base64 image)', env: {}, api: 'v2-bytes' },
  { name: 'OIP v2 infer, FP32 (client-preprocessed tensor)', env: {}, api: 'v2-fp32' },
];

/** Settings of one bench run. */
export interface BenchSettings {
  readonly models: readonly string[];
  readonly variants: readonly Variant[];
  /** Closed-loop connection counts for the saturation sweep. */
  readonly connections: readonly number[];
  readonly ceilingConcurrencies: readonly number[];
  readonly ceilingModes: readonly CeilingMode[];
  readonly durationSec: number;
  readonly warmupSec: number;
  readonly outDir: string;
  readonly label: string;
  /**
   * Also measure the reference FastAPI + PyTorch server (bench/peer/, `--peer`): rounds of each server,
   * one at a time, interleaved. 0 = no peer.
   */
  readonly peerRounds: number;
}

/** One load level against the service. */
export interface LevelResult {
  readonly connections: number;
  /** Images answered per second: 2xx responses/s x images per request. */
  readonly imagesPerSec: number;
  readonly overallRate?: number;
  readonly load: LoadResult;
  /** Peak RSS of the server process during this level (VmHWM after a reset), MiB. */
  readonly peakRssMiB: number;
  /** Longest event-loop stall the service itself saw (prom-client lag max − min, see scrapeServiceMetrics), ms. */
  readonly maxLoopDelayMs: number;
  /** The main thread's garbage collections during the level (what stalls its event loop). */
  readonly gc: GcTotals;
  /** GET /health latency measured from outside every 100 ms during the level. */
  readonly healthMs: LatencySummary;
  /** CPU cores the server process used during the level (CPU seconds / wall seconds). */
  readonly serviceCores: number;
  /** CPU cores the load-generator process used during the level (it shares the machine). */
  readonly loadCores: number;
  /** Server CPU milliseconds per image answered. */
  readonly serviceCpuMsPerImage: number;
  /** The same, by group of the server's threads (see `procThreadCpuSeconds`): where the CPU goes. */
  readonly serviceThreadCpuMsPerImage: Readonly<Record<string, number>>;
}

/** Everything measured for one serving variant of one model. */
export interface VariantResult {
  readonly variant: Variant;
  readonly coldStart: {
    readonly readyMs: number;
    readonly firstPredictionMs: number;
    readonly rssAfterReadyMiB: number;
    /** CPU-ms each group of the server's threads had used when it turned ready (see `procThreadCpuSeconds`). */
    readonly threadCpuMs: Readonly<Record<string, number>>;
  };
  readonly lowLoad: LevelResult;
  readonly sweep: readonly LevelResult[];
  readonly saturation: LevelResult;
  readonly halfRate: LevelResult;
  readonly exit: { readonly code: number | null; readonly signal: string | null };
}

/** Everything measured for one model. */
export interface ModelResult {
  readonly model: string;
  readonly modelDir: string;
  readonly ceilings: readonly CeilingResult[];
  readonly ceiling: CeilingResult;
  /** Preprocessing and inference CPU cost in isolation, and the images/s the cores could give. */
  readonly floor: FloorResult;
  readonly variants: readonly VariantResult[];
  /** The reference server's figures next to the service's (`--peer` only). */
  readonly peer?: PeerResult;
  /** The main thread's CPU profile at the default option's saturation (absent when it could not be taken). */
  readonly profile?: SaturationProfile;
  /** Every target of targets.ts applied to this model's figures. */
  readonly targets: readonly TargetResult[];
  /** Options that could not be measured, with the reason. */
  readonly failed: readonly { readonly variant: string; readonly error: string }[];
}

/**
 * The service's main thread at saturation, from a CPU profile taken in a run of its own (profiling costs
 * throughput, so the measured levels run without it): see profile.ts.
 */
export interface SaturationProfile extends ThreadProfile {
  readonly connections: number;
  readonly seconds: number;
  /** Images/s while profiled. */
  readonly imagesPerSec: number;
  /** The main thread's `.cpuprofile`, beside the report (opens in Chrome DevTools' Performance panel). */
  readonly file: string;
}

/** The JSON document written to bench/results/. */
export interface BenchReport {
  readonly label: string;
  readonly startedAt: string;
  readonly machine: MachineInfo;
  readonly serviceEntry: string;
  readonly images: readonly { name: string; bytes: number }[];
  readonly settings: Omit<BenchSettings, 'variants'> & { variants: readonly string[] };
  readonly models: readonly ModelResult[];
}

/** Probes `GET /health` every 100 ms until stopped; a failed probe counts as 5 s. */
function healthProber(url: string): { stop(): Promise<LatencySummary> } {
  const samples: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        samples.push((await request(`${url}/health`, { timeoutMs: 5000 })).ms);
      } catch {
        samples.push(5000);
      }
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return summarize(samples);
    },
  };
}

/** A request body as sent: bytes and content type. */
interface Body {
  readonly contentType: string;
  readonly bytes: Uint8Array;
}

/** The path and bodies of a variant's requests, one body per image (in the images' order). */
async function requestsFor(
  svc: ServiceProcess,
  modelDir: string,
  variant: Variant,
  images: readonly BenchImage[],
): Promise<{ path: string; bodies: Body[] }> {
  const api = variant.api ?? 'predict';
  if (api === 'predict')
    return { path: '/predict', bodies: requestBodies(images, variant.imagesPerRequest ?? 1) };
  // The model's name and input tensor as the service reports them.
  const model = JSON.parse(
    (await request(`${svc.url}/model`, { timeoutMs: 5000 })).body.toString('utf8'),
  ) as {
    name: string;
    input: { name: string; shape: (number | string)[] };
  };
  const files = api === 'v2-fp32' ? await readModelFiles(modelDir) : null;
  const bodies = await Promise.all(
    images.map(async (img) => {
      const input = files
        ? {
            name: model.input.name,
            shape: [1, ...model.input.shape.slice(1)],
            datatype: 'FP32',
            data: Array.from(await preprocessImage(img.bytes, files.metadata, { maxPixels: 100_000_000 })),
          }
        : { name: model.input.name, shape: [1], datatype: 'BYTES', data: [img.bytes.toString('base64')] };
      return { contentType: 'application/json', bytes: Buffer.from(JSON.stringify({ inputs: [input] })) };
    }),
  );
  return { path: `/v2/models/${encodeURIComponent(model.name)}/infer`, bodies };
}

/** One raw image per request, or groups of `n` as JSON `{"instances":[{"b64":...}]}`. */
function requestBodies(images: readonly BenchImage[], n: number): Body[] {
  if (n <= 1) return images.map((i) => ({ contentType: i.contentType, bytes: i.bytes }));
  return images.map((_, start) => ({
    contentType: 'application/json',
    bytes: Buffer.from(
      JSON.stringify({
        instances: Array.from({ length: n }, (_, k) => ({
          b64: images[(start + k) % images.length].bytes.toString('base64'),
        })),
      }),
    ),
  }));
}

async function measureLevel(
  svc: ServiceProcess,
  target: string,
  bodies: readonly Body[],
  imagesPerRequest: number,
  connections: number,
  durationSec: number,
  overallRate?: number,
): Promise<LevelResult> {
  const metricsBefore = await scrapeServiceMetrics(svc.url); // also restarts the loop-delay window
  const hwmReset = resetPeakRss(svc.pid);
  const sampler = rssSampler(svc.pid);
  const health = healthProber(svc.url);
  const cpuBefore = procCpuSeconds(svc.pid);
  const threadsBefore = procThreadCpuSeconds(svc.pid);
  const wallBefore = performance.now();
  const load = await runLoad({
    url: svc.url,
    path: target,
    connections,
    durationSec,
    overallRate,
    timeoutSec: 30,
    images: bodies,
  });
  const serviceCpu = procCpuSeconds(svc.pid) - cpuBefore;
  const threadsAfter = procThreadCpuSeconds(svc.pid);
  const wallSec = (performance.now() - wallBefore) / 1000;
  const healthMs = await health.stop();
  const polled = sampler.stop();
  const hwm = procStatusMiB(svc.pid, 'VmHWM');
  const metricsAfter = await scrapeServiceMetrics(svc.url);
  const images = load.okPerSec * imagesPerRequest * load.durationSec;
  return {
    connections,
    imagesPerSec: load.okPerSec * imagesPerRequest,
    overallRate,
    load,
    peakRssMiB: hwmReset && !Number.isNaN(hwm) ? Math.max(hwm, polled) : polled,
    maxLoopDelayMs: metricsAfter.loopStallMs,
    gc: gcBetween(metricsBefore.gc, metricsAfter.gc),
    healthMs,
    serviceCores: serviceCpu / wallSec,
    loadCores: load.cpuSeconds / wallSec,
    serviceCpuMsPerImage: (serviceCpu * 1000) / images,
    serviceThreadCpuMsPerImage: threadCpuMsPerImage(threadsBefore, threadsAfter, images),
  };
}

/** The environment the bench starts the service with, for `variant` of the model in `modelDir`. */
function serviceEnv(modelDir: string, variant: Variant): Record<string, string> {
  return { MODEL_DIR: modelDir, MODEL_VERSION: '1', LOG_LEVEL: 'warn', DRAIN_DELAY_MS: '0', ...variant.env };
}

/**
 * Profiles the main thread of a fresh service (`node --cpu-prof`) while `connections` closed-loop connections
 * run for `s.durationSec` after the usual warm-up; keeps its `.cpuprofile` in `s.outDir` and summarises the
 * samples taken during the load (the profile's clock is `process.hrtime`'s).
 */
async function profileSaturation(
  model: string,
  modelDir: string,
  variant: Variant,
  images: readonly BenchImage[],
  connections: number,
  s: BenchSettings,
): Promise<SaturationProfile> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-cpu-prof-'));
  try {
    const svc = await startService({
      env: { ...serviceEnv(modelDir, variant), NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` },
      pollMs: 5,
    });
    const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
    let window: { fromUs: number; toUs: number };
    let load: LoadResult;
    try {
      const { path: target, bodies } = await requestsFor(svc, modelDir, variant, images);
      const run = (durationSec: number): Promise<LoadResult> =>
        runLoad({ url: svc.url, path: target, connections, durationSec, timeoutSec: 30, images: bodies });
      if (s.warmupSec > 0) await run(s.warmupSec);
      const fromUs = nowUs();
      load = await run(s.durationSec);
      window = { fromUs, toUs: nowUs() };
      // Node writes the profile as the process exits.
      const exit = await svc.stop(30_000);
      if (exit.code !== 0) throw new Error(`the profiled service exited with ${exit.signal ?? exit.code}`);
    } finally {
      await svc.stop(5000);
    }
    const file = `${s.label}-${model}-main-thread.cpuprofile`;
    mkdirSync(s.outDir, { recursive: true });
    copyFileSync(mainThreadProfileFile(dir, svc.pid), path.join(s.outDir, file));
    return {
      connections,
      seconds: load.durationSec,
      imagesPerSec: load.okPerSec * (variant.imagesPerRequest ?? 1),
      file,
      ...summariseProfile(readCpuProfile(path.join(s.outDir, file)), window),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Measures one serving variant in a fresh service process. */
export async function benchVariant(
  modelDir: string,
  variant: Variant,
  images: readonly BenchImage[],
  s: BenchSettings,
  log: (line: string) => void,
): Promise<VariantResult> {
  const svc = await startService({ env: serviceEnv(modelDir, variant), pollMs: 5 });
  try {
    const threadCpuMs = Object.fromEntries(
      [...procThreadCpuSeconds(svc.pid)].map(([name, seconds]) => [name, seconds * 1000]),
    );
    const perRequest = variant.imagesPerRequest ?? 1;
    const rssAfterReadyMiB = procStatusMiB(svc.pid, 'VmRSS');
    const { path: target, bodies } = await requestsFor(svc, modelDir, variant, images);
    const first = await request(`${svc.url}${target}`, {
      method: 'POST',
      headers: { 'content-type': bodies[0].contentType },
      body: Buffer.from(bodies[0].bytes),
      timeoutMs: 30_000,
    });
    if (first.status !== 200) {
      throw new Error(
        `first ${target} returned ${first.status}: ${first.body.toString('utf8').slice(0, 300)}`,
      );
    }
    log(`  cold start: ready ${svc.readyMs.toFixed(0)} ms, first prediction ${first.ms.toFixed(1)} ms`);
    if (s.warmupSec > 0)
      await runLoad({
        url: svc.url,
        path: target,
        connections: Math.max(...s.connections),
        durationSec: s.warmupSec,
        timeoutSec: 30,
        images: bodies,
      });
    const lowLoad = await measureLevel(svc, target, bodies, perRequest, 1, s.durationSec);
    log(`  low load (1 connection): p50 ${lowLoad.load.latencyMs.p50.toFixed(2)} ms`);
    const sweep: LevelResult[] = [];
    for (const c of s.connections) {
      const r = c === 1 ? lowLoad : await measureLevel(svc, target, bodies, perRequest, c, s.durationSec);
      sweep.push(r);
      log(
        `  ${c} connections: ${r.imagesPerSec.toFixed(1)} img/s, p99 ${r.load.latencyMs.p99.toFixed(1)} ms, ` +
          `non-2xx ${r.load.completed - r.load.ok}, errors ${r.load.errors}, rss ${r.peakRssMiB.toFixed(0)} MiB, ` +
          `loop ${r.maxLoopDelayMs.toFixed(1)} ms, cores: service ${r.serviceCores.toFixed(2)} ` +
          `(${r.serviceCpuMsPerImage.toFixed(1)} ms/img), load generator ${r.loadCores.toFixed(2)}`,
      );
    }
    const saturation = sweep.reduce((a, b) => (b.imagesPerSec > a.imagesPerSec ? b : a));
    const rate = Math.max(1, Math.round(saturation.load.okPerSec / 2));
    const halfRate = await measureLevel(
      svc,
      target,
      bodies,
      perRequest,
      Math.max(...s.connections),
      s.durationSec,
      rate,
    );
    log(
      `  50% of saturation (${rate}/s): p50 ${halfRate.load.latencyMs.p50.toFixed(2)} p99 ${halfRate.load.latencyMs.p99.toFixed(2)} ms`,
    );
    const exit = await svc.stop(30_000);
    return {
      variant,
      coldStart: { readyMs: svc.readyMs, firstPredictionMs: first.ms, rssAfterReadyMiB, threadCpuMs },
      lowLoad,
      sweep,
      saturation,
      halfRate,
      exit: { code: exit.code, signal: exit.signal },
    };
  } finally {
    await svc.stop(5000);
  }
}

/**
 * Runs the whole benchmark and writes `<outDir>/<label>.json` and `.md` after each model, so a run that
 * stops half-way still leaves what it measured; returns the report.
 */
export async function runBench(
  s: BenchSettings,
  log: (line: string) => void = console.log,
): Promise<BenchReport> {
  ensureModels(s.models, log);
  if (s.peerRounds > 0) ensurePeerPackages(log);
  const startedAt = new Date().toISOString();
  const images = await generateImages(DEFAULT_IMAGE_SPECS);
  const models: ModelResult[] = [];
  const report: BenchReport = {
    label: s.label,
    startedAt,
    machine: machineInfo(),
    serviceEntry: [...SERVICE_NODE_ARGS, ...serviceCommand().args].join(' '),
    images: images.map((i) => ({ name: i.name, bytes: i.bytes.length })),
    settings: { ...s, variants: s.variants.map((v) => v.name) },
    models,
  };
  const json = path.join(s.outDir, `${s.label}.json`);
  const write = (): string => {
    mkdirSync(s.outDir, { recursive: true });
    const md = renderMarkdown(report);
    writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(path.join(s.outDir, `${s.label}.md`), md);
    return md;
  };
  for (const model of s.models) {
    const modelDir = path.join(REPO_ROOT, 'service', 'models', model);
    log(`model ${model}: in-process ceiling`);
    const ceilings: CeilingResult[] = [];
    for (const mode of s.ceilingModes) {
      const c = await measureCeiling({
        modelDir,
        images,
        mode,
        concurrencies: s.ceilingConcurrencies,
        durationSec: s.durationSec,
        warmupSec: s.warmupSec,
      });
      ceilings.push(c);
      log(
        `  ${c.mode}: best ${c.best.imagesPerSec.toFixed(1)} img/s at ${c.best.concurrency} in flight, single image p50 ${c.singleImage.p50.toFixed(2)} ms`,
      );
    }
    const ceiling = ceilings.reduce((a, b) => (b.best.imagesPerSec > a.best.imagesPerSec ? b : a));
    const floor = await measureFloor({ modelDir, images, durationSec: s.durationSec });
    log(
      `  floor: preprocessing ${floor.preprocessCpuMs.toFixed(2)} + inference ${floor.inferenceCpuMs.toFixed(2)} CPU-ms/img ` +
        `= ${floor.imagesPerSec.toFixed(1)} img/s on ${floor.cores} cores`,
    );
    const variants: VariantResult[] = [];
    const failed: { variant: string; error: string }[] = [];
    const failure = (what: string, err: unknown): void => {
      // One option failing (e.g. it cannot start) must not lose the figures of the others.
      const error = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
      log(`  FAILED: ${error}`);
      failed.push({ variant: what, error });
    };
    const meta = s.peerRounds > 0 ? (await readModelFiles(modelDir)).metadata : undefined;
    let peerPre: Awaited<ReturnType<typeof peerInProcess>> | undefined;
    if (meta) {
      try {
        peerPre = await peerInProcess(modelDir, model, meta, images, 2 * s.durationSec, log);
      } catch (err) {
        failure(PEER_NAME, err);
      }
    }
    for (const v of s.variants) {
      log(`model ${model}: service, ${v.name}`);
      try {
        variants.push(await benchVariant(modelDir, v, images, s, log));
      } catch (err) {
        failure(v.name, err);
      }
    }
    const base = defaultVariant({ variants });
    let profile: SaturationProfile | undefined;
    if (base) {
      log(`model ${model}: CPU profile of the main thread at ${base.saturation.connections} connections`);
      try {
        profile = await profileSaturation(
          model,
          modelDir,
          base.variant,
          images,
          base.saturation.connections,
          s,
        );
      } catch (err) {
        failure('CPU profile at saturation', err);
      }
    }
    let peer: PeerResult | undefined;
    if (meta && peerPre) {
      try {
        const rounds = await peerRounds(
          modelDir,
          model,
          meta,
          images,
          s,
          s.peerRounds,
          () => benchVariant(modelDir, VARIANTS[0], images, s, log),
          log,
        );
        peer = { ...peerPre, ...rounds };
      } catch (err) {
        failure(PEER_NAME, err);
      }
    }
    const measured = {
      model,
      modelDir: path.relative(REPO_ROOT, modelDir),
      ceilings,
      ceiling,
      floor,
      variants,
      peer,
      profile,
      failed,
    };
    models.push({ ...measured, targets: evaluateTargets(measured) });
    write();
  }
  const md = write();
  log('');
  log(md);
  log(`written: ${path.relative(process.cwd(), json)} and .md`);
  return report;
}

/** Settings for `--quick` (about a second of load: smoke test) or the full run. */
export function settingsFor(quick: boolean, outDir: string): BenchSettings {
  if (quick) {
    return {
      models: ['default'],
      // The default option, and the same images through the Open Inference Protocol beside it.
      variants: VARIANTS.filter(
        (v) => Object.keys(v.env).length === 0 && !v.imagesPerRequest && v.api !== 'v2-fp32',
      ),
      connections: [1, 4],
      ceilingConcurrencies: [1, 4],
      ceilingModes: [{ kind: 'main-session' }],
      durationSec: 0.3,
      warmupSec: 0,
      outDir,
      label: 'bench-quick',
      peerRounds: 0,
    };
  }
  return {
    models: ['default', 'mobilenet'],
    variants: VARIANTS,
    connections: [1, 2, 4, 8, 16, 32],
    ceilingConcurrencies: [1, 2, 4, 8],
    ceilingModes: [{ kind: 'main-session' }, { kind: 'pool', workers: 2, intraOpThreads: 1 }],
    durationSec: 4,
    warmupSec: 1,
    outDir,
    label: 'bench',
    peerRounds: 0,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: path.join(REPO_ROOT, 'bench', 'results') },
      models: { type: 'string' },
      duration: { type: 'string' },
      peer: { type: 'boolean', default: false },
    },
  });
  const base = settingsFor(values.quick || process.env.BENCH_QUICK === '1', path.resolve(values.out));
  const duration = values.duration ? Number(values.duration) : undefined;
  if (duration !== undefined && !(duration > 0)) {
    throw new Error(`--duration must be a positive number of seconds, got '${values.duration}'`);
  }
  const report = await runBench({
    ...base,
    models: values.models ? values.models.split(',').map((m) => m.trim()) : base.models,
    durationSec: duration ?? base.durationSec,
    peerRounds: values.peer ? PEER_ROUNDS : 0,
  });
  if (report.models.some((m) => m.failed.length > 0)) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
