/**
 * What the service's main thread does under load, from a V8 CPU profile (`node --cpu-prof`): the share of its
 * wall time spent idle, in garbage collection, by function and by package, over a window of the run. The
 * bench takes one at saturation so a missed target comes with a profile (bench/README.md, "Reading the
 * report"); the `.cpuprofile` file opens in Chrome DevTools' Performance panel.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { REPO_ROOT } from './service-process';

const CpuProfileSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number() }),
      children: z.array(z.number()).optional(),
    }),
  ),
  startTime: z.number(),
  endTime: z.number(),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});

/** The parts of V8's `.cpuprofile` format this module reads (times in µs of the monotonic clock). */
export type CpuProfile = z.infer<typeof CpuProfileSchema>;

/** One line of a profile summary: what, and its share (0–1) of the window's wall time. */
export interface ProfileShare {
  readonly what: string;
  readonly share: number;
}

/** A thread's wall time over a window, as {@link summariseProfile} splits it. */
export interface ThreadProfile {
  /** Wall time covered by the samples in the window, ms. */
  readonly wallMs: number;
  readonly samples: number;
  /** Waiting for events (epoll). */
  readonly idle: number;
  /** V8's garbage collection on this thread (the pauses that stall its event loop). */
  readonly gc: number;
  /** Functions by self time, busiest first (natives named with the JavaScript function that called them). */
  readonly functions: readonly ProfileShare[];
  /** Self time by package (`node` for Node's own modules, `service`/`bench` for this repo's code). */
  readonly packages: readonly ProfileShare[];
}

/** Reads a `.cpuprofile` file; throws naming the file when it is not one. */
export function readCpuProfile(file: string): CpuProfile {
  const parsed = CpuProfileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new Error(`${file} is not a V8 CPU profile: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/**
 * The main thread's profile among the files `node --cpu-prof --cpu-prof-dir=<dir>` wrote for process `pid`
 * (Node names them `CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile`; the main thread is thread 0).
 */
export function mainThreadProfileFile(dir: string, pid: number): string {
  const name = readdirSync(dir).find((f) => f.startsWith('CPU.') && f.includes(`.${pid}.0.`));
  if (!name) throw new Error(`no main-thread CPU profile of process ${pid} in ${dir}`);
  return path.join(dir, name);
}

const IDLE = '(idle)';
const GC = '(garbage collector)';

/** Where a frame's code lives, for people: a path in this repo or in node_modules, or a `node:` module. */
function location(url: string): string {
  const file = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
  const inModules = file.lastIndexOf('/node_modules/');
  if (inModules >= 0) return file.slice(inModules + '/node_modules/'.length);
  return file.startsWith(`${REPO_ROOT}/`) ? path.relative(REPO_ROOT, file) : file;
}

/** The package a frame belongs to: an npm package, `node`, or this repo's top-level folder (`service`…). */
function packageOf(url: string): string {
  if (url.startsWith('node:')) return 'node';
  const where = location(url);
  const parts = where.split('/');
  if (url.includes('/node_modules/')) return parts.slice(0, where.startsWith('@') ? 2 : 1).join('/');
  if (where.startsWith('/')) return where; // outside the repo
  return (parts[0] === 'build' ? parts[1] : parts[0]) ?? where;
}

/**
 * Splits the samples taken in `window` (µs, the profile's clock: Node's `process.hrtime`; the whole profile
 * when absent) by what the thread was doing. Each sample counts for the time until the next one, as Chrome
 * DevTools counts it; V8 samples wall time, so a thread that waited for a core is charged to the function it
 * was in. A native function (no script) is named with its caller, see `label`.
 */
export function summariseProfile(
  profile: CpuProfile,
  window?: { readonly fromUs: number; readonly toUs: number },
  top = 8,
): ThreadProfile {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const labels = new Map<number, { fn: string; pkg: string }>();
  const label = (id: number): { fn: string; pkg: string } => {
    let known = labels.get(id);
    if (!known) labels.set(id, (known = labelOf(id)));
    return known;
  };
  const labelOf = (id: number): { fn: string; pkg: string } => {
    const { functionName, url, lineNumber } = (nodes.get(id) as CpuProfile['nodes'][number]).callFrame;
    if (url !== '') {
      return {
        fn: `${functionName || '(anonymous)'} ${location(url)}:${lineNumber + 1}`,
        pkg: packageOf(url),
      };
    }
    if (functionName.startsWith('(')) return { fn: functionName, pkg: functionName };
    // A native (postMessage, a socket write…): named with the code that called it, the nearest caller
    // outside Node's internals when there is one (`postMessage` is reached through node:internal/worker).
    let caller: CpuProfile['nodes'][number]['callFrame'] | undefined;
    for (let up = parent.get(id); up !== undefined; up = parent.get(up)) {
      const frame = (nodes.get(up) as CpuProfile['nodes'][number]).callFrame;
      if (frame.url === '') continue;
      caller ??= frame;
      if (!frame.url.startsWith('node:')) {
        caller = frame;
        break;
      }
    }
    if (caller) {
      return {
        fn: `${functionName} (native, from ${caller.functionName || '(anonymous)'} ${location(caller.url)})`,
        pkg: packageOf(caller.url),
      };
    }
    return { fn: `${functionName} (native)`, pkg: '(native)' };
  };

  const fromUs = window?.fromUs ?? -Infinity;
  const toUs = window?.toUs ?? Infinity;
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let wall = 0;
  let samples = 0;
  let at = profile.startTime;
  const times = profile.timeDeltas.map((d) => (at += d));
  for (const [i, id] of profile.samples.entries()) {
    const t = times[i] as number;
    if (t < fromUs || t >= toUs) continue;
    const until = Math.min(times[i + 1] ?? profile.endTime, toUs);
    const us = Math.max(0, until - t);
    const { fn, pkg } = label(id);
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
    wall += us;
    samples += 1;
  }
  const share = (us: number): number => (wall > 0 ? us / wall : 0);
  const ranked = (m: Map<string, number>): ProfileShare[] =>
    [...m]
      .filter(([what]) => what !== IDLE && what !== GC)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, top)
      .map(([what, us]) => ({ what, share: share(us) }));
  return {
    wallMs: wall / 1000,
    samples,
    idle: share(byFunction.get(IDLE) ?? 0),
    gc: share(byFunction.get(GC) ?? 0),
    functions: ranked(byFunction),
    packages: ranked(byPackage),
  };
}
