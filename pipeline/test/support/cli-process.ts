import { execFile } from 'node:child_process';
import { join } from 'node:path';
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
