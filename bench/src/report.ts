import type { BenchReport, LevelResult, ModelResult } from './bench';
import type { ServerFigures } from './peer';

const f1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
const f2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');

function failures(l: LevelResult): number {
  return l.load.completed - l.load.ok + l.load.errors;
}

/** `a / b` as a ratio for the side-by-side tables. */
function ratio(a: number, b: number): string {
  return `${f2(a / b)}x`;
}

/** The CPU floor, and Pillow/torch next to it when the peer was measured. */
function floorSection(model: ModelResult): string[] {
  const { floor, peer } = model;
  const out = [
    '',
    `CPU floor (measured in isolation: one call at a time, one thread; ${floor.cores} cores → ` +
      `${f1(floor.imagesPerSec)} img/s):`,
    '',
  ];
  if (peer) {
    out.push('| CPU-ms per image | this service | peer | service / peer |', '|---|---:|---:|---:|');
    for (const [i, p] of floor.preprocess.entries()) {
      const other = peer.cost.preprocess[i]?.cpuMs ?? Number.NaN;
      out.push(
        `| preprocess ${p.name} (sharp vs Pillow) | ${f2(p.cpuMs)} | ${f2(other)} | ${ratio(p.cpuMs, other)} |`,
      );
    }
    out.push(
      `| preprocess, mean of the mix | ${f2(floor.preprocessCpuMs)} | ${f2(peer.cost.preprocessCpuMs)} | ${ratio(floor.preprocessCpuMs, peer.cost.preprocessCpuMs)} |`,
      `| inference (ONNX Runtime vs torch ${peer.cost.torch}) | ${f2(floor.inferenceCpuMs)} | ${f2(peer.cost.inferenceCpuMs)} | ${ratio(floor.inferenceCpuMs, peer.cost.inferenceCpuMs)} |`,
    );
  } else {
    out.push('| CPU-ms per image | this service |', '|---|---:|');
    for (const p of floor.preprocess) out.push(`| preprocess ${p.name} (sharp) | ${f2(p.cpuMs)} |`);
    out.push(
      `| preprocess, mean of the mix | ${f2(floor.preprocessCpuMs)} |`,
      `| inference (ONNX Runtime) | ${f2(floor.inferenceCpuMs)} |`,
    );
  }
  return out;
}

/** The service and the peer side by side (medians over the interleaved rounds). */
function peerSection(model: ModelResult): string[] {
  const peer = model.peer;
  if (!peer) return [];
  const out = [
    '',
    `Against the peer (FastAPI + uvicorn + PyTorch + Pillow, ${peer.workers} worker processes, each on its own ` +
      `SO_REUSEPORT socket; torch module = ONNX Runtime within ${peer.check.maxAbsDiff.toExponential(1)} on ` +
      `${peer.check.tensors} fixed tensors; its Pillow preprocessing within a mean |Δ| of ` +
      `${Math.max(...peer.check.preprocess.map((p) => p.meanAbsDiff)).toFixed(4)} of the value range of the service's). Medians of ${peer.peerRounds.length} rounds each, one server at a time, interleaved:`,
    '',
    '| | this service | peer | service / peer |',
    '|---|---:|---:|---:|',
  ];
  const rows: [string, (f: ServerFigures) => number, (v: number) => string][] = [
    ['img/s at saturation', (f) => f.saturationImagesPerSec, f1],
    ['server CPU-ms per image at saturation', (f) => f.cpuMsPerImage, f2],
    ['p50 at one connection, ms', (f) => f.p50OneConnectionMs, f2],
    ['p99 at one connection, ms', (f) => f.p99OneConnectionMs, f2],
    ['peak RSS under load, MiB', (f) => f.peakRssMiB, f1],
    ['cold start to ready, ms', (f) => f.readyMs, f1],
  ];
  for (const [name, pick, fmt] of rows) {
    out.push(
      `| ${name} | ${fmt(pick(peer.service))} | ${fmt(pick(peer.peer))} | ${ratio(pick(peer.service), pick(peer.peer))} |`,
    );
  }
  out.push(
    '',
    `Rounds, img/s at saturation: service ${peer.serviceRounds.map((r) => f1(r.saturation.imagesPerSec)).join(', ')}; ` +
      `peer ${peer.peerRounds.map((r) => `${f1(r.saturation.imagesPerSec)} (worker cores ${r.saturation.workerCores.map(f2).join('/')})`).join(', ')}.`,
  );
  return out;
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
    out.push(...threadSection(model));
    for (const f of model.failed) out.push('', `**${f.variant}: not measured** (${f.error})`);
    out.push(...floorSection(model), ...peerSection(model));
    out.push(
      '',
      `Targets (default option; ceiling = ${model.ceiling.mode} at ${model.ceiling.best.concurrency} in flight):`,
      '',
    );
    out.push('| target | measured | met | missed by |', '|---|---|---|---|');
    for (const t of model.targets) {
      const met = t.met === null ? '—' : t.met ? 'yes' : '**no**';
      out.push(`| ${t.target} | ${t.measured} | ${met} | ${t.missedBy ?? ''} |`);
    }
    const missed = model.targets.filter((t) => t.limitedBy !== null);
    if (missed.length > 0) {
      out.push('', "What limits each missed target (this run's profile):", '');
      for (const t of missed) out.push(`- ${t.target}: ${t.limitedBy}`);
    }
    out.push(...profileSection(model));
  }
  return `${out.join('\n')}\n`;
}

