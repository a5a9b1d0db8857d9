import http from 'node:http';
import net from 'node:net';
import type { HostileRequest } from './hostile';

/** What came back for one hostile request. */
export interface Outcome {
  readonly kind: string;
  /** HTTP status, or 0 when the socket failed before a response. */
  readonly status: number;
  /** Socket error code (ECONNRESET, EPIPE, ...) when status is 0. */
  readonly error?: string;
  readonly mayReset: boolean;
  /** True when the response body was JSON `{"error":{"code","message"}}` (checked for 4xx/5xx). */
  readonly jsonError: boolean;
}

/** Sends one request on a fresh connection; never rejects. */
export function send(baseUrl: string, r: HostileRequest, timeoutMs = 30_000): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: Omit<Outcome, 'kind' | 'mayReset'>): void => {
      if (settled) return;
      settled = true;
      resolve({ kind: r.kind, mayReset: r.mayReset ?? false, ...o });
    };
    const req = http.request(
      `${baseUrl}${r.path}`,
      {
        method: r.method,
        agent: false,
        timeout: timeoutMs,
        headers: { ...r.headers, 'content-length': String(r.body.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', () => undefined);
        res.on('close', () => {
          const status = res.statusCode ?? 0;
          let jsonError = false;
          try {
            const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
              error?: { code?: unknown; message?: unknown };
            };
            jsonError = typeof parsed.error?.code === 'string' && typeof parsed.error?.message === 'string';
          } catch {
            jsonError = false;
          }
          done({ status, jsonError });
        });
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) =>
      done({ status: 0, error: err.code ?? err.message, jsonError: false }),
    );
    req.end(r.body);
  });
}

/**
 * A client that sends the start of a request and then one byte every `trickleMs`, never finishing:
 * slow headers (`headers`) or a slow body (`body`, Content-Length far larger than what is sent).
 */
export function slowClient(
  port: number,
  mode: 'headers' | 'body',
  trickleMs: number,
): { closedByServer(): boolean; destroy(): void } {
  let closed = false;
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => undefined);
  sock.on('close', () => (closed = true));
  sock.on('connect', () => {
    sock.write(
      mode === 'headers'
        ? 'POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '
        : 'POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nContent-Length: 1000000\r\n\r\n\xff\xd8\xff',
    );
  });
  const t = setInterval(() => {
    if (!closed) sock.write(mode === 'headers' ? 'a' : '\x00');
  }, trickleMs);
  return {
    closedByServer: () => closed,
    destroy() {
      clearInterval(t);
      sock.destroy();
    },
  };
}
