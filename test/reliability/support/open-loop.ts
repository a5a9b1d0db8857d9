import http from 'node:http';

/** One request's outcome under load. */
export interface Shot {
  readonly status: number;
  readonly ms: number;
  readonly retryAfter: string | undefined;
  readonly errorCode: string | undefined;
}

function shoot(
  agent: http.Agent,
  url: string,
  body: Buffer,
  contentType: string,
  timeoutMs: number,
): Promise<Shot> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        timeout: timeoutMs,
        headers: { 'content-type': contentType, 'content-length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', () => undefined);
        res.on('end', () => {
          let errorCode: string | undefined;
          if ((res.statusCode ?? 0) >= 400) {
            try {
              errorCode = (
                JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { code?: string } }
              ).error?.code;
            } catch {
              errorCode = '(not json)';
            }
          }
          const ra = res.headers['retry-after'];
          resolve({
            status: res.statusCode ?? 0,
            ms: performance.now() - t0,
            retryAfter: typeof ra === 'string' ? ra : undefined,
            errorCode,
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({
        status: 0,
        ms: performance.now() - t0,
        retryAfter: undefined,
        errorCode: err.code ?? err.message,
      }),
    );
    req.end(body);
  });
}

/** Closed loop: `connections` clients send back to back for `durationMs`; returns every outcome. */
export async function closedLoop(
  url: string,
  body: Buffer,
  contentType: string,
  connections: number,
  durationMs: number,
): Promise<{ shots: Shot[]; seconds: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const shots: Shot[] = [];
  const t0 = performance.now();
  const end = t0 + durationMs;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) shots.push(await shoot(agent, url, body, contentType, 30_000));
    }),
  );
  agent.destroy();
  return { shots, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Open loop: one request every 1/rate s for `durationMs`, whatever the answers — the way independent
 * users overload a service. Sockets are capped at `maxSockets`; requests beyond wait in the client.
 */
export async function openLoop(
  url: string,
  body: Buffer,
  contentType: string,
  ratePerSec: number,
  durationMs: number,
  maxSockets = 1024,
): Promise<Shot[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const pending: Promise<Shot>[] = [];
  const t0 = performance.now();
  const interval = 1000 / ratePerSec;
  for (let i = 0; ; i++) {
    const due = t0 + i * interval;
    if (due - t0 >= durationMs) break;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(shoot(agent, url, body, contentType, 30_000));
  }
  const shots = await Promise.all(pending);
  agent.destroy();
  return shots;
}
