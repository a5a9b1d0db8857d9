/**
 * Real processes for the monitoring tests: free ports, child processes with their last output kept, bounded
 * polling, and Prometheus' instant-query API.
 */
import { ChildProcess, spawn } from 'node:child_process';
export { freePort } from '../../bench/src/harness';
import { resolve } from 'node:path';

/** The repository root, the working directory of every started process. */
export const repoRoot = resolve(__dirname, '..', '..');

export interface Started {
  readonly child: ChildProcess;
  readonly output: string[];
}

export function start(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Started {
  const child = spawn(command, [...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (chunk: Buffer): void => {
    output.push(chunk.toString('utf8'));
    if (output.length > 200) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output };
}

export async function stop(started: Started | undefined): Promise<void> {
  const child = started?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

/** Polls `probe` every 250 ms until it returns a value, for at most `timeoutMs`; then throws `what`. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  proc?: Started,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (proc && proc.child.exitCode !== null) {
      throw new Error(`${what}: the process exited (${proc.child.exitCode}):\n${proc.output.join('')}`);
    }
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await sleep(250);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`,
  );
}

/** One sample of an instant vector. */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** Runs an instant query against Prometheus at `promUrl`; throws with Prometheus' error when it fails. */
export async function promQuery(promUrl: string, expr: string): Promise<PromSample[]> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data: { result: PromSample[] } };
  if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error}`);
  return body.data.result;
}
