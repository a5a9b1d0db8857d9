/**
 * `npm run monitoring`: writes the standalone monitoring files (Prometheus config and rules, Grafana
 * provisioning and dashboard) into `monitoring/` from the same definitions as the charts.
 * `--check` writes nothing and exits 1 when a file differs from what would be generated.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { renderMonitoringFiles } from './standalone-config';

/** The generated files as the repository's `prettier --check` wants them. */
export async function formattedMonitoringFiles(root: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const [path, content] of Object.entries(renderMonitoringFiles())) {
    const filepath = join(root, path);
    const options = (await resolveConfig(filepath)) ?? {};
    files[path] = await format(content, { ...options, filepath });
  }
  return files;
}

async function main(argv: readonly string[]): Promise<number> {
  const check = argv.includes('--check');
  const root = resolve(__dirname, '..', '..', '..', 'monitoring');
  const stale: string[] = [];
  for (const [path, content] of Object.entries(await formattedMonitoringFiles(root))) {
    const file = join(root, path);
    let current: string | undefined;
    try {
      current = readFileSync(file, 'utf8');
    } catch (err) {
      // A missing file is generated below, or reported as stale with --check; any other error is real.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      current = undefined;
    }
    if (current === content) continue;
    if (check) {
      stale.push(`monitoring/${path}`);
    } else {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
      process.stdout.write(`wrote monitoring/${path}\n`);
    }
  }
  if (stale.length > 0) {
    process.stderr.write(
      `stale generated files (run \`npm run monitoring\` and commit them):\n  ${stale.join('\n  ')}\n`,
    );
    return 1;
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`monitoring: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
