import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The CLI's TypeScript entry, run through tsx as `npx model-gitops` runs the compiled one. */
export const CLI_ENTRY = join(__dirname, '..', '..', 'src', 'cli.ts');

/** What one CLI process did. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `model-gitops <args>` as its own process and resolves with its exit code and output (never rejects on exit ≠ 0). */
export function runCli(
  args: readonly string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<CliRun> {
  return execFileAsync(process.execPath, [require.resolve('tsx/cli'), CLI_ENTRY, ...args], {
    cwd: opts.cwd,
    ...(opts.env ? { env: opts.env } : {}),
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: CliRun) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

/**
 * Runs `model-gitops <args>` and sends it `signal` once its stderr shows `when`; resolves with how it exited
 * and its stderr. tsx is a loader in that one process (its CLI wrapper would handle the signal itself).
 */
export function interruptCli(
  args: readonly string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; when: string; signal: NodeJS.Signals },
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--import', pathToFileURL(require.resolve('tsx')).href, CLI_ENTRY, ...args],
    {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    const seen = stderr.includes(opts.when);
    stderr += d.toString();
    if (!seen && stderr.includes(opts.when)) child.kill(opts.signal);
  });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
}
