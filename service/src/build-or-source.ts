/**
 * Build or source: the one place that decides whether this repository's code runs as compiled JavaScript
 * (`build/`, written by `npm run build`; what the image runs) or as the TypeScript sources through tsx
 * (ts-jest, `npx tsx`, `npm start` before a build). Everything that finds files relative to its own module,
 * or starts code in another thread or process, asks here:
 *
 * - Inside a process, code runs the way this process runs: {@link RUNNING_COMPILED} (this very file is
 *   `build/service/src/build-or-source.js`, and modules compiled together run together). {@link REPO_ROOT}
 *   is the checkout (`/app` in the image) either way; {@link startWorkerThread} and {@link scriptBeside} start a
 *   sibling module the same way.
 * - A process started from outside (tests and the bench start the service) runs {@link freshEntry}: the
 *   compiled file when it exists and is newer than every source under its folder, else the source through
 *   tsx, so a stale `build/` is never what a test measures.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** True when this process runs the compiled JavaScript under `build/`, false when it runs TypeScript sources. */
export const RUNNING_COMPILED = __filename.endsWith('.js');

/** The repository root (the directory holding `service/` and, once built, `build/`). */
export const REPO_ROOT = resolve(__dirname, RUNNING_COMPILED ? '../../..' : '../..');

/** `node` arguments (before the script's own) that run `file`: nothing for `.js`, tsx for `.ts`. */
export function nodeArgsFor(file: string): string[] {
  return file.endsWith('.ts') ? ['--import', 'tsx'] : [];
}

/**
 * The script `<name>.js` (compiled) or `<name>.ts` (sources) in `dir`, run as this process runs, with the
 * `execArgv` a child process needs for it (tsx for sources).
 */
export function scriptBeside(
  dir: string,
  name: string,
): { readonly file: string; readonly execArgv: string[] } {
  const file = join(dir, `${name}${RUNNING_COMPILED ? '.js' : '.ts'}`);
  return { file, execArgv: nodeArgsFor(file) };
}

/**
 * Starts the worker thread `<name>` in `dir` as this process runs: `<name>.js`, or `<name>.ts` after
 * registering tsx in the worker (an eval worker: the only way to give a thread a loader under ts-jest).
 */
export function startWorkerThread(dir: string, name: string, options: WorkerOptions): Worker {
  const { file } = scriptBeside(dir, name);
  if (RUNNING_COMPILED) return new Worker(file, options);
  // Resolved here: an eval worker resolves bare names from the process cwd, which may be outside this checkout.
  const tsx = require.resolve('tsx/cjs/api');
  const code = `require(${JSON.stringify(tsx)}).register(); require(${JSON.stringify(file)});`;
  return new Worker(code, { ...options, eval: true });
}

/** How to start an entry point from outside: `node <args>`. */
export interface NodeEntry {
  readonly args: readonly string[];
  /** `build` when running compiled JS, `source` when running TypeScript through tsx. */
  readonly kind: 'build' | 'source';
}

/** `node <args>` for a given `.js` or `.ts` file. */
export function entryFor(file: string): NodeEntry {
  return { args: [...nodeArgsFor(file), file], kind: file.endsWith('.ts') ? 'source' : 'build' };
}

function newestMtime(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * `node <args>` for the TypeScript entry point `sourceFile` (relative to the repository root, e.g.
 * `service/src/server.ts`): the compiled file under `build/` when it exists and is newer than every `.ts`
 * under `srcDir` (relative too), else the source through tsx. `root` is for tests.
 */
export function freshEntry(sourceFile: string, srcDir: string, root = REPO_ROOT): NodeEntry {
  const built = join(root, 'build', sourceFile.replace(/\.ts$/, '.js'));
  if (existsSync(built) && statSync(built).mtimeMs >= newestMtime(join(root, srcDir))) {
    return entryFor(built);
  }
  return entryFor(join(root, sourceFile));
}
