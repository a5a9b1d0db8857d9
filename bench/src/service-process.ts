import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

/** Repository root (this file lives in `bench/src/` or `build/bench/src/`). */
export const REPO_ROOT = findRepoRoot(__dirname);

function findRepoRoot(start: string): string {
  let dir = start;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${start}`);
    dir = up;
  }
  return dir;
}

/** How to start the service: `node <args>`. */
export interface ServiceCommand {
  readonly args: readonly string[];
  /** `build` when running compiled JS, `source` when running TypeScript through tsx. */
  readonly kind: 'build' | 'source';
}

function newestMtime(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * `node <args>` for a TypeScript entry point of this repository: the compiled file under `build/` when it
 * exists and is newer than every `.ts` under `srcDir`, else the source through tsx.
 */
export function freshEntry(sourceFile: string, srcDir: string): ServiceCommand {
  const built = path.join(REPO_ROOT, 'build', sourceFile.replace(/\.ts$/, '.js'));
  if (existsSync(built) && statSync(built).mtimeMs >= newestMtime(path.join(REPO_ROOT, srcDir))) {
    return { args: [built], kind: 'build' };
  }
  return { args: ['--import', 'tsx', path.join(REPO_ROOT, sourceFile)], kind: 'source' };
}

/**
 * The service: `build/service/src/server.js` when fresh (see {@link freshEntry}), else
 * `service/src/server.ts` through tsx. `SERVICE_ENTRY` (a .js or .ts path) overrides both.
 */
export function serviceCommand(): ServiceCommand {
  const override = process.env.SERVICE_ENTRY;
  if (override) {
    return override.endsWith('.ts')
      ? { args: ['--import', 'tsx', override], kind: 'source' }
      : { args: [override], kind: 'build' };
  }
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

/** A running service process. */
export interface ServiceProcess {
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  /** Milliseconds from spawn to the first `/ready` 200. */
  readonly readyMs: number;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Last ~64 KiB of stdout+stderr, for diagnostics. */
  logs(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Options for {@link startService}. */
export interface StartServiceOptions {
  /** What to run. @default - {@link serviceCommand} */
  readonly command?: ServiceCommand;
  /** Extra arguments after the entry point (e.g. a CLI subcommand). @default - none */
  readonly args?: readonly string[];
  /** Path that answers 200 once the process is ready. @default '/ready' */
  readonly readyPath?: string;
  /** Extra environment (PORT/HOST are set by this function). */
  readonly env?: Readonly<Record<string, string>>;
  /** @default - a free port */
  readonly port?: number;
  /** @default 30000 */
  readonly readyTimeoutMs?: number;
  /** @default 10 */
  readonly pollMs?: number;
  /** Called with every chunk of stdout/stderr (the whole output, not just the kept tail). @default - none */
  readonly onOutput?: (chunk: string) => void;
}

/**
 * Spawns the service (see {@link serviceCommand}) or another command on 127.0.0.1 and waits for
 * `GET <readyPath>` 200.
 * Rejects (and kills the child) if it exits or does not become ready in time.
 */
export async function startService(options: StartServiceOptions = {}): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort());
  const cmd = options.command ?? serviceCommand();
  const readyPath = options.readyPath ?? '/ready';
  let logBuf = '';
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...cmd.args, ...(options.args ?? [])], {
    cwd: REPO_ROOT,
    // MALLOC_ARENA_MAX=2 as service/Dockerfile sets it, so peak RSS is what the image ships.
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      MALLOC_ARENA_MAX: '2',
      ...options.env,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const append = (c: Buffer): void => {
    const text = c.toString('utf8');
    options.onOutput?.(text);
    logBuf = (logBuf + text).slice(-65536);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  const stop = async (graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
    if (exitInfo) return exitInfo;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const info = await exited;
    clearTimeout(timer);
    return info;
  };
  for (;;) {
    if (exitInfo) {
      throw new Error(`service exited (${JSON.stringify(exitInfo)}) before ready; logs:\n${logBuf}`);
    }
    if (Date.now() > deadline) {
      await stop(1000);
      throw new Error(`service not ready within ${options.readyTimeoutMs ?? 30_000} ms; logs:\n${logBuf}`);
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
  if (child.pid === undefined) throw new Error('spawn returned no pid');
  return { pid: child.pid, port, url, child, readyMs, exited, logs: () => logBuf, stop };
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
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at ")"; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
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
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const seconds = (Number(fields[11]) + Number(fields[12])) / 100;
    groups.set(name, (groups.get(name) ?? 0) + seconds);
  }
  return groups;
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
