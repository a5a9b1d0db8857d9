import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { Command } from 'commander';
import {
  ENVIRONMENTS,
  isLegacyPin,
  modelPinPath,
  readModelPin,
  writeModelPin,
  type ModelPin,
} from '../../../charts/src/config';
import { stderrLog, type Log } from '../cli-error';
import { Git } from '../git';

/**
 * Rewrites every `charts/environments/<env>.model.json` still in the legacy shape (`sha256` of model.onnx +
 * `metadataSha256` of model.json) as the per-file pin (`files`), offline: the digests are the same, only the
 * shape changes. Returns the files rewritten (repository-relative). Run `npm run synth` afterwards.
 */
export async function migratePins(cwd: string, log: Log = stderrLog): Promise<string[]> {
  const root = await new Git(cwd).topLevel();
  // Every pin is read (and a bad one reported) before any is written: a failure changes nothing.
  const legacy: { file: string; pin: ModelPin }[] = [];
  for (const env of ENVIRONMENTS) {
    const file = modelPinPath(root, env);
    if (!existsSync(file)) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      raw = undefined; // readModelPin below reports it
    }
    if (raw !== undefined && !isLegacyPin(raw)) continue;
    legacy.push({ file, pin: readModelPin(file) });
  }
  for (const { file, pin } of legacy) {
    writeModelPin(file, pin);
    log(`migrate-pins: rewrote ${relative(root, file)} with per-file digests`);
  }
  if (legacy.length === 0) log('migrate-pins: every pin already has per-file digests');
  return legacy.map(({ file }) => relative(root, file));
}

/** Registers `migrate-pins` on the CLI. */
export function registerMigratePinsCommand(program: Command): void {
  program
    .command('migrate-pins')
    .description('Rewrite legacy pins (sha256 + metadataSha256) as per-file digests; then run npm run synth')
    .action(async () => {
      await migratePins(process.cwd());
    });
}
