import { spawnSync } from 'node:child_process';

/**
 * The absolute path of a Prometheus binary (`prometheus`, `promtool`), or an Error saying how to install
 * it. The monitoring tests never skip: without the tools they fail, in CI and on a laptop alike.
 */
export function requireTool(name: 'prometheus' | 'promtool'): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status === 0 && path !== '') return path;
  throw new Error(
    `'${name}' is not installed, and the monitoring tests need the real Prometheus tools` +
      `${process.env.CI === 'true' ? ' (CI must install them before the tests)' : ''}. ` +
      'Install them with `sudo apt-get install -y prometheus` (Debian/Ubuntu; gives prometheus and promtool) ' +
      'or put the binaries from https://prometheus.io/download/ on PATH.',
  );
}

/** Runs promtool with the given arguments; returns its exit status and combined output. */
export function promtool(args: readonly string[], cwd?: string): { status: number | null; output: string } {
  const result = spawnSync(requireTool('promtool'), [...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}
