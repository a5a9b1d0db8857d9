/**
 * The service as a process, for the benchmark and every test that needs the real server: the one helper
 * that starts it ({@link spawnService}, {@link startService}), plus small HTTP and /proc probes. Whether it
 * runs compiled or from sources is decided in service/src/build-or-source.ts.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { REPO_ROOT, entryFor, freshEntry, type NodeEntry } from '../../service/src/build-or-source';
import { SERVICE_NODE_ARGS } from '../../service/src/config';

export { REPO_ROOT, freshEntry };

/** How to start the service: `node <args>` (build or source: see service/src/build-or-source.ts). */
export type ServiceCommand = NodeEntry;

/**
 * The service: `build/service/src/server.js` when fresh (see {@link freshEntry}), else
 * `service/src/server.ts` through tsx. `SERVICE_ENTRY` (a .js or .ts path) overrides both.
 */
export function serviceCommand(): ServiceCommand {
  const override = process.env.SERVICE_ENTRY;
  if (override) return entryFor(override);
  return freshEntry('service/src/server.ts', 'service/src');
}

/** A free TCP port on 127.0.0.1 (bound then released; fine for tests on loopback). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Result of one small HTTP request. */
export interface HttpResult {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly ms: number;
}

/** One HTTP request on a fresh connection, with a timeout; rejects on socket errors. */
export function request(
  url: string,
  opts: {
    method?: string;
    headers?: http.OutgoingHttpHeaders;
    body?: Buffer | string;
    timeoutMs?: number;
  } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request(
      url,
      {
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: false,
        timeout: opts.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            ms: Number(process.hrtime.bigint() - started) / 1e6,
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${opts.timeoutMs ?? 10_000} ms: ${url}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** How a started process ended. */
export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A service process as spawned, before (or without) waiting for it to answer. */
export interface SpawnedService {
  readonly child: ChildProcess;
  /** The port it was told to listen on (0: it picks one and logs it). */
  readonly port: number;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<ExitInfo>;
  /** Last ~64 KiB of stdout+stderr, for diagnostics. */
  logs(): string;
  /** Last ~1 MiB of stdout (the JSON log lines). */
  stdout(): string;
  /** Last ~1 MiB of stderr (start-up failures). */
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<ExitInfo>;
}

/** A running service process that answered its ready path. */
export interface ServiceProcess extends SpawnedService {
  readonly pid: number;
  readonly url: string;
  /** Milliseconds from spawn to the first 200 of the ready path. */
  readonly readyMs: number;
}

/** Options for {@link spawnService} and {@link startService}. */
export interface SpawnServiceOptions {
  /** What to run. @default - {@link serviceCommand} */
  readonly command?: ServiceCommand;
  /** Extra arguments after the entry point (e.g. a CLI subcommand). @default - none */
  readonly args?: readonly string[];
  /**
   * Extra environment. PORT and HOST are set by this function (127.0.0.1); a PORT here wins, for tests of
   * invalid values ({@link startService} refuses it: it must know the port).
   */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Pass this process's environment on; false passes only PATH, for tests whose outcome must not depend on
   * the caller's variables. @default true
   */
  readonly inheritEnv?: boolean;
  /** 0 lets the service pick one (it logs it). @default - a free port */
  readonly port?: number;
  /** Called with every chunk of stdout/stderr (the whole output, not just the kept tail). @default - none */
  readonly onOutput?: (chunk: string) => void;
}

/** Options for {@link startService}. */
export interface StartServiceOptions extends SpawnServiceOptions {
  /** Path that answers 200 once the process is ready (`/health`: as soon as it listens). @default '/ready' */
  readonly readyPath?: string;
  /** @default 30000 */
  readonly readyTimeoutMs?: number;
  /** @default 10 */
  readonly pollMs?: number;
}

const LOG_TAIL = 65536;
const STREAM_TAIL = 1024 * 1024;

/**
 * Spawns the service (see {@link serviceCommand}) or another command on 127.0.0.1 with `LOG_LEVEL=warn`
 * (unless `env` says otherwise) and returns at once: for tests of start-up itself (exit codes, log lines).
 */
export async function spawnService(options: SpawnServiceOptions = {}): Promise<SpawnedService> {
  const port = options.port ?? (await freePort());
  const cmd = options.command ?? serviceCommand();
  const base = options.inheritEnv === false ? { PATH: process.env.PATH ?? '' } : process.env;
  // The Node options the image and the charts start the service with (a custom command gets them too).
  const child = spawn(process.execPath, [...SERVICE_NODE_ARGS, ...cmd.args, ...(options.args ?? [])], {
    cwd: REPO_ROOT,
    // MALLOC_ARENA_MAX=2 as service/Dockerfile sets it, so peak RSS is what the image ships.
    env: {
      ...base,
      LOG_LEVEL: 'warn',
      MALLOC_ARENA_MAX: '2',
      PORT: String(port),
      HOST: '127.0.0.1',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logBuf = '';
  let outBuf = '';
  let errBuf = '';
  const append = (c: Buffer): string => {
    const text = c.toString('utf8');
    options.onOutput?.(text);
    logBuf = (logBuf + text).slice(-LOG_TAIL);
    return text;
  };
  child.stdout?.on('data', (c: Buffer) => (outBuf = (outBuf + append(c)).slice(-STREAM_TAIL)));
  child.stderr?.on('data', (c: Buffer) => (errBuf = (errBuf + append(c)).slice(-STREAM_TAIL)));
  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  const stop = async (graceMs = 10_000): Promise<ExitInfo> => {
    if (exitInfo) return exitInfo;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const info = await exited;
    clearTimeout(timer);
    return info;
  };
  return {
    child,
    port,
    exited,
    logs: () => logBuf,
    stdout: () => outBuf,
    stderr: () => errBuf,
    stop,
  };
}

/**
 * Spawns the service (see {@link spawnService}) and waits for `GET <readyPath>` 200.
 * Rejects (and kills the child) if it exits or does not become ready in time.
 */
export async function startService(options: StartServiceOptions = {}): Promise<ServiceProcess> {
  if (options.port === 0 || options.env?.PORT !== undefined) {
    throw new Error('startService needs to know the port: omit `port` and env.PORT for a free one');
  }
  const port = options.port ?? (await freePort());
  const started = process.hrtime.bigint();
  const svc = await spawnService({ ...options, port });
  const url = `http://127.0.0.1:${svc.port}`;
  const readyPath = options.readyPath ?? '/ready';
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + readyTimeoutMs;
  let exitInfo: ExitInfo | undefined;
  void svc.exited.then((info) => (exitInfo = info));
  for (;;) {
    if (exitInfo) {
      throw new Error(`service exited (${JSON.stringify(exitInfo)}) before ready; logs:\n${svc.logs()}`);
    }
    if (Date.now() > deadline) {
      await svc.stop(1000);
      throw new Error(`service not ready within ${readyTimeoutMs} ms; logs:\n${svc.logs()}`);
    }
    try {
      const res = await request(`${url}${readyPath}`, { timeoutMs: 1000 });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(options.pollMs ?? 10);
  }
  const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (svc.child.pid === undefined) throw new Error('spawn returned no pid');
  return { ...svc, pid: svc.child.pid, url, readyMs };
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * CPU seconds (user + system, all threads) a process has used so far, from `/proc/<pid>/stat`
 * (clock ticks of 1/100 s on Linux), or NaN if the process is gone.
 */
export function procCpuSeconds(pid: number): number {
  try {
    return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return Number.NaN;
  }
}

/** utime + stime of a `/proc/…/stat` line, in seconds (clock ticks of 1/100 s on Linux). */
function statCpuSeconds(stat: string): number {
  // Fields after the command name (which may hold spaces) start at ")"; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU seconds (user + system) used so far by each group of a process's threads, from
 * `/proc/<pid>/task/<tid>/stat`: threads are grouped by name with trailing digits dropped (Node's `MainThread`,
 * `WorkerThread` for worker_threads, `libuv-worker` for the libuv pool, `V8Worker` for V8's GC and compiler
 * helpers, `libvips worker`/`vips-…` for libvips). Threads that ended are missing, so compare two readings of a
 * process whose threads live on (the service's do). Empty if the process is gone.
 */
export function procThreadCpuSeconds(pid: number): Map<string, number> {
  const groups = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return groups;
  }
  for (const tid of tids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/[\s\d_-]+$/, '');
    groups.set(name, (groups.get(name) ?? 0) + statCpuSeconds(stat));
  }
  return groups;
}

/** CPU-ms per image of each thread group between two {@link procThreadCpuSeconds} readings. */
export function threadCpuMsPerImage(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  images: number,
): Record<string, number> {
  return Object.fromEntries(
    [...after].map(([name, seconds]) => [name, ((seconds - (before.get(name) ?? 0)) * 1000) / images]),
  );
}

/** A `VmXxx:` field of `/proc/<pid>/status` in MiB, or NaN if the process is gone. */
export function procStatusMiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * Resets the kernel's peak-RSS counter (VmHWM) of a process (`echo 5 > /proc/<pid>/clear_refs`), so the
 * next phase measures its own peak. Returns false if not permitted; callers then fall back to polling VmRSS.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Polls VmRSS every `everyMs` and keeps the maximum (covers kernels that refuse clear_refs). */
export function rssSampler(pid: number, everyMs = 20): { stop(): number } {
  let max = procStatusMiB(pid, 'VmRSS');
  const t = setInterval(() => {
    const v = procStatusMiB(pid, 'VmRSS');
    if (v > max) max = v;
  }, everyMs);
  return {
    stop() {
      clearInterval(t);
      const v = procStatusMiB(pid, 'VmRSS');
      return Math.max(max, Number.isNaN(v) ? 0 : v);
    },
  };
}

/** Garbage collections of the service's main thread (prom-client's `nodejs_gc_duration_seconds`), cumulative. */
export interface GcTotals {
  /** Full (mark-compact) collections: their final pause, which stops the event loop. */
  readonly major: { readonly count: number; readonly ms: number };
  /** Young-generation collections (scavenges). */
  readonly minor: { readonly count: number; readonly ms: number };
}

/** What one scrape of the service's `/metrics` tells the bench. */
export interface ServiceMetrics {
  /**
   * The longest event-loop stall the service saw since the previous scrape, in ms. prom-client's
   * `nodejs_eventloop_lag_*` come from `monitorEventLoopDelay`, whose samples are whole timer periods
   * (resolution 10 ms: an idle loop reports min ≈ 10 ms), so the stall is max − min of the same window.
   */
  readonly loopStallMs: number;
  readonly gc: GcTotals;
}

/** Scrapes the service's `/metrics` (which also restarts its loop-delay window); NaN figures if it fails. */
export async function scrapeServiceMetrics(url: string): Promise<ServiceMetrics> {
  let text = '';
  try {
    text = (await request(`${url}/metrics`, { timeoutMs: 5000 })).body.toString('utf8');
  } catch {
    // figures stay NaN
  }
  const sample = (name: string, labels = '', missing = Number.NaN): number => {
    if (!text) return Number.NaN;
    const m = new RegExp(`^${name}(?:\\{${labels}[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : missing;
  };
  const gc = (kind: string) => ({
    // A kind of collection that has not happened yet has no sample: none so far.
    count: sample('nodejs_gc_duration_seconds_count', `kind="${kind}"`, 0),
    ms: sample('nodejs_gc_duration_seconds_sum', `kind="${kind}"`, 0) * 1000,
  });
  const lag = (name: string): number => sample(name) * 1000;
  return {
    loopStallMs: lag('nodejs_eventloop_lag_max_seconds') - lag('nodejs_eventloop_lag_min_seconds'),
    gc: { major: gc('major'), minor: gc('minor') },
  };
}

/** The collections between two scrapes. */
export function gcBetween(before: GcTotals, after: GcTotals): GcTotals {
  const d = (k: keyof GcTotals) => ({
    count: after[k].count - before[k].count,
    ms: after[k].ms - before[k].ms,
  });
  return { major: d('major'), minor: d('minor') };
}
