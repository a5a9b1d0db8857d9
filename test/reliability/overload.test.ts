/**
 * Overload: about three times the measured capacity, open loop, for a bounded period. Requests beyond
 * the bounded queue must get 503 + Retry-After at once, the queue must stay bounded, accepted requests
 * stay within the service's own promise (a request that waited REQUEST_TIMEOUT_MS gets 504, so no 200
 * takes much longer), and latency returns to normal once the load stops. No bound is an absolute speed:
 * each is the service's contract or relative to what this test measured; the figures are printed.
 */
import path from 'node:path';
import {
  REPO_ROOT,
  generateImage,
  procStatusMiB,
  request,
  rssSampler,
  sleep,
  startService,
  summarize,
  type ServiceProcess,
} from '../../bench/src/harness';
import { readRolloutSettings } from './support/deployment';
import { closedLoop, openLoop, type Shot } from './support/open-loop';

jest.setTimeout(180_000);

const OVERLOAD_FACTOR = 3;
const OVERLOAD_MS = 6000;
/** The service's default REQUEST_TIMEOUT_MS: a queued request older than this is answered 504, never run. */
const REQUEST_TIMEOUT_MS = 10_000;
/**
 * Room for the one inference an accepted request still runs after its wait, on a loaded shared machine.
 * Together with the timeout this means only "not unbounded" (a load average of 7 gave an accepted p99 of
 * 5.5 s while the queue held); speed figures belong to `npm run bench`.
 */
const RUN_SLACK_MS = 2000;
/** 99 % of the 503s must be answered within this (a histogram bucket bound of the service). */
const SHED_BOUND_SECONDS = 0.1;
const PEAK_RSS_BOUND_MIB = 1024;
const RECOVERY_FACTOR = 3;
const RECOVERY_SLACK_MS = 20;

