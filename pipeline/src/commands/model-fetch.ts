import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { METADATA_FILE, MODEL_FILE, readModelFiles } from '../../../service/src/model/format';
import { CliError, stderrLog, type Log } from '../cli-error';
import { MlflowClient, MlflowError, mlflowConnectionFromEnv } from '../mlflow';
import {
  downloadArtifactFiles,
  removeStaleTempDirs,
  replaceDir,
  siblingTempDir,
  ttyProgress,
  type ProgressFn,
} from '../model-artifacts';
import { intOption, modelNameOption, sha256Option, versionOption } from './options';

/** Options of {@link fetchModel}. */
export interface FetchModelOptions {
  readonly name: string;
  readonly version: string;
  /** The pinned files: sha256 by file name (every file the service reads). */
  readonly files: Readonly<Record<string, string>>;
  /** Directory that ends up holding exactly the pinned files. */
  readonly dest: string;
  /**
   * How many times to probe MLflow's /health before giving up.
   * @default 30
   */
  readonly waitAttempts?: number;
  /**
   * Pause between health probes.
   * @default 2000
   */
  readonly waitIntervalMs?: number;
  readonly onProgress?: ProgressFn;
  readonly log?: Log;
}

/**
 * What the pod's init container runs: waits (bounded) for MLflow, downloads exactly the pinned files of the
 * version into a temp directory next to `dest`, verifies each sha256, resolves the directory with the model
 * format (the files it reads must be exactly the pinned ones), then renames the directory onto `dest`. On any
 * failure nothing is left behind. A `dest` that already holds exactly the pinned files is kept as is.
 */
export async function fetchModel(
  client: MlflowClient,
  opts: FetchModelOptions,
): Promise<'fetched' | 'present'> {
  const log = opts.log ?? stderrLog;
  const dest = resolve(opts.dest);
  if (await alreadyPresent(dest, opts)) {
    log(`model-fetch: ${dest} already holds ${opts.name} version ${opts.version} (sha256 verified)`);
    return 'present';
  }
  removeStaleTempDirs(dest);
  await waitForMlflow(client, opts.waitAttempts ?? 30, opts.waitIntervalMs ?? 2000, log);
  const version = await client.getModelVersion(opts.name, opts.version);
  const location = await client.resolveArtifactLocation(version);
  log(`model-fetch: ${opts.name} version ${opts.version} from ${location}`);
  const tmp = siblingTempDir(dest, 'fetch');
  const names = Object.keys(opts.files).sort();
  try {
    const digests = await downloadArtifactFiles(client, location, tmp, names, opts.onProgress);
    for (const file of names) {
      if (digests[file] !== opts.files[file]) {
        throw new CliError(
          `${file} of ${opts.name} version ${opts.version} has sha256 ${digests[file]} but the pin expects ` +
            `${opts.files[file]}: the registry content changed or the pin is wrong; promote the version again to re-pin it`,
        );
      }
    }
    try {
      await readModelFiles(tmp, { files: opts.files });
    } catch (err) {
      throw new CliError(
        `${opts.name} version ${opts.version} is not servable as pinned: ${(err as Error).message}`,
      );
    }
    replaceDir(tmp, dest);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  log(`model-fetch: wrote ${dest} (${names.map((f) => `${f} sha256 ${opts.files[f]}`).join(', ')})`);
  return 'fetched';
}

/** `dest` holds exactly the pinned files with the pinned digests. */
async function alreadyPresent(dest: string, opts: FetchModelOptions): Promise<boolean> {
  let present: string[];
  try {
    present = readdirSync(dest).sort();
  } catch {
    return false;
  }
  const names = Object.keys(opts.files).sort();
  if (present.join('\n') !== names.join('\n')) return false;
  for (const file of names) {
    // A pinned name that cannot be read as a file (a directory, a dangling link) is a destination to replace.
    const sha = await fileSha256(join(dest, file)).catch(() => undefined);
    if (sha !== opts.files[file]) return false;
  }
  return true;
}

/** sha256 of a file, streamed (models can be large). */
async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** Probes /health until it answers 200, at most `attempts` times. */
export async function waitForMlflow(
  client: MlflowClient,
  attempts: number,
  intervalMs: number,
  log: Log,
): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await client.health();
      return;
    } catch (err) {
      if (err instanceof MlflowError && err.kind === 'unauthorized') throw err;
      if (i >= attempts) {
        throw new CliError(
          `MLflow at ${client.baseUrl} is not ready after ${attempts} attempts: ${(err as Error).message}`,
        );
      }
      log(`model-fetch: waiting for MLflow at ${client.baseUrl} (${i}/${attempts})`);
      await sleep(intervalMs);
    }
  }
}

/** Registers `model-fetch` on the CLI. */
export function registerModelFetchCommand(program: Command): void {
  program
    .command('model-fetch')
    .description(
      'Download the pinned files of a model version from MLflow into a directory, verifying each sha256 (the init container)',
    )
    .requiredOption('--name <model>', 'registered model name', modelNameOption('--name'))
    .requiredOption(
      '--version <n>',
      'registered model version (a positive integer)',
      versionOption('--version'),
    )
    .option(
      '--file <name=sha256>',
      'a pinned file and its sha256 (repeat for each file the pin lists)',
      fileOption,
      {} as Record<string, string>,
    )
    .option('--sha256 <hex>', `legacy pins: expected sha256 of ${MODEL_FILE}`, sha256Option('--sha256'))
    .option(
      '--metadata-sha256 <hex>',
      `legacy pins: expected sha256 of ${METADATA_FILE}`,
      sha256Option('--metadata-sha256'),
    )
    .requiredOption('--dest <dir>', 'directory to write the pinned files into (replaced atomically)')
    .addOption(
      new Option('--wait-attempts <n>', 'health probes before giving up on MLflow')
        .default(30)
        .argParser(intOption('--wait-attempts', 1)),
    )
    .addOption(
      new Option('--wait-interval-ms <ms>', 'pause between health probes')
        .default(2000)
        .argParser(intOption('--wait-interval-ms', 0)),
    )
    .addHelpText(
      'after',
      '\nEnvironment: MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD.',
    )
    .action(async (o: FetchCliOptions) => {
      const files = {
        ...(o.sha256 ? { [MODEL_FILE]: o.sha256 } : {}),
        ...(o.metadataSha256 ? { [METADATA_FILE]: o.metadataSha256 } : {}),
        ...o.file,
      };
      if (Object.keys(files).length === 0) {
        throw new CliError('model-fetch needs the pinned files: pass --file <name>=<sha256> for each', 2);
      }
      const client = new MlflowClient({ connection: mlflowConnectionFromEnv() });
      await fetchModel(client, { ...o, files, onProgress: ttyProgress() });
    });
}

/** `--file MLmodel=<sha256>`, accumulated into one map. */
function fileOption(value: string, previous: Record<string, string>): Record<string, string> {
  const match = /^((?!\.{1,2}=)[A-Za-z0-9._-]{1,255})=([0-9a-f]{64})$/.exec(value);
  if (!match) {
    throw new InvalidArgumentError(
      `--file must be <file name>=<64 lower-case hex sha256>, e.g. MLmodel=${'0'.repeat(64)} (got '${value}')`,
    );
  }
  return { ...previous, [match[1] as string]: match[2] as string };
}

interface FetchCliOptions {
  name: string;
  version: string;
  file: Record<string, string>;
  sha256?: string;
  metadataSha256?: string;
  dest: string;
  waitAttempts: number;
  waitIntervalMs: number;
}
