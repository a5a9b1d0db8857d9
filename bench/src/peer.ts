/**
 * `npm run bench -- --peer`: the reference stack the service is meant to beat (FastAPI + uvicorn + PyTorch +
 * Pillow, `bench/peer/`), serving the same model.onnx with the same preprocessing contract, measured with
 * the same load generator, one server at a time. See bench/README.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_MAX_IMAGE_PIXELS, openModel, preprocessImage, runBatch } from '../../service/src';
import { seededRandom } from '../../service/src/model/builders';
import { shorterSideFor, type ModelMetadata } from '../../service/src/model/format';
import type { BenchSettings, VariantResult } from './bench';
import type { CpuCost } from './floor';
import type { BenchImage } from './images';
import { runLoad, type LoadResult } from './load';
import {
  REPO_ROOT,
  freePort,
  procCpuSeconds,
  procStatusMiB,
  request,
  resetPeakRss,
  sleep,
} from './service-process';
import { median } from './stats';

/** Where the peer's Python code lives. */
export const PEER_DIR = path.join(REPO_ROOT, 'bench', 'peer');
/** Debian packages the peer needs; `--peer` installs them with apt when they are missing. */
export const PEER_APT_PACKAGES = [
  'python3-fastapi',
  'python3-uvicorn',
  'python3-torch',
  'python3-pil',
  'python3-onnx',
] as const;
/** Largest |peer − ONNX Runtime| allowed on the fixed tensors before anything is measured. */
export const PEER_TOLERANCE = 1e-4;

/**
 * The Python that sees the apt packages: Debian's own `/usr/bin/python3` (a `python3` earlier on PATH,
 * e.g. from pyenv, does not see `/usr/lib/python3/dist-packages`). `PEER_PYTHON` overrides it.
 */
export function peerPython(env: NodeJS.ProcessEnv = process.env): string {
  return env.PEER_PYTHON ?? '/usr/bin/python3';
}

/**
 * The model contract the peer follows, resolved by the service's own metadata code (defaults filled,
 * shorter side computed), so the two servers share one definition of it.
 */
export interface PeerContract {
  readonly name: string;
  readonly layout: 'NCHW' | 'NHWC';
  readonly height: number;
  readonly width: number;
  readonly channelOrder: 'RGB' | 'BGR';
  readonly resize: 'squash' | 'center-crop';
  /** The resampling filter (Pillow has one of each name). */
  readonly interpolation: ModelMetadata['preprocessing']['interpolation'];
  readonly shorterSide: number;
  readonly scale: number;
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** Flattening colour as [r, g, b] 0–255. */
  readonly background: readonly [number, number, number];
  readonly labels: readonly string[];
  readonly outputKind: 'logits' | 'probabilities';
  readonly maxPixels: number;
}

/** The contract of a model for the peer. @param maxPixels the service's MAX_IMAGE_PIXELS default */
export function peerContract(
  meta: ModelMetadata,
  name: string,
  maxPixels = DEFAULT_MAX_IMAGE_PIXELS,
): PeerContract {
  const bg = meta.preprocessing.background;
  return {
    name,
    layout: meta.input.layout,
    height: meta.input.height,
    width: meta.input.width,
    channelOrder: meta.input.channelOrder,
    resize: meta.preprocessing.resize,
    interpolation: meta.preprocessing.interpolation,
    shorterSide: shorterSideFor(meta),
    scale: meta.preprocessing.scale,
    mean: meta.preprocessing.mean,
    std: meta.preprocessing.std,
    background: [1, 3, 5].map((i) => parseInt(bg.slice(i, i + 2), 16)) as [number, number, number],
    labels: meta.labels,
    outputKind: meta.output.kind,
    maxPixels,
  };
}

/** How to start one peer worker. */
export interface PeerCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** Options of {@link peerServerCommands}. */
export interface PeerServerOptions {
  readonly modelDir: string;
  readonly contract: PeerContract;
  readonly port: number;
  /** Worker processes. @default - os.availableParallelism(), as the service's INFERENCE_WORKERS default */
  readonly workers?: number;
  /** @default - {@link peerPython} */
  readonly python?: string;
}

/**
 * One command per worker: N independent `server.py` processes, each binding its OWN listening socket to
 * the same port with SO_REUSEPORT, so the kernel spreads connections over them. (`uvicorn --workers N`
 * shares one socket, and one worker often took every keep-alive connection while the others idled.)
 */