describe('overload at ~3x capacity', () => {
  let service: ServiceProcess;
  let queueMax = 0;
  let capacity = 0;
  let baselineP50 = 0;
  let shots: Shot[] = [];
  let maxQueueDepth = 0;
  let maxInFlight = 0;
  let peakRss = 0;
  let recovery: Shot[] = [];
  let body: Buffer;
  /** Server-side duration histogram of the 503 answers: upper bound (s) → cumulative count. */
  let shedBuckets: Map<number, number> = new Map();

  const scrape = async (): Promise<{ queue: number; inFlight: number }> => {
    const text = (await request(`${service.url}/metrics`, { timeoutMs: 5000 })).body.toString('utf8');
    const gauge = (name: string): number =>
      Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return { queue: gauge('inference_queue_depth'), inFlight: gauge('http_requests_in_flight') };
  };

  beforeAll(async () => {
    // What a pod runs with: INFERENCE_QUEUE_MAX of the generated production ConfigMap.
    queueMax = Number(readRolloutSettings(REPO_ROOT).config.INFERENCE_QUEUE_MAX ?? 64);
    body = (await generateImage({ format: 'jpeg', width: 640, height: 480 }, 5)).bytes;
    service = await startService({
      env: {
        MODEL_DIR: path.join(REPO_ROOT, 'service', 'models', 'default'),
        INFERENCE_QUEUE_MAX: String(queueMax),
        REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
        LOG_LEVEL: 'warn',
      },
      readyTimeoutMs: 60_000,
    });
    const url = `${service.url}/predict`;
    await closedLoop(url, body, 'image/jpeg', 4, 500); // warm-up
    const baseline = await closedLoop(url, body, 'image/jpeg', 1, 1500);
    baselineP50 = summarize(baseline.shots.map((s) => s.ms)).p50;
    const sat = await closedLoop(url, body, 'image/jpeg', 8, 2000);
    capacity = sat.shots.filter((s) => s.status === 200).length / sat.seconds;

    const sampler = rssSampler(service.pid, 50);
    let sampling = true;
    const metricsLoop = (async () => {
      while (sampling) {
        try {
          const m = await scrape();
          maxQueueDepth = Math.max(maxQueueDepth, m.queue);
          maxInFlight = Math.max(maxInFlight, m.inFlight);
        } catch {
          // a missed sample is fine; the next one counts
        }
        await sleep(100);
      }
    })();
    shots = await openLoop(url, body, 'image/jpeg', Math.round(capacity * OVERLOAD_FACTOR), OVERLOAD_MS);
    sampling = false;
    await metricsLoop;
    peakRss = sampler.stop();
    shedBuckets = histogram(
      (await request(`${service.url}/metrics`, { timeoutMs: 5000 })).body.toString('utf8'),
      'http_request_duration_seconds',
      { route: '/predict', status: '503' },
    );

    await sleep(1000);
    recovery = (await closedLoop(url, body, 'image/jpeg', 1, 1500)).shots;
  });

  afterAll(async () => {
    await service?.stop(5000);
  });

  const ok = (): Shot[] => shots.filter((s) => s.status === 200);
  const shed = (): Shot[] => shots.filter((s) => s.status === 503);

  it('sheds the excess with 503 and serves the rest', () => {
    const statuses: Record<string, number> = {};
    for (const s of shots)
      statuses[s.status || `reset:${s.errorCode}`] = (statuses[s.status || `reset:${s.errorCode}`] ?? 0) + 1;
    console.log(
      `overload: capacity ${capacity.toFixed(0)} img/s, offered ${Math.round(capacity * OVERLOAD_FACTOR)}/s for ` +
        `${OVERLOAD_MS} ms; statuses ${JSON.stringify(statuses)}; accepted p50/p99 ` +
        `${summarize(ok().map((s) => s.ms)).p50.toFixed(0)}/${summarize(ok().map((s) => s.ms)).p99.toFixed(0)} ms; ` +
        `503 p50/p99 ${summarize(shed().map((s) => s.ms)).p50.toFixed(1)}/${summarize(shed().map((s) => s.ms)).p99.toFixed(1)} ms ` +
        `(client side; server side ${shedBuckets.get(SHED_BOUND_SECONDS) ?? 0}/${shedBuckets.get(Infinity) ?? 0} within ` +
        `${SHED_BOUND_SECONDS * 1000} ms); ` +
        `max queue ${maxQueueDepth}/${queueMax}, max in flight ${maxInFlight}, peak RSS ${peakRss.toFixed(0)} MiB; ` +
        `baseline p50 ${baselineP50.toFixed(1)} ms, after ${summarize(recovery.map((s) => s.ms)).p50.toFixed(1)} ms`,
    );
    expect(ok().length).toBeGreaterThan(0);
    expect(shed().length).toBeGreaterThan(0);
    expect(Object.keys(statuses).filter((k) => !['200', '503', '504'].includes(k))).toEqual([]);
  });

  it('answers every 503 with Retry-After and a JSON error, at once', () => {
    const bad = shed().filter(
      (s) => !/^\d+$/.test(s.retryAfter ?? '') || !s.errorCode || s.errorCode === '(not json)',
    );
    expect(bad).toEqual([]);
    // "At once" as the service sees it (its own duration histogram, from request to answer): client-side
    // figures also hold the load generator's own socket queueing on this shared 2-core machine.
    const total = shedBuckets.get(Infinity) ?? 0;
    const fast = shedBuckets.get(SHED_BOUND_SECONDS) ?? 0;
    expect(total).toBe(shed().length);
    expect(fast / total).toBeGreaterThanOrEqual(0.99);
  });

  it('keeps the queue bounded and no accepted request past the request timeout', () => {
    // Three times the capacity fills the queue (62-64 of 64 measured): a gauge that stopped reporting it reads 0.
    expect(maxQueueDepth).toBeGreaterThanOrEqual(queueMax / 2);
    expect(maxQueueDepth).toBeLessThanOrEqual(queueMax);
    expect(Math.max(...ok().map((s) => s.ms))).toBeLessThanOrEqual(REQUEST_TIMEOUT_MS + RUN_SLACK_MS);
    expect(peakRss).toBeLessThanOrEqual(PEAK_RSS_BOUND_MIB);
  });

  it('returns to normal latency after the load stops', async () => {
    expect(recovery.every((s) => s.status === 200)).toBe(true);
    expect(summarize(recovery.map((s) => s.ms)).p50).toBeLessThanOrEqual(
      baselineP50 * RECOVERY_FACTOR + RECOVERY_SLACK_MS,
    );
    expect(procStatusMiB(service.pid, 'VmRSS')).toBeGreaterThan(0);
    expect((await request(`${service.url}/ready`)).status).toBe(200);
  });
});

/** Cumulative bucket counts (`le` → count) of one labelled Prometheus histogram in a text exposition. */
function histogram(text: string, name: string, labels: Record<string, string>): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const m = /\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const pairs = Object.fromEntries(
      m[1].split(',').map((kv) => {
        const [k, v] = kv.split('=');
        return [k, v.replace(/^"|"$/g, '')];
      }),
    );
    if (!Object.entries(labels).every(([k, v]) => pairs[k] === v)) continue;
    out.set(pairs.le === '+Inf' ? Infinity : Number(pairs.le), Number(m[2]));
  }
  return out;
}
