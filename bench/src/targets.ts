/**
 * The bench's targets (issue 17, and issue 6's low-load latency), as data: each names what it measures,
 * its bound and how to read the value from a model's results. `evaluateTargets` applies them;
 * report.ts renders the table. Change a target here and nowhere else.
 */
import type { ModelResult, VariantResult } from './bench';
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
}

const f1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
const f2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
const MB_PER_MIB = 1.048576;

/** The service's default option: no environment overrides, one raw image per request. */
export function defaultVariant(m: MeasuredModel): VariantResult | undefined {
  return m.variants.find(
    (x) =>
      Object.keys(x.variant.env).length === 0 &&
      (x.variant.imagesPerRequest ?? 1) === 1 &&
      (x.variant.api ?? 'predict') === 'predict',
  );
}

function withDefault(
  pick: (v: VariantResult, m: MeasuredModel) => Measured,
): (m: MeasuredModel) => Measured | undefined {
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
  },
  {
    id: 'saturation-vs-peer',
    what: 'saturation / peer saturation',
    bound: 'atLeast',
    limit: 1.5,
    unit: 'x',
    needs: 'peer',
    measure: againstPeer('saturationImagesPerSec', f1, 'img/s'),
  },
  {
    id: 'p50-vs-peer',
    what: 'p50 at one connection / peer p50',
    bound: 'atMost',
    limit: 0.7,
    unit: 'x',
    needs: 'peer',
    measure: againstPeer('p50OneConnectionMs', f2, 'ms'),
  },
  {
    id: 'p99-vs-peer',
    what: 'p99 at one connection / peer p99',
    bound: 'atMost',
    limit: 1,
    unit: 'x',
    needs: 'peer',
    measure: againstPeer('p99OneConnectionMs', f2, 'ms'),
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
  };
}

/** Every target for one model. */
export function evaluateTargets(m: MeasuredModel, targets: readonly TargetSpec[] = TARGETS): TargetResult[] {
  return targets.map((t) => checkTarget(t, t.measure(m)));
}
