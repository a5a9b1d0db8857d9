import { fork } from 'node:child_process';
import { scriptBeside } from '../../service/src/build-or-source';
import type { LatencySummary } from './stats';

/** What the load process should do (sent over IPC). */
export interface LoadRequest {
  readonly url: string;
  readonly path: string;
  readonly connections: number;
  readonly durationSec: number;
  /**
   * Open-loop rate: one request every 1/rate s, paced by the load process itself (`connections` then
   * unused). Unset = autocannon closed loop, as fast as `connections` allow.
   */
  readonly overallRate?: number;
  readonly timeoutSec: number;
  /** Bodies, cycled per connection in this order. */
  readonly images: readonly { contentType: string; bytes: Uint8Array }[];
}

/** What one load run measured. Latency covers 2xx responses only. */
export interface LoadResult {
  readonly durationSec: number;
  readonly sent: number;
  readonly completed: number;
  readonly ok: number;
  /** Response count per HTTP status. */
  readonly status: Readonly<Record<string, number>>;
  /** autocannon's connection errors (incl. timeouts). */
  readonly errors: number;
  readonly timeouts: number;
  readonly reqErrors: number;
  /** 2xx responses per second. */
  readonly okPerSec: number;
  readonly latencyMs: LatencySummary;
  /** CPU seconds (user + system) the load process used during the run. */
  readonly cpuSeconds: number;
}

/**
 * Runs the load (autocannon, or the paced open loop) in a separate Node process (`load-worker`, compiled or
 * through tsx as this process runs: see service/src/build-or-source.ts) and resolves with its summary.
 */
export function runLoad(req: LoadRequest): Promise<LoadResult> {
  const script = scriptBeside(__dirname, 'load-worker');
  const child = fork(script.file, [], {
    execArgv: script.execArgv,
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    child.on('message', (msg: { ok: true; result: LoadResult } | { ok: false; error: string }) => {
      settled = true;
      if (msg.ok) resolve(msg.result);
      else reject(new Error(`load process failed: ${msg.error}`));
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (!settled) reject(new Error(`load process exited with ${code} before reporting`));
    });
    child.send(req);
  });
}
