import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, Option } from 'commander';
import { METADATA_FILE, MODEL_FILE, parseModelMetadata } from '../../../service/src/model/metadata';
import { CliError, stderrLog, type Log } from '../cli-error';
import { MlflowClient, MlflowError, mlflowConnectionFromEnv } from '../mlflow';
import {
  downloadModelFiles,
  removeStaleTempDirs,
  replaceDir,
  siblingTempDir,
  ttyProgress,
  type ProgressFn,
} from '../model-artifacts';
import { intOption, sha256Option, versionOption } from './options';

/** Options of {@link fetchModel}. */
export interface FetchModelOptions {
  readonly name: string;
  readonly version: string;
  /** Expected sha256 of model.onnx. */
  readonly sha256: string;
  /** Expected sha256 of model.json, verified when given. */
  readonly metadataSha256?: string;
  /** Directory that ends up holding model.onnx + model.json. */
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
 * What the pod's init container runs: waits (bounded) for MLflow, downloads the pinned version's model.onnx and
 * model.json into a temp directory next to `dest`, verifies their sha256 and the metadata schema, then renames
 * the directory onto `dest`. On any failure nothing is left behind. A `dest` that already holds the pinned files
 * is kept as is.
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
  try {
    const digests = await downloadModelFiles(client, location, tmp, opts.onProgress);
    if (digests.sha256 !== opts.sha256) {
      throw new CliError(
        `${MODEL_FILE} of ${opts.name} version ${opts.version} has sha256 ${digests.sha256} but the pin expects ` +
          `${opts.sha256}: the registry content changed or the pin is wrong; promote the version again to re-pin it`,
      );
    }
    if (opts.metadataSha256 !== undefined && digests.metadataSha256 !== opts.metadataSha256) {
      throw new CliError(
        `${METADATA_FILE} of ${opts.name} version ${opts.version} has sha256 ${digests.metadataSha256} but the pin ` +
          `expects ${opts.metadataSha256}: the registry content changed or the pin is wrong`,
      );
    }
    checkMetadata(join(tmp, METADATA_FILE));
    replaceDir(tmp, dest);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  log(`model-fetch: wrote ${dest} (${MODEL_FILE} sha256 ${opts.sha256})`);
  return 'fetched';
}

async function alreadyPresent(dest: string, opts: FetchModelOptions): Promise<boolean> {
  const model = join(dest, MODEL_FILE);
  const meta = join(dest, METADATA_FILE);
  if (!existsSync(model) || !existsSync(meta)) return false;
  if ((await fileSha256(model)) !== opts.sha256) return false;
  return opts.metadataSha256 === undefined || (await fileSha256(meta)) === opts.metadataSha256;
}

/** sha256 of a file, streamed (models can be large). */
async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

function checkMetadata(file: string): void {
  try {
    parseModelMetadata(JSON.parse(readFileSync(file, 'utf8')), METADATA_FILE);
  } catch (err) {
    throw new CliError(`the registered ${METADATA_FILE} is not valid: ${(err as Error).message}`);
  }
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
      'Download a pinned model version from MLflow into a directory, verifying its sha256 (the init container)',
    )
    .requiredOption('--name <model>', 'registered model name')
    .requiredOption(
      '--version <n>',
      'registered model version (a positive integer)',
      versionOption('--version'),
    )
    .requiredOption('--sha256 <hex>', 'expected sha256 of model.onnx', sha256Option('--sha256'))
    .option('--metadata-sha256 <hex>', 'expected sha256 of model.json', sha256Option('--metadata-sha256'))
    .requiredOption('--dest <dir>', 'directory to write model.onnx and model.json into (replaced atomically)')
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
      const client = new MlflowClient({ connection: mlflowConnectionFromEnv() });
      await fetchModel(client, { ...o, onProgress: ttyProgress() });
    });
}

interface FetchCliOptions {
  name: string;
  version: string;
  sha256: string;
  metadataSha256?: string;
  dest: string;
  waitAttempts: number;
  waitIntervalMs: number;
}
