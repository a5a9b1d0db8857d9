/**
 * Load generator process: runs autocannon against the service and reports a summary over IPC.
 * Started by `runLoad` (load.ts) with `fork`, so the load never shares an event loop with the
 * process that measures (or with the server).
 */
import autocannon from 'autocannon';
import http from 'node:http';
import { summarize } from './stats';
import type { LoadRequest, LoadResult } from './load';

/**
 * Open-loop load at a fixed rate: one request every 1/rate s on a keep-alive agent, whatever the
 * responses do. (autocannon's `overallRate` lets each connection send its per-second quota in a burst
 * at the start of every second, so its latencies measure the queueing of its own bursts.)
 */
async function runPaced(req: LoadRequest & { overallRate: number }): Promise<Omit<LoadResult, 'cpuSeconds'>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const target = new URL(req.path, req.url);
  const latencies: number[] = [];
  const status: Record<string, number> = {};
  let sent = 0;
  let errors = 0;
  let timeouts = 0;
  const inFlight = new Set<Promise<void>>();
  const one = (i: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const img = req.images[i % req.images.length];
      const t0 = process.hrtime.bigint();
      const r = http.request(
        target,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': img.contentType, 'content-length': img.bytes.length },
          timeout: req.timeoutSec * 1000,
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            const code = res.statusCode ?? 0;
            status[code] = (status[code] ?? 0) + 1;
            if (code >= 200 && code < 300) latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
            resolve();
          });
          res.on('error', () => {
            errors++;
            resolve();
          });
        },
      );
      r.on('timeout', () => {
        timeouts++;
        r.destroy(new Error('timeout'));
      });
      r.on('error', () => {
        errors++;
        resolve();
      });
      r.end(img.bytes);
    });
  const interval = 1000 / req.overallRate;
  const start = performance.now();
  const end = start + req.durationSec * 1000;
  for (let i = 0; ; i++) {
    const due = start + i * interval;
    if (due >= end) break;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sent++;
    const p = one(i).then(() => {
      inFlight.delete(p);
    });
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  agent.destroy();
  const durationSec = (performance.now() - start) / 1000;
  const ok = latencies.length;
  return {
    durationSec,
    sent,
    completed: Object.values(status).reduce((a, b) => a + b, 0),
    ok,
    status,
    errors,
    timeouts,
    reqErrors: errors,
    okPerSec: ok / req.durationSec,
    latencyMs: summarize(latencies),
  };
}

async function run(req: LoadRequest): Promise<Omit<LoadResult, 'cpuSeconds'>> {
  if (req.overallRate !== undefined) return runPaced({ ...req, overallRate: req.overallRate });
  const latencies: number[] = [];
  const status: Record<string, number> = {};
  let done: (r: autocannon.Result) => void = () => undefined;
  let fail: (e: unknown) => void = () => undefined;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    done = resolve;
    fail = reject;
  });
  const instance = autocannon(
    {
      url: req.url,
      connections: req.connections,
      duration: req.durationSec,
      timeout: req.timeoutSec,
      requests: req.images.map((img) => ({
        method: 'POST',
        path: req.path,
        headers: { 'content-type': img.contentType },
        body: Buffer.from(img.bytes),
      })),
    },
    (err, res) => (err ? fail(err) : done(res)),
  );
  let reqErrors = 0;
  instance.on('reqError', () => {
    reqErrors++;
  });
  instance.on('response', (_client, statusCode: number, _bytes: number, responseTime: number) => {
    status[statusCode] = (status[statusCode] ?? 0) + 1;
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
  });
  const result = await finished;
  const ok = latencies.length;
  return {
    durationSec: result.duration,
    sent: result.requests.sent,
    completed: Object.values(status).reduce((a, b) => a + b, 0),
    ok,
    status,
    errors: result.errors,
    timeouts: result.timeouts,
    reqErrors,
    okPerSec: ok / result.duration,
    latencyMs: summarize(latencies),
  };
}

process.on('message', (msg: LoadRequest) => {
  const cpu = process.cpuUsage();
  run(msg).then(
    (res) => {
      const used = process.cpuUsage(cpu);
      const result: LoadResult = { ...res, cpuSeconds: (used.user + used.system) / 1e6 };
      process.send?.({ ok: true, result }, () => process.exit(0));
    },
    (err: unknown) => process.send?.({ ok: false, error: String(err) }, () => process.exit(1)),
  );
});
