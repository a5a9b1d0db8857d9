import type { BenchReport, LevelResult, ModelResult, VariantResult } from './bench';

const f1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
const f2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');

function failures(l: LevelResult): number {
  return l.load.completed - l.load.ok + l.load.errors;
}

/** Highest value of a per-level figure over every level of a variant. */
function maxOver(v: VariantResult, pick: (l: LevelResult) => number): number {
  return Math.max(...[...v.sweep, v.halfRate].map(pick).filter(Number.isFinite));
}

/** One issue-6 target: what was measured and whether it is met. */
export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}

/** The issue-6 targets for the default serving variant of one model. */
export function targetChecks(m: ModelResult): TargetCheck[] {
  // The default option: no environment overrides, one raw image per request.
  const v = m.variants.find(
    (x) =>
      Object.keys(x.variant.env).length === 0 &&
      (x.variant.imagesPerRequest ?? 1) === 1 &&
      (x.variant.api ?? 'predict') === 'predict',
  );
  if (!v) return [];
  const ratio = v.saturation.imagesPerSec / m.ceiling.best.imagesPerSec;
  // The floor: the fastest single image over every in-process mode.
  const single = Math.min(...m.ceilings.map((c) => c.singleImage.p50));
  const low = v.lowLoad.load.latencyMs.p50;
  const half = v.halfRate.load.latencyMs;
  const rss = maxOver(v, (l) => l.peakRssMiB);
  const loop = v.saturation.maxLoopDelayMs;
  const health = v.saturation.healthMs.max;
  return [
    {
      target: 'throughput at saturation ≥ 0.9 x in-process ceiling',
      measured: `${f1(v.saturation.imagesPerSec)} / ${f1(m.ceiling.best.imagesPerSec)} img/s = ${f2(ratio)}x`,
      met: ratio >= 0.9,
    },
    {
      target: 'p50 at low load ≤ in-process single-image p50 + 1 ms',
      measured: `${f2(low)} ms vs ${f2(single)} + 1 ms`,
      met: low <= single + 1,
    },
    {
      target: 'p99 at 50 % of saturation ≤ 3 x its p50',
      measured: `p99 ${f2(half.p99)} ms, p50 ${f2(half.p50)} ms (${f2(half.p99 / half.p50)}x)`,
      met: half.p99 <= 3 * half.p50,
    },
    ...(m.model === 'default'
      ? [
          {
            target: 'cold start to /ready ≤ 1 s',
            measured: `${f1(v.coldStart.readyMs)} ms`,
            met: v.coldStart.readyMs <= 1000,
          },
        ]
      : []),
    { target: 'peak RSS under load ≤ 300 MB', measured: `${f1(rss)} MiB`, met: rss * 1.048576 <= 300 },
    {
      target: 'no event-loop stall > 20 ms at saturation',
      measured: `max loop stall ${f1(loop)} ms; /health max ${f1(health)} ms`,
      met: loop <= 20,
    },
  ];
}

/** The Markdown summary printed by `npm run bench` and written next to the JSON. */
export function renderMarkdown(r: BenchReport): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`# Benchmark ${r.label} (${r.startedAt})`, '');
  out.push(
    `Machine: ${m.cpuModel}, ${m.logicalCpus} CPUs (available ${m.availableParallelism}, cgroup cpu.max ` +
      `${m.cgroupCpuMax ?? 'n/a'}), ${m.totalMemoryMiB} MiB; Node ${m.node}, onnxruntime-node ${m.onnxruntimeNode}, ` +
      `sharp ${m.sharp} (libvips ${m.libvips}); ${m.platform}.`,
  );
  out.push(
    `Inputs (cycled): ${r.images.map((i) => `${i.name} (${(i.bytes / 1024).toFixed(0)} KiB)`).join(', ')}.`,
  );
  out.push(
    `Service: \`node ${r.serviceEntry}\`; load: autocannon in a separate process, ${r.settings.durationSec} s per level.`,
  );
  for (const model of r.models) {
    out.push('', `## Model \`${model.model}\``, '');
    out.push('In-process ceiling (service preprocessing + inference, no HTTP):', '');
    out.push('| mode | in flight | img/s | p50 ms | p99 ms |', '|---|---:|---:|---:|---:|');
    for (const c of model.ceilings) {
      for (const p of c.points) {
        out.push(
          `| ${c.mode} | ${p.concurrency} | ${f1(p.imagesPerSec)} | ${f2(p.latencyMs.p50)} | ${f2(p.latencyMs.p99)} |`,
        );
      }
    }
    out.push('', 'Service over HTTP (closed-loop connections; latency of 2xx responses):', '');
    out.push(
      '| option | conns | img/s | p50 ms | p90 ms | p99 ms | non-2xx+errors | peak RSS MiB | max loop stall ms | /health max ms | service cores (CPU ms/img) | load-generator cores |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const v of model.variants) {
      for (const l of [...v.sweep, v.halfRate]) {
        const conns = l.overallRate ? `open loop ${l.overallRate}/s` : String(l.connections);
        const lat = l.load.latencyMs;
        out.push(
          `| ${v.variant.name} | ${conns} | ${f1(l.imagesPerSec)} | ${f2(lat.p50)} | ${f2(lat.p90)} | ${f2(lat.p99)} | ` +
            `${failures(l)} | ${f1(l.peakRssMiB)} | ${f1(l.maxLoopDelayMs)} | ${f1(l.healthMs.max)} | ` +
            `${f2(l.serviceCores)} (${f1(l.serviceCpuMsPerImage)}) | ${f2(l.loadCores)} |`,
        );
      }
    }
    out.push('', 'Per option: saturation vs ceiling, cold start:', '');
    out.push(
      '| option | saturation img/s | x ceiling | p50 / p99 @ 50 % rate ms | cold start → ready ms | first prediction ms | RSS at ready MiB | exit |',
      '|---|---:|---:|---:|---:|---:|---:|---|',
    );
    for (const v of model.variants) {
      out.push(
        `| ${v.variant.name} | ${f1(v.saturation.imagesPerSec)} (${v.saturation.connections} conns) | ` +
          `${f2(v.saturation.imagesPerSec / model.ceiling.best.imagesPerSec)} | ` +
          `${f2(v.halfRate.load.latencyMs.p50)} / ${f2(v.halfRate.load.latencyMs.p99)} | ` +
          `${f1(v.coldStart.readyMs)} | ${f2(v.coldStart.firstPredictionMs)} | ${f1(v.coldStart.rssAfterReadyMiB)} | ` +
          `${v.exit.signal ?? v.exit.code} |`,
      );
    }
    for (const f of model.failed) out.push('', `**${f.variant}: not measured** (${f.error})`);
    out.push(
      '',
      `Targets (default option, ceiling = ${model.ceiling.mode} at ${model.ceiling.best.concurrency} in flight):`,
      '',
    );
    out.push('| target | measured | met |', '|---|---|---|');
    for (const t of targetChecks(model))
      out.push(`| ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`);
  }
  return `${out.join('\n')}\n`;
}
