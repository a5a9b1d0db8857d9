import http from 'node:http';
import { sleep } from '../../../bench/src/harness';

/** One request of a {@link RequestStream}. */
export interface StreamRecord {
  /** ms since the stream started, when the request was sent / answered. */
  readonly sentAt: number;
  readonly doneAt: number;
  /** HTTP status, or 0 when the request failed at the socket level. */
  readonly status: number;
  /** `X-Model-Version` of the answer. */
  readonly version: string | undefined;
  /** Socket error code (ECONNRESET, ...) or the start of a non-200 body. */
  readonly error: string | undefined;
}

/** Options of {@link RequestStream.start}. */
export interface StreamOptions {
  readonly url: string;
  readonly body: Buffer;
  readonly contentType: string;
  /** Parallel client loops. */
  readonly clients: number;
  /** Pause between two requests of one loop, ms. */
  readonly pauseMs: number;
  /** Per-request timeout, ms. */
  readonly timeoutMs: number;
}

/**
 * A steady, bounded stream of POST requests from `clients` keep-alive loops (like users behind a load
 * balancer), recording every outcome until {@link stop}.
 */
export class RequestStream {
  readonly records: StreamRecord[] = [];
  private running = true;
  private readonly t0 = performance.now();
  private readonly loops: Promise<void>[];
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  private constructor(private readonly opts: StreamOptions) {
    this.loops = Array.from({ length: opts.clients }, () => this.loop());
  }

  /** Starts the client loops. */
  static start(opts: StreamOptions): RequestStream {
    return new RequestStream(opts);
  }

  /** ms since start. */
  now(): number {
    return performance.now() - this.t0;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.records.push(await this.one());
      await sleep(this.opts.pauseMs);
    }
  }

  private one(): Promise<StreamRecord> {
    const sentAt = this.now();
    return new Promise((resolve) => {
      const done = (status: number, version: string | undefined, error: string | undefined): void =>
        resolve({ sentAt, doneAt: this.now(), status, version, error });
      const req = http.request(
        `${this.opts.url}/predict`,
        {
          method: 'POST',
          agent: this.agent,
          timeout: this.opts.timeoutMs,
          headers: { 'content-type': this.opts.contentType, 'content-length': this.opts.body.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err: NodeJS.ErrnoException) => done(0, undefined, err.code ?? err.message));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const version = res.headers['x-model-version'];
            const text = Buffer.concat(chunks).toString('utf8');
            done(
              status,
              typeof version === 'string' ? version : undefined,
              status === 200 ? undefined : text.slice(0, 200),
            );
          });
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (err: NodeJS.ErrnoException) => done(0, undefined, err.code ?? err.message));
      req.end(this.opts.body);
    });
  }

  /** Stops after the requests in flight have finished; returns every record. */
  async stop(): Promise<StreamRecord[]> {
    this.running = false;
    await Promise.all(this.loops);
    this.agent.destroy();
    return this.records;
  }
}

/** Requests that did not get a 200 (socket errors, resets, timeouts, non-200 statuses). */
export function failed(records: readonly StreamRecord[]): StreamRecord[] {
  return records.filter((r) => r.status !== 200);
}

/** Count of answers per `X-Model-Version`. */
export function countByVersion(records: readonly StreamRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records)
    if (r.status === 200) out[r.version ?? '(none)'] = (out[r.version ?? '(none)'] ?? 0) + 1;
  return out;
}
