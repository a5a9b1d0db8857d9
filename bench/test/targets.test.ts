import { checkTarget, evaluateTargets, TARGETS, targetText, type TargetSpec } from '../src/targets';
import { defaultVariant, level, measuredModel, peer } from './bench-fixtures';

const byId = (results: ReturnType<typeof evaluateTargets>, id: string) => {
  const r = results.find((t) => t.id === id);
  if (!r) throw new Error(`no target ${id}`);
  return r;
};

describe('bench targets', () => {
  it('holds the issue-17 targets with their bounds, one entry each', () => {
    const bounds = Object.fromEntries(TARGETS.map((t) => [t.id, `${t.bound} ${t.limit} ${t.unit}`]));
    expect(bounds).toEqual({
      'saturation-vs-ceiling': 'atLeast 0.95 x',
      'ceiling-vs-floor': 'atLeast 0.8 x',
      'saturation-vs-peer': 'atLeast 1.5 x',
      'p50-vs-peer': 'atMost 0.7 x',
      'p99-vs-peer': 'atMost 1 x',
      'preprocess-vs-pillow': 'atMost 1 x',
      'peak-rss': 'atMost 300 MB',
      'loop-stall': 'atMost 20 ms',
      'half-load-tail': 'atMost 3 x',
      'low-load-p50': 'atMost 1 ms',
      'cold-start': 'atMost 1000 ms',
    });
    expect(TARGETS).toHaveLength(Object.keys(bounds).length);
  });

  it('meets a target exactly at its bound and reads each value from the right figures', () => {
    const results = evaluateTargets(measuredModel());
    const values = Object.fromEntries(results.filter((r) => r.value !== null).map((r) => [r.id, r.value]));
    expect(values['saturation-vs-ceiling']).toBeCloseTo(190 / 200);
    expect(values['ceiling-vs-floor']).toBeCloseTo(1);
    expect(values['peak-rss']).toBeCloseTo(250 * 1.048576); // MiB measured, MB in the target
    expect(values['loop-stall']).toBe(15);
    expect(values['half-load-tail']).toBeCloseTo(2.5);
    expect(values['low-load-p50']).toBeCloseTo(0.5);
    expect(values['cold-start']).toBe(500);
    expect(results.filter((r) => r.value !== null).every((r) => r.met === true && r.missedBy === null)).toBe(
      true,
    );
  });

  it('says a peer target was not measured when the run had no --peer', () => {
    const results = evaluateTargets(measuredModel());
    for (const id of ['saturation-vs-peer', 'p50-vs-peer', 'p99-vs-peer', 'preprocess-vs-pillow']) {
      expect(byId(results, id)).toMatchObject({
        value: null,
        met: null,
        missedBy: null,
        measured: 'not measured (run with --peer)',
      });
    }
  });

  it('compares with the peer medians, and says by how much a target is missed', () => {
    const results = evaluateTargets(measuredModel({ peer: peer() }));
    expect(byId(results, 'saturation-vs-peer')).toMatchObject({
      value: 1.9,
      met: true,
      measured: '1.90x (190.0 / 100.0 img/s)',
    });
    expect(byId(results, 'p50-vs-peer')).toMatchObject({ value: 0.5, met: true });
    expect(byId(results, 'p99-vs-peer')).toMatchObject({ value: 0.8, met: true });
    // sharp 8 CPU-ms against Pillow's 5: 1.6x where at most 1x is allowed.
    expect(byId(results, 'preprocess-vs-pillow')).toMatchObject({
      value: 1.6,
      met: false,
      missedBy: '0.60x (60 % over)',
      measured: '1.60x (8.00 / 5.00 CPU-ms/img)',
    });
  });

  it('fails the throughput, memory and latency targets of a slow, large service, with the shortfall', () => {
    const sat = level(8, 152, { peakRssMiB: 400, maxLoopDelayMs: 30 });
    const results = evaluateTargets(
      measuredModel({
        variants: [
          defaultVariant({
            saturation: sat,
            sweep: [sat],
            coldStart: { ...defaultVariant().coldStart, readyMs: 1400 },
          }),
        ],
      }),
    );
    expect(byId(results, 'saturation-vs-ceiling')).toMatchObject({
      met: false,
      missedBy: '0.19x (20 % short)',
    });
    expect(byId(results, 'peak-rss')).toMatchObject({ met: false, missedBy: '119.4 MB (40 % over)' });
    expect(byId(results, 'loop-stall')).toMatchObject({ met: false, missedBy: '10.0 ms (50 % over)' });
    expect(byId(results, 'cold-start')).toMatchObject({ met: false, missedBy: '400.0 ms (40 % over)' });
  });

  it('says what limits each missed target, from the same figures, and nothing for one that is met', () => {
    const sat = level(8, 152, { peakRssMiB: 400, maxLoopDelayMs: 30 });
    const slow = defaultVariant({
      saturation: sat,
      sweep: [defaultVariant().lowLoad, sat],
      coldStart: { ...defaultVariant().coldStart, readyMs: 1400 },
    });
    const results = evaluateTargets(measuredModel({ variants: [slow], peer: peer() }));
    const ids = ['saturation-vs-ceiling', 'loop-stall', 'peak-rss', 'cold-start', 'preprocess-vs-pillow'];
    expect(Object.fromEntries(ids.map((id) => [id, byId(results, id).limitedBy]))).toEqual({
      'saturation-vs-ceiling':
        'at saturation the service spent 10.00 CPU-ms per image against 9.00 in process, its main thread ' +
        "(HTTP, body, response, sharp's setup, normalisation) 2.00; the server used 1.90 and the load " +
        'generator 0.10 of the 2 cores',
      // 4 full collections in 152 images: 26.3 per 1000.
      'loop-stall':
        'the main thread paused for 4 full garbage collections (26.3 per 1000 images, 5.0 ms each on average) ' +
        'and 50 young-generation ones (0.5 ms each); the server used 1.90 and the load generator 0.10 of the 2 cores',
      'peak-rss':
        '200.0 MiB at ready (modules, inference workers and their sessions), 200.0 MiB more at the peak ' +
        "(8 connections: request bodies, decoders' buffers, garbage not yet collected)",
      // Threads under 10 CPU-ms are left out; 1250 CPU-ms on 2 cores.
      'cold-start':
        'CPU used by ready: MainThread 600, WorkerThread 500, V8Worker 150 ms (1250 CPU-ms in all: 625 ms even ' +
        'with all 2 cores busy)',
      'preprocess-vs-pillow':
        'CPU-ms per image, sharp / Pillow: jpeg-640x480 6.00 / 4.00, png-640x480 10.00 / 6.00',
    });
    const unscraped = level(8, 152, {
      maxLoopDelayMs: 30,
      gc: { major: { count: Number.NaN, ms: Number.NaN }, minor: { count: Number.NaN, ms: Number.NaN } },
    });
    const noMetrics = evaluateTargets(
      measuredModel({ variants: [defaultVariant({ saturation: unscraped, sweep: [unscraped] })] }),
    );
    expect(byId(noMetrics, 'loop-stall').limitedBy).toBe(
      'no garbage-collection figures (the /metrics scrape failed); the server used 1.90 and the load generator ' +
        '0.10 of the 2 cores',
    );
    // Met: no explanation, even where one could be computed.
    expect(byId(results, 'saturation-vs-peer')).toMatchObject({ met: true, limitedBy: null });
    expect(byId(results, 'ceiling-vs-floor')).toMatchObject({ met: true, limitedBy: null });
  });

  it('explains the peer targets from both sides of the comparison', () => {
    const slowPeerRatio = peer({
      service: { ...peer().service, p50OneConnectionMs: 19.5, p99OneConnectionMs: 40 },
    });
    const results = evaluateTargets(measuredModel({ peer: slowPeerRatio }));
    expect(byId(results, 'p50-vs-peer').limitedBy).toBe(
      "the service's p50 is the in-process single image (9.50 ms: decoding, then inference in a worker) plus " +
        "10.00 ms of HTTP; the peer preprocesses and infers on the request's own thread, 9.00 CPU-ms per image; " +
        "with HTTP free, the in-process single image alone is 0.47x the peer's p50",
    );
    expect(byId(results, 'p99-vs-peer').limitedBy).toBe(
      "p99 − p50 at one connection 20.50 ms against the peer's 5.00; at one connection in the sweep the main " +
        'thread paused for 4 full garbage collections (44.4 per 1000 images, 5.0 ms each on average) and 50 ' +
        'young-generation ones (0.5 ms each), longest event-loop stall 10.0 ms',
    );
  });

  it('says how far the peer ratio could go with everything but decoding and inference free', () => {
    // The peer spends 12 CPU-ms per image at saturation; this service's decoding and inference alone take 8 + 2:
    // 1.2x at best, short of 1.5x whatever HTTP costs. The same peer at 18 CPU-ms leaves room up to 1.8x.
    const cheapPeer = peer({
      service: { ...peer().service, saturationImagesPerSec: 110 },
      peer: { ...peer().peer, cpuMsPerImage: 12 },
    });
    const costlyPeer = peer({ service: { ...peer().service, saturationImagesPerSec: 110 } });
    const reach = (p: ReturnType<typeof peer>) =>
      byId(evaluateTargets(measuredModel({ peer: p })), 'saturation-vs-peer');
    expect(reach(cheapPeer)).toMatchObject({ met: false, missedBy: '0.40x (27 % short)' });
    expect(reach(cheapPeer).limitedBy).toBe(
      "CPU-ms per image at saturation 10.00 against the peer's 12.00; one call at a time, preprocessing 8.00 " +
        '(sharp) against 5.00 (Pillow), inference 2.00 (ONNX Runtime) against 4.00 (torch); with HTTP, ' +
        'hand-offs and garbage collection free, decoding and inference alone would reach at most 1.20x the ' +
        'peer on the same cores',
    );
    expect(reach(costlyPeer).limitedBy).toMatch(/would reach at most 1\.80x the peer on the same cores$/);
  });

  it('marks the service targets not measured when the default option failed to run', () => {
    const results = evaluateTargets(measuredModel({ variants: [] }));
    expect(byId(results, 'saturation-vs-ceiling')).toMatchObject({
      value: null,
      met: null,
      measured: 'not measured',
    });
    expect(byId(results, 'ceiling-vs-floor').met).toBe(true);
  });

  it('never calls a NaN measurement met', () => {
    const spec: TargetSpec = {
      id: 'x',
      what: 'x',
      bound: 'atMost',
      limit: 1,
      unit: 'ms',
      measure: () => undefined,
      limits: () => 'never asked',
    };
    expect(checkTarget(spec, { value: Number.NaN, detail: 'no samples' })).toMatchObject({
      met: null,
      measured: 'not measured: no samples',
    });
    expect(targetText(spec)).toBe('x ≤ 1 ms');
  });
});