/** Where the main thread's wall time went at saturation, from its CPU profile (bench.ts `profileSaturation`). */
function profileSection(model: ModelResult): string[] {
  const p = model.profile;
  if (!p) return [];
  const pct = (share: number): string => `${(share * 100).toFixed(1)} %`;
  return [
    '',
    `The main thread at saturation, from a CPU profile (\`${p.file}\` beside this report; ${p.connections} ` +
      `connections for ${f1(p.seconds)} s, ${f1(p.imagesPerSec)} img/s while profiled). Shares of its wall time; ` +
      'V8 samples wall time, so time spent waiting for a core counts in the function the thread was in: ' +
      `idle ${pct(p.idle)}, garbage collection ${pct(p.gc)}.`,
    '',
    `By package (self time, a native counted with its caller): ${p.packages.map((x) => `${x.what} ${pct(x.share)}`).join(', ')}.`,
    '',
    '| function (self time) | share of wall time |',
    '|---|---:|',
    ...p.functions.map((x) => `| ${x.what.replaceAll('|', '\\|')} | ${pct(x.share)} |`),
  ];
}

/**
 * The profile of the service at saturation: CPU-ms per image by thread group, per option, so a missed target
 * shows what limits it (decoding in libvips and the libuv pool, inference in the workers, HTTP on the main
 * thread, garbage collection in V8's helper threads).
 */
function threadSection(model: ModelResult): string[] {
  const names = [
    ...new Set(model.variants.flatMap((v) => Object.keys(v.saturation.serviceThreadCpuMsPerImage))),
  ].filter((name) =>
    model.variants.some((v) => (v.saturation.serviceThreadCpuMsPerImage[name] ?? 0) >= 0.05),
  );
  if (names.length === 0) return [];
  names.sort(
    (a, b) =>
      (model.variants[0]?.saturation.serviceThreadCpuMsPerImage[b] ?? 0) -
      (model.variants[0]?.saturation.serviceThreadCpuMsPerImage[a] ?? 0),
  );
  const out = [
    '',
    'Where the service CPU goes at saturation (CPU-ms per image, by thread; threads under 0.05 ms left out):',
    '',
    `| option | ${names.join(' | ')} | all threads |`,
    `|---|${names.map(() => '---:').join('|')}|---:|`,
  ];
  for (const v of model.variants) {
    const t = v.saturation.serviceThreadCpuMsPerImage;
    out.push(
      `| ${v.variant.name} | ${names.map((n) => f2(t[n] ?? 0)).join(' | ')} | ${f2(v.saturation.serviceCpuMsPerImage)} |`,
    );
  }
  return out;
}
