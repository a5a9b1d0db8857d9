/**
 * The bench's targets (issue 17, and issue 6's low-load latency), as data: each names what it measures,
 * its bound and how to read the value from a model's results. `evaluateTargets` applies them;
 * report.ts renders the table. Change a target here and nowhere else.
 */
import type { LevelResult, ModelResult, VariantResult } from './bench';
import type { ServerFigures } from './peer';

/** A model's results before its targets are evaluated. */
export type MeasuredModel = Omit<ModelResult, 'targets'>;

/** A measured value and how it was obtained (shown next to it). */
export interface Measured {
  readonly value: number;
  readonly detail: string;
}

/** One target: `value ≥ limit` (`atLeast`) or `value ≤ limit` (`atMost`). */
export interface TargetSpec {
  readonly id: string;
  /** What the value is, e.g. `service saturation / in-process ceiling`. */
  readonly what: string;
  readonly bound: 'atLeast' | 'atMost';
  readonly limit: number;
  /** Unit of value and limit as printed (`x` for a ratio). */
  readonly unit: 'x' | 'ms' | 'MB';
  /** What the measurement needs beyond a plain `npm run bench`. @default - nothing */
  readonly needs?: 'peer';
  /** The value, or undefined when the run did not measure it (e.g. the default option failed). */
  readonly measure: (m: MeasuredModel) => Measured | undefined;
  /** What limits the value, from the same run's profile: printed when the target is missed. */
  readonly limits: (m: MeasuredModel) => string | undefined;
}

/** A target applied to one model's results. */
export interface TargetResult {
  readonly id: string;
  /** `what ≥ limit unit`, as printed. */
  readonly target: string;
  readonly limit: number;
  /** null when not measured. */
  readonly value: number | null;
  /** The value and how it was obtained, as printed (or why it was not measured). */
  readonly measured: string;
  /** null when not measured. */
  readonly met: boolean | null;
  /** How far the value is on the wrong side of the limit, as printed; null when met or not measured. */
  readonly missedBy: string | null;
  /** What limits the value, from the same run's profile ({@link TargetSpec.limits}); null unless missed. */
  readonly limitedBy: string | null;
}

const f0 = (v: number): string => (Number.isFinite(v) ? v.toFixed(0) : 'n/a');
const f1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
const f2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
const MB_PER_MIB = 1.048576;

/** The service's default option: no environment overrides, one raw image per request. */
export function defaultVariant(m: Pick<MeasuredModel, 'variants'>): VariantResult | undefined {
  return m.variants.find(
    (x) =>
      Object.keys(x.variant.env).length === 0 &&
      (x.variant.imagesPerRequest ?? 1) === 1 &&
      (x.variant.api ?? 'predict') === 'predict',
  );
}

function withDefault<T>(
  pick: (v: VariantResult, m: MeasuredModel) => T,
): (m: MeasuredModel) => T | undefined {
  return (m) => {
    const v = defaultVariant(m);
    return v ? pick(v, m) : undefined;
  };
}

/** This service's figure over the peer's, from the `--peer` comparison (undefined without it). */
function againstPeer(
  figure: keyof ServerFigures,
  format: (v: number) => string,
  unit: string,
): (m: MeasuredModel) => Measured | undefined {
  return (m) =>
    m.peer && {
      value: m.peer.service[figure] / m.peer.peer[figure],
      detail: `${format(m.peer.service[figure])} / ${format(m.peer.peer[figure])} ${unit}`,
    };
}

/** Images answered during a level. */
function levelImages(l: LevelResult): number {
  return l.imagesPerSec * l.load.durationSec;
}

/** The main thread's garbage collections during a level: what pauses its event loop. */
function gcText(l: LevelResult): string {
  const { major, minor } = l.gc;
  if (!Number.isFinite(major.count)) return 'no garbage-collection figures (the /metrics scrape failed)';
  const each = (g: { count: number; ms: number }): string => f1(g.count > 0 ? g.ms / g.count : 0);
  return (
    `the main thread paused for ${major.count} full garbage collections ` +
    `(${f1((1000 * major.count) / levelImages(l))} per 1000 images, ${each(major)} ms each on average) ` +
    `and ${minor.count} young-generation ones (${each(minor)} ms each)`
  );
}