export function peerServerCommands(o: PeerServerOptions): PeerCommand[] {
  const workers = o.workers ?? os.availableParallelism();
  // One torch thread per worker, as the service's ORT_INTRA_OP_THREADS default.
  const threads = 1;
  if (!Number.isInteger(workers) || workers < 1) {
    throw new Error(`peer workers (${workers}) must be a whole number ≥ 1`);
  }
  const args = [
    path.join(PEER_DIR, 'server.py'),
    '--model-dir',
    o.modelDir,
    '--contract',
    JSON.stringify(o.contract),
    '--host',
    '127.0.0.1',
    '--port',
    String(o.port),
    '--threads',
    String(threads),
    '--reuse-port',
  ];
  const env = { PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: String(threads) };
  return Array.from({ length: workers }, () => ({ command: o.python ?? peerPython(), args, env }));
}

/**
 * Makes sure the peer's Python packages import, installing the Debian packages with apt (update first)
 * when they do not; throws naming the packages and the fix when that is impossible.
 */
export function ensurePeerPackages(log: (line: string) => void, python = peerPython()): void {
  const imports = (): boolean =>
    spawnSync(python, ['-c', 'import fastapi, uvicorn, torch, PIL, onnx'], { stdio: 'ignore' }).status === 0;
  if (imports()) return;
  log(
    `peer: ${PEER_APT_PACKAGES.join(' ')} missing for ${python}: installing them with apt-get (update first)`,
  );
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...PEER_APT_PACKAGES]]) {
    const run = spawnSync('apt-get', args, {
      encoding: 'utf8',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (run.status !== 0) {
      throw new Error(
        `--peer: apt-get ${args[0]} failed (${run.error?.message ?? `exit ${run.status}`}: ${(run.stderr ?? '').trim().slice(-300)}): ` +
          `run as root on Debian, or install ${PEER_APT_PACKAGES.join(' ')} yourself`,
      );
    }
  }
  if (!imports()) {
    throw new Error(
      `--peer: ${python} still cannot import fastapi, uvicorn, torch, PIL and onnx after installing ` +
        `${PEER_APT_PACKAGES.join(' ')}: set PEER_PYTHON to the Python that sees them`,
    );
  }
}

function runTool(python: string, args: readonly string[], what: string): string {
  const run = spawnSync(python, [path.join(PEER_DIR, 'tools.py'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: '1' },
    maxBuffer: 16 * 2 ** 20,
    timeout: 600_000,
  });
  if (run.status !== 0) {
    throw new Error(
      `peer ${what} failed (${run.error?.message ?? `exit ${run.status}`}): ${run.stderr.trim().slice(-500)}`,
    );
  }
  return run.stdout;
}

/** Largest absolute difference of two equally long arrays (Infinity when the lengths differ). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** The result of checking the peer against the service's own code. */
export interface PeerCheck {
  readonly tensors: number;
  /** Largest |torch − ONNX Runtime| over the outputs of the fixed tensors. */
  readonly maxAbsDiff: number;
  readonly tolerance: number;
  /**
   * Mean |peer tensor − service tensor| per bench image, as a fraction of the service tensor's value range:
   * Pillow and libvips resample differently, so this is small, not 0.
   */
  readonly preprocess: readonly { readonly name: string; readonly meanAbsDiff: number }[];
}

/** Above this (mean |Δ| / value range) the peer's preprocessing is not the service's contract. */
const PREPROCESS_DIFF_LIMIT = 0.05;

function floats(file: string): Float32Array {
  const raw = readFileSync(file);
  return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
}

function writeImages(dir: string, images: readonly BenchImage[]): string[] {
  return images.map((img) => {
    const file = path.join(dir, `${img.name}.${img.format}`);
    writeFileSync(file, img.bytes);
    return file;
  });
}

/**
 * Checks that the peer computes what the service computes, before anything is measured: fixed tensors
 * (three seeded random ones in [-3, 3], and each bench image as the service preprocesses it) through
 * ONNX Runtime here and through the peer's torch module must agree within {@link PEER_TOLERANCE}, and the
 * peer's own preprocessing of each image must be close to the service's (same contract). Throws otherwise.
 */
export async function checkPeerOutputs(o: {
  readonly modelDir: string;
  readonly contract: PeerContract;
  readonly images: readonly BenchImage[];
  readonly python?: string;
}): Promise<PeerCheck> {
  const python = o.python ?? peerPython();
  const model = await openModel(o.modelDir, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-peer-check-'));
  try {
    const meta = model.files.metadata;
    const per = 3 * meta.input.height * meta.input.width;
    const rand = seededRandom(20261129);
    const inputs: Float32Array[] = Array.from({ length: 3 }, () =>
      Float32Array.from({ length: per }, () => (rand() * 2 - 1) * 3),
    );
    const serviceTensors: Float32Array[] = [];
    for (const img of o.images) {
      serviceTensors.push(await preprocessImage(img.bytes, meta, { maxPixels: o.contract.maxPixels }));
    }
    inputs.push(...serviceTensors);
    const expected: Float32Array[] = [];
    for (const t of inputs)
      expected.push(Float32Array.from(await runBatch(model.session, meta, model.io, t, 1)));
    const inFile = path.join(tmp, 'inputs.f32');
    const outFile = path.join(tmp, 'outputs.f32');
    const preFile = path.join(tmp, 'preprocessed.f32');
    writeFileSync(
      inFile,
      Buffer.concat(inputs.map((t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength))),
    );
    const common = ['--model-dir', o.modelDir, '--contract', JSON.stringify(o.contract)];
    runTool(
      python,
      ['forward', ...common, '--inputs', inFile, '--count', String(inputs.length), '--out', outFile],
      'forward check',
    );
    const got = floats(outFile);
    const classes = model.io.classes;
    let worst = 0;
    for (const [i, e] of expected.entries()) {
      const d = maxAbsDiff(e, got.subarray(i * classes, (i + 1) * classes));
      worst = Math.max(worst, d);
      if (!(d <= PEER_TOLERANCE)) {
        throw new Error(
          `the peer's torch module differs from ONNX Runtime by ${d} (> ${PEER_TOLERANCE}) on fixed tensor ${i}: not comparing different models`,
        );
      }
    }
    runTool(
      python,
      ['preprocess', ...common, '--out', preFile, ...writeImages(tmp, o.images)],
      'preprocessing check',
    );
    const peerTensors = floats(preFile);
    const preprocess = serviceTensors.map((t, i) => {
      const p = peerTensors.subarray(i * per, (i + 1) * per);
      let sum = 0;
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < per; k++) {
        sum += Math.abs(t[k] - p[k]);
        lo = Math.min(lo, t[k]);
        hi = Math.max(hi, t[k]);
      }
      return { name: o.images[i].name, meanAbsDiff: sum / per / (hi - lo || 1) };
    });
    const off = preprocess.find((p) => !(p.meanAbsDiff <= PREPROCESS_DIFF_LIMIT));
    if (off || peerTensors.length !== per * o.images.length) {
      throw new Error(
        `the peer's preprocessing of ${off?.name ?? 'the bench images'} differs from the service's ` +
          `(mean |Δ| ${off ? off.meanAbsDiff.toFixed(3) : 'n/a'} of the value range > ${PREPROCESS_DIFF_LIMIT}): ` +
          'bench/peer/model.py no longer follows the contract',
      );
    }
    return { tensors: inputs.length, maxAbsDiff: worst, tolerance: PEER_TOLERANCE, preprocess };
  } finally {
    await model.session.release();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** What Pillow preprocessing and torch inference cost in the peer's code, one at a time on one thread. */
export interface PeerCost {
  readonly torch: string;
  /** Pillow decode, resize, normalise per bench image, CPU-ms. */
  readonly preprocess: readonly CpuCost[];
  readonly preprocessCpuMs: number;
  readonly inferenceCpuMs: number;
}

/** Times the peer's preprocessing (Pillow) and inference (torch) on the bench images, `seconds` in all. */
export function measurePeerCost(o: {
  readonly modelDir: string;
  readonly contract: PeerContract;
  readonly images: readonly BenchImage[];
  readonly seconds: number;
  readonly python?: string;
}): PeerCost {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-peer-cost-'));
  try {
    const files = writeImages(tmp, o.images);
    const out = runTool(
      o.python ?? peerPython(),
      [
        'cost',
        '--model-dir',
        o.modelDir,
        '--contract',
        JSON.stringify(o.contract),
        '--seconds',
        String(o.seconds),
        ...files,
      ],
      'cost measurement',
    );
    // tools.py prints one JSON object of this shape.
    const parsed = JSON.parse(out) as Omit<PeerCost, 'preprocessCpuMs'>;
    const pre = parsed.preprocess.map((p) => p.cpuMs);
    return { ...parsed, preprocessCpuMs: pre.reduce((a, b) => a + b, 0) / pre.length };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Running peer workers. */
export interface PeerProcess {
  readonly url: string;
  readonly pids: readonly number[];
  /** Milliseconds from spawn to every worker started and `/ready` answering 200. */
  readonly readyMs: number;
  logs(): string;
  /** SIGTERM to every worker, SIGKILL after `graceMs`; resolves with their exit codes. */
  stop(graceMs?: number): Promise<(number | null)[]>;
}

/** Starts the peer's workers (see {@link peerServerCommands}) and waits until each one has started. */
export async function startPeer(
  o: Omit<PeerServerOptions, 'port'> & { readonly readyTimeoutMs?: number },
): Promise<PeerProcess> {
  const port = await freePort();
  const commands = peerServerCommands({ ...o, port });
  const started = process.hrtime.bigint();
  let logBuf = '';
  const children: ChildProcess[] = commands.map((c) =>
    spawn(c.command, c.args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...c.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const exits = children.map(
    (child) =>
      new Promise<number | null>((resolve) => {
        child.on('exit', (code) => resolve(code));
        // A process that cannot be spawned emits 'error' and never 'exit'.
        child.on('error', (err) => {
          logBuf += `${err.message}\n`;
          resolve(null);
        });
      }),
  );
  let exited = 0;
  for (const e of exits) void e.then(() => exited++);
  let announced = 0;
  for (const child of children) {
    const append = (c: Buffer): void => {
      const text = c.toString('utf8');
      announced += text.split('peer ready').length - 1;
      logBuf = (logBuf + text).slice(-65536);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
  }
  const stop = async (graceMs = 10_000): Promise<(number | null)[]> => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    const timer = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), graceMs);
    const codes = await Promise.all(exits);
    clearTimeout(timer);
    return codes;
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (o.readyTimeoutMs ?? 120_000);
  for (;;) {
    if (exited > 0) {
      await stop(1000);
      throw new Error(`a peer worker exited before ready; logs:\n${logBuf}`);
    }
    if (Date.now() > deadline) {
      await stop(1000);
      throw new Error(`peer not ready within ${o.readyTimeoutMs ?? 120_000} ms; logs:\n${logBuf}`);
    }
    if (announced >= children.length) {
      try {
        if ((await request(`${url}/ready`, { timeoutMs: 1000 })).status === 200) break;
      } catch {
        // not listening yet
      }
    }
    await sleep(5);
  }
  const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
  const pids = children.map((c) => c.pid).filter((p): p is number => p !== undefined);
  return { url, pids, readyMs, logs: () => logBuf, stop };
}

/** One closed-loop load level against the peer. */
export interface PeerLevel {
  readonly connections: number;
  readonly imagesPerSec: number;
  readonly load: LoadResult;
  /** Sum of the workers' peak RSS (each VmHWM after a reset), MiB. */
  readonly peakRssMiB: number;
  /** CPU cores each worker used during the level: shows whether the load was spread. */
  readonly workerCores: readonly number[];
  /** Peer CPU milliseconds (all workers) per image answered. */
  readonly cpuMsPerImage: number;
}

async function measurePeerLevel(
  peer: PeerProcess,
  bodies: readonly BenchImage[],
  connections: number,
  durationSec: number,
): Promise<PeerLevel> {
  for (const pid of peer.pids) resetPeakRss(pid);
  const cpuBefore = peer.pids.map(procCpuSeconds);
  const wallBefore = performance.now();
  const load = await runLoad({
    url: peer.url,
    path: '/predict',
    connections,
    durationSec,
    timeoutSec: 30,
    images: bodies,
  });
  const wallSec = (performance.now() - wallBefore) / 1000;
  const cpu = peer.pids.map((pid, i) => procCpuSeconds(pid) - cpuBefore[i]);
  const total = cpu.reduce((a, b) => a + b, 0);
  return {
    connections,
    imagesPerSec: load.okPerSec,
    load,
    peakRssMiB: peer.pids.map((pid) => procStatusMiB(pid, 'VmHWM')).reduce((a, b) => a + b, 0),
    workerCores: cpu.map((c) => c / wallSec),
    cpuMsPerImage: (total * 1000) / (load.okPerSec * load.durationSec),
  };
}

/** One peer round: a fresh start, a first prediction, then the same sweep as the service's. */
export interface PeerRoundResult {
  readonly readyMs: number;
  readonly firstPredictionMs: number;
  readonly lowLoad: PeerLevel;
  readonly sweep: readonly PeerLevel[];
  readonly saturation: PeerLevel;
  readonly exitCodes: readonly (number | null)[];
}

async function peerRound(
  modelDir: string,
  contract: PeerContract,
  images: readonly BenchImage[],
  s: BenchSettings,
  log: (line: string) => void,
): Promise<PeerRoundResult> {
  const peer = await startPeer({ modelDir, contract });
  try {
    const first = await request(`${peer.url}/predict`, {
      method: 'POST',
      headers: { 'content-type': images[0].contentType },
      body: images[0].bytes,
      timeoutMs: 30_000,
    });
    if (first.status !== 200) {
      throw new Error(
        `peer's first /predict returned ${first.status}: ${first.body.toString('utf8').slice(0, 300)}`,
      );
    }
    log(`  peer cold start: ready ${peer.readyMs.toFixed(0)} ms, first prediction ${first.ms.toFixed(1)} ms`);
    if (s.warmupSec > 0) {
      await runLoad({
        url: peer.url,
        path: '/predict',
        connections: Math.max(...s.connections),
        durationSec: s.warmupSec,
        timeoutSec: 30,
        images,
      });
    }
    const lowLoad = await measurePeerLevel(peer, images, 1, s.durationSec);
    const sweep: PeerLevel[] = [];
    for (const c of s.connections) {
      const r = c === 1 ? lowLoad : await measurePeerLevel(peer, images, c, s.durationSec);
      sweep.push(r);
      log(
        `  peer ${c} connections: ${r.imagesPerSec.toFixed(1)} img/s, p50 ${r.load.latencyMs.p50.toFixed(2)} p99 ${r.load.latencyMs.p99.toFixed(1)} ms, ` +
          `non-2xx+errors ${r.load.completed - r.load.ok + r.load.errors}, rss ${r.peakRssMiB.toFixed(0)} MiB, ` +
          `worker cores ${r.workerCores.map((w) => w.toFixed(2)).join('/')} (${r.cpuMsPerImage.toFixed(1)} ms/img)`,
      );
    }
    const saturation = sweep.reduce((a, b) => (b.imagesPerSec > a.imagesPerSec ? b : a));
    const exitCodes = await peer.stop(30_000);
    return { readyMs: peer.readyMs, firstPredictionMs: first.ms, lowLoad, sweep, saturation, exitCodes };
  } finally {
    await peer.stop(5000);
  }
}

/** The figures compared side by side, for either server. */
export interface ServerFigures {
  readonly saturationImagesPerSec: number;
  readonly cpuMsPerImage: number;
  readonly p50OneConnectionMs: number;
  readonly p99OneConnectionMs: number;
  readonly peakRssMiB: number;
  readonly readyMs: number;
}

/** The service's figures from one of its rounds. */
export function serviceFigures(v: VariantResult): ServerFigures {
  return {
    saturationImagesPerSec: v.saturation.imagesPerSec,
    cpuMsPerImage: v.saturation.serviceCpuMsPerImage,
    p50OneConnectionMs: v.lowLoad.load.latencyMs.p50,
    p99OneConnectionMs: v.lowLoad.load.latencyMs.p99,
    peakRssMiB: Math.max(...[...v.sweep, v.halfRate].map((l) => l.peakRssMiB).filter(Number.isFinite)),
    readyMs: v.coldStart.readyMs,
  };
}

/** The peer's figures from one of its rounds. */
export function peerFigures(r: PeerRoundResult): ServerFigures {
  return {
    saturationImagesPerSec: r.saturation.imagesPerSec,
    cpuMsPerImage: r.saturation.cpuMsPerImage,
    p50OneConnectionMs: r.lowLoad.load.latencyMs.p50,
    p99OneConnectionMs: r.lowLoad.load.latencyMs.p99,
    peakRssMiB: Math.max(...r.sweep.map((l) => l.peakRssMiB).filter(Number.isFinite)),
    readyMs: r.readyMs,
  };
}

/** Per-figure median over rounds. */
export function medianFigures(rounds: readonly ServerFigures[]): ServerFigures {
  const m = (pick: (f: ServerFigures) => number): number => median(rounds.map(pick));
  return {
    saturationImagesPerSec: m((f) => f.saturationImagesPerSec),
    cpuMsPerImage: m((f) => f.cpuMsPerImage),
    p50OneConnectionMs: m((f) => f.p50OneConnectionMs),
    p99OneConnectionMs: m((f) => f.p99OneConnectionMs),
    peakRssMiB: m((f) => f.peakRssMiB),
    readyMs: m((f) => f.readyMs),
  };
}

/**
 * The order of the comparison's rounds: service and peer alternate, each pair reversed from the previous
 * one (S P, P S, …), so a drift of the machine's speed during the run weighs on both alike.
 */
export function roundOrder(rounds: number): ('service' | 'peer')[] {
  const order: ('service' | 'peer')[] = [];
  for (let i = 0; i < rounds; i++)
    order.push(...(i % 2 === 0 ? (['service', 'peer'] as const) : (['peer', 'service'] as const)));
  return order;
}

/** Everything `--peer` measured for one model. */
export interface PeerResult {
  readonly python: string;
  readonly workers: number;
  readonly check: PeerCheck;
  readonly cost: PeerCost;
  readonly serviceRounds: readonly VariantResult[];
  readonly peerRounds: readonly PeerRoundResult[];
  /** Medians over the rounds. */
  readonly service: ServerFigures;
  readonly peer: ServerFigures;
}

/**
 * The in-process half of the comparison: the equality check (first: nothing is measured against a
 * different model), then the peer's preprocessing and inference CPU cost.
 */
export async function peerInProcess(
  modelDir: string,
  modelName: string,
  meta: ModelMetadata,
  images: readonly BenchImage[],
  seconds: number,
  log: (line: string) => void,
): Promise<Pick<PeerResult, 'python' | 'check' | 'cost'>> {
  const contract = peerContract(meta, modelName);
  const check = await checkPeerOutputs({ modelDir, contract, images });
  log(
    `  peer: torch module = ONNX Runtime within ${check.maxAbsDiff.toExponential(1)} on ${check.tensors} fixed tensors; ` +
      `preprocessing mean |Δ| ${check.preprocess.map((p) => p.meanAbsDiff.toFixed(4)).join(' / ')} of the value range`,
  );
  const cost = measurePeerCost({ modelDir, contract, images, seconds });
  log(
    `  peer in process: Pillow preprocessing ${cost.preprocessCpuMs.toFixed(2)} CPU-ms/img, torch ${cost.torch} inference ${cost.inferenceCpuMs.toFixed(2)} CPU-ms`,
  );
  return { python: peerPython(), check, cost };
}

/**
 * The HTTP half: `rounds` rounds of each server, one at a time in {@link roundOrder}; `serviceRound` runs
 * the service's default option once (a fresh process each time).
 */
export async function peerRounds(
  modelDir: string,
  modelName: string,
  meta: ModelMetadata,
  images: readonly BenchImage[],
  s: BenchSettings,
  rounds: number,
  serviceRound: () => Promise<VariantResult>,
  log: (line: string) => void,
): Promise<Pick<PeerResult, 'workers' | 'serviceRounds' | 'peerRounds' | 'service' | 'peer'>> {
  const contract = peerContract(meta, modelName);
  const serviceResults: VariantResult[] = [];
  const peerResults: PeerRoundResult[] = [];
  for (const [i, who] of roundOrder(rounds).entries()) {
    log(
      `model ${modelName}: comparison round ${Math.floor(i / 2) + 1}, ${who === 'service' ? 'service (default option)' : 'peer (FastAPI + PyTorch)'}`,
    );
    if (who === 'service') serviceResults.push(await serviceRound());
    else peerResults.push(await peerRound(modelDir, contract, images, s, log));
  }
  return {
    workers: os.availableParallelism(),
    serviceRounds: serviceResults,
    peerRounds: peerResults,
    service: medianFigures(serviceResults.map(serviceFigures)),
    peer: medianFigures(peerResults.map(peerFigures)),
  };
}
