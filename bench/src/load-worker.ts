/**
 * Load generator process: runs autocannon against the service and reports a summary over IPC.
 * Started by `runLoad` (load.ts) with `fork`, so the load never shares an event loop with the
 * process that measures (or with the server).
 */
import autocannon from 'autocannon';
import { summarize } from './stats';
import type { LoadRequest, LoadResult } from './load';

async function run(req: LoadRequest): Promise<LoadResult> {
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
      overallRate: req.overallRate,
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
  run(msg).then(
    (res) => process.send?.({ ok: true, result: res }, () => process.exit(0)),
    (err: unknown) => process.send?.({ ok: false, error: String(err) }, () => process.exit(1)),
  );
});