/** Who used the cores during a level. */
function coresText(l: LevelResult, cores: number): string {
  return `the server used ${f2(l.serviceCores)} and the load generator ${f2(l.loadCores)} of the ${cores} cores`;
}

/** The service's main-thread CPU-ms per image in a level, with what that thread does. */
function mainThreadText(l: LevelResult): string {
  const ms = l.serviceThreadCpuMsPerImage.MainThread ?? Number.NaN;
  return `main thread (HTTP, body, response, sharp's setup, normalisation) ${f2(ms)}`;
}

/** The in-process single-image p50 (the floor of the service's latency at low load). */
function singleImageP50(m: MeasuredModel): number {
  return Math.min(...m.ceilings.map((c) => c.singleImage.p50));
}

/** Every target, in the order printed. */
export const TARGETS: readonly TargetSpec[] = [
  {
    id: 'saturation-vs-ceiling',
    what: 'service saturation / in-process ceiling (same run)',
    bound: 'atLeast',
    limit: 0.95,
    unit: 'x',
    measure: withDefault((v, m) => ({
      value: v.saturation.imagesPerSec / m.ceiling.best.imagesPerSec,
      detail: `${f1(v.saturation.imagesPerSec)} / ${f1(m.ceiling.best.imagesPerSec)} img/s`,
    })),
    limits: withDefault(
      (v, m) =>
        `at saturation the service spent ${f2(v.saturation.serviceCpuMsPerImage)} CPU-ms per image against ` +
        `${f2(m.ceiling.best.cpuMsPerImage)} in process, its ${mainThreadText(v.saturation)}; ` +
        coresText(v.saturation, m.floor.cores),
    ),
  },
  {
    id: 'ceiling-vs-floor',
    what: 'in-process ceiling / CPU floor',
    bound: 'atLeast',
    limit: 0.8,
    unit: 'x',
    measure: (m) => ({
      value: m.ceiling.best.imagesPerSec / m.floor.imagesPerSec,
      detail:
        `${f1(m.ceiling.best.imagesPerSec)} / ${f1(m.floor.imagesPerSec)} img/s; floor = ${m.floor.cores} cores / ` +
        `(${f2(m.floor.preprocessCpuMs)} preprocess + ${f2(m.floor.inferenceCpuMs)} inference CPU-ms)`,
    }),
    limits: (m) =>
      `the ceiling spent ${f2(m.ceiling.best.cpuMsPerImage)} CPU-ms per image (${m.ceiling.mode}, ` +
      `${m.ceiling.best.concurrency} in flight) against the floor's ` +
      `${f2(m.floor.preprocessCpuMs + m.floor.inferenceCpuMs)}, one call at a time`,
  },
  {
    id: 'saturation-vs-peer',
    what: 'saturation / peer saturation',
    bound: 'atLeast',
    limit: 1.5,
    unit: 'x',
    needs: 'peer',
    measure: againstPeer('saturationImagesPerSec', f1, 'img/s'),
    limits: (m) =>
      m.peer &&
      `CPU-ms per image at saturation ${f2(m.peer.service.cpuMsPerImage)} against the peer's ` +
        `${f2(m.peer.peer.cpuMsPerImage)}; one call at a time, preprocessing ${f2(m.floor.preprocessCpuMs)} ` +
        `(sharp) against ${f2(m.peer.cost.preprocessCpuMs)} (Pillow), inference ${f2(m.floor.inferenceCpuMs)} ` +
        `(ONNX Runtime) against ${f2(m.peer.cost.inferenceCpuMs)} (torch); with HTTP, hand-offs and garbage ` +
        `collection free, decoding and inference alone would reach at most ` +
        `${f2(m.peer.peer.cpuMsPerImage / (m.floor.preprocessCpuMs + m.floor.inferenceCpuMs))}x the peer on ` +
        `the same cores`,
  },
  {
    id: 'p50-vs-peer',
    what: 'p50 at one connection / peer p50',
    bound: 'atMost',
    limit: 0.7,
    unit: 'x',
    needs: 'peer',
    measure: againstPeer('p50OneConnectionMs', f2, 'ms'),
    limits: (m) =>
      m.peer &&
      `the service's p50 is the in-process single image (${f2(singleImageP50(m))} ms: decoding, then inference ` +
        `in a worker) plus ${f2(m.peer.service.p50OneConnectionMs - singleImageP50(m))} ms of HTTP; the peer ` +
        `preprocesses and infers on the request's own thread, ` +
        `${f2(m.peer.cost.preprocessCpuMs + m.peer.cost.inferenceCpuMs)} CPU-ms per image; with HTTP free, ` +
        `the in-process single image alone is ${f2(singleImageP50(m) / m.peer.peer.p50OneConnectionMs)}x the ` +
        `peer's p50`,
  },
  {
    id: 'p99-vs-peer',
    what: 'p99 at one connection / peer p99',
    bound: 'atMost',
    limit: 1,
    unit: 'x',
    needs: 'peer',
    measure: againstPeer('p99OneConnectionMs', f2, 'ms'),
    limits: (m) => {
      const v = defaultVariant(m);
      return (
        m.peer &&
        v &&
        `p99 − p50 at one connection ${f2(m.peer.service.p99OneConnectionMs - m.peer.service.p50OneConnectionMs)} ms ` +
          `against the peer's ${f2(m.peer.peer.p99OneConnectionMs - m.peer.peer.p50OneConnectionMs)}; at one ` +
          `connection in the sweep ${gcText(v.lowLoad)}, longest event-loop stall ${f1(v.lowLoad.maxLoopDelayMs)} ms`
      );
    },
  },
  {
    id: 'preprocess-vs-pillow',
    what: 'preprocessing CPU (sharp) / Pillow, same images and output size',
    bound: 'atMost',
    limit: 1,
    unit: 'x',
    needs: 'peer',
    measure: (m) =>
      m.peer && {
        value: m.floor.preprocessCpuMs / m.peer.cost.preprocessCpuMs,
        detail: `${f2(m.floor.preprocessCpuMs)} / ${f2(m.peer.cost.preprocessCpuMs)} CPU-ms/img`,
      },
    limits: (m) => {
      const pillow = new Map(m.peer?.cost.preprocess.map((p) => [p.name, p.cpuMs]));
      const each = m.floor.preprocess
        .filter((p) => pillow.has(p.name))
        .map((p) => `${p.name} ${f2(p.cpuMs)} / ${f2(pillow.get(p.name) ?? Number.NaN)}`);
      return m.peer && `CPU-ms per image, sharp / Pillow: ${each.join(', ')}`;
    },
  },
  {
    id: 'peak-rss',
    what: 'peak RSS under load',
    bound: 'atMost',
    limit: 300,
    unit: 'MB',
    measure: withDefault((v) => {
      const mib = Math.max(...[...v.sweep, v.halfRate].map((l) => l.peakRssMiB).filter(Number.isFinite));
      return {
        value: mib * MB_PER_MIB,
        detail: `${f1(mib)} MiB (${f1(v.coldStart.rssAfterReadyMiB)} at ready)`,
      };
    }),
    limits: withDefault((v) => {
      const peak = [...v.sweep, v.halfRate].reduce((a, b) => (b.peakRssMiB > a.peakRssMiB ? b : a));
      const where = peak.overallRate
        ? `the open loop at ${peak.overallRate}/s`
        : `${peak.connections} connections`;
      return (
        `${f1(v.coldStart.rssAfterReadyMiB)} MiB at ready (modules, inference workers and their sessions), ` +
        `${f1(peak.peakRssMiB - v.coldStart.rssAfterReadyMiB)} MiB more at the peak (${where}: request bodies, ` +
        `decoders' buffers, garbage not yet collected)`
      );
    }),
  },
  {
    id: 'loop-stall',
    what: 'event-loop stall at saturation',
    bound: 'atMost',
    limit: 20,
    unit: 'ms',
    measure: withDefault((v) => ({
      value: v.saturation.maxLoopDelayMs,
      detail: `at ${v.saturation.connections} connections; /health max ${f1(v.saturation.healthMs.max)} ms`,
    })),
    limits: withDefault((v, m) => `${gcText(v.saturation)}; ${coresText(v.saturation, m.floor.cores)}`),
  },
  {
    id: 'half-load-tail',
    what: 'p99 / p50 at 50 % of saturation',
    bound: 'atMost',
    limit: 3,
    unit: 'x',
    measure: withDefault((v) => ({
      value: v.halfRate.load.latencyMs.p99 / v.halfRate.load.latencyMs.p50,
      detail: `${f2(v.halfRate.load.latencyMs.p99)} / ${f2(v.halfRate.load.latencyMs.p50)} ms`,
    })),
    limits: withDefault((v, m) => `at 50 % ${gcText(v.halfRate)}; ${coresText(v.halfRate, m.floor.cores)}`),
  },
  {
    id: 'low-load-p50',
    what: 'p50 at one connection − in-process single-image p50 (issue 6)',
    bound: 'atMost',
    limit: 1,
    unit: 'ms',
    measure: withDefault((v, m) => {
      const single = Math.min(...m.ceilings.map((c) => c.singleImage.p50));
      return {
        value: v.lowLoad.load.latencyMs.p50 - single,
        detail: `${f2(v.lowLoad.load.latencyMs.p50)} − ${f2(single)} ms`,
      };
    }),
    limits: withDefault(
      (v) =>
        `at one connection the service's ${mainThreadText(v.lowLoad)} CPU-ms per image; ` +
        'each image also makes a round trip to an inference worker',
    ),
  },
  {
    id: 'cold-start',
    what: 'cold start to ready',
    bound: 'atMost',
    limit: 1000,
    unit: 'ms',
    measure: withDefault((v) => ({
      value: v.coldStart.readyMs,
      detail: `first prediction ${f1(v.coldStart.firstPredictionMs)} ms later`,
    })),
    limits: withDefault((v, m) => {
      const threads = Object.entries(v.coldStart.threadCpuMs)
        .filter(([, ms]) => ms >= 10)
        .sort((a, b) => b[1] - a[1]);
      const total = threads.reduce((sum, [, ms]) => sum + ms, 0);
      return (
        `CPU used by ready: ${threads.map(([name, ms]) => `${name} ${f0(ms)}`).join(', ')} ms ` +
        `(${f0(total)} CPU-ms in all: ${f0(total / m.floor.cores)} ms even with all ${m.floor.cores} cores busy)`
      );
    }),
  },
];

function formatValue(value: number, unit: TargetSpec['unit']): string {
  return unit === 'x' ? `${f2(value)}x` : `${f1(value)} ${unit}`;
}

/** `what ≥ limit` as printed. */
export function targetText(t: TargetSpec): string {
  return `${t.what} ${t.bound === 'atLeast' ? '≥' : '≤'} ${t.limit}${t.unit === 'x' ? 'x' : ` ${t.unit}`}`;
}

/** Applies one target to a measured value. */
export function checkTarget(t: TargetSpec, measured: Measured | undefined): TargetResult {
  const base = { id: t.id, target: targetText(t), limit: t.limit };
  if (!measured || !Number.isFinite(measured.value)) {
    const why = t.needs === 'peer' && !measured ? 'not measured (run with --peer)' : 'not measured';
    return {
      ...base,
      value: null,
      measured: measured ? `${why}: ${measured.detail}` : why,
      met: null,
      missedBy: null,
      limitedBy: null,
    };
  }
  const { value } = measured;
  const met = t.bound === 'atLeast' ? value >= t.limit : value <= t.limit;
  const gap = Math.abs(value - t.limit);
  const relative =
    t.limit !== 0
      ? ` (${((100 * gap) / Math.abs(t.limit)).toFixed(0)} % ${t.bound === 'atLeast' ? 'short' : 'over'})`
      : '';
  return {
    ...base,
    value,
    measured: `${formatValue(value, t.unit)} (${measured.detail})`,
    met,
    missedBy: met ? null : `${formatValue(gap, t.unit)}${relative}`,
    limitedBy: null,
  };
}

/** Every target for one model. */
export function evaluateTargets(m: MeasuredModel): TargetResult[] {
  return TARGETS.map((t) => {
    const result = checkTarget(t, t.measure(m));
    return result.met === false ? { ...result, limitedBy: t.limits(m) ?? null } : result;
  });
}
