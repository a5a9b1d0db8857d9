import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { METADATA_FILE, MODEL_FILE, parseModelMetadata } from '../../../service/src/model/metadata';
import { CliError, stderrLog, type Log } from '../cli-error';
import { MlflowClient, mlflowConnectionFromEnv, type ModelVersion } from '../mlflow';

/** Options of {@link registerModel}. */
export interface RegisterOptions {
  /** Directory holding model.onnx and model.json. */
  readonly modelDir: string;
  /** Registered model name (created when missing). */
  readonly name: string;
  /** Alias to point at the new version. @default - no alias is set */
  readonly alias?: string;
  /** Experiment the upload run is logged in (created when missing). @default 'model-gitops' */
  readonly experiment?: string;
  /** Description of the new version. @default - none */
  readonly description?: string;
  readonly log?: Log;
}

/**
 * Logs a model directory as the artifacts of a new run (through the artifact proxy, under `model/`), creates a
 * model version from them and optionally sets an alias. Returns the new version.
 */
export async function registerModel(client: MlflowClient, opts: RegisterOptions): Promise<ModelVersion> {
  const log = opts.log ?? stderrLog;
  for (const file of [MODEL_FILE, METADATA_FILE]) {
    if (!existsSync(join(opts.modelDir, file))) {
      throw new CliError(
        `--model-dir '${opts.modelDir}' has no ${file}: a model directory holds ${MODEL_FILE} and ${METADATA_FILE} ` +
          "(e.g. 'npm run model:default' writes service/models/default)",
      );
    }
  }
  try {
    parseModelMetadata(JSON.parse(readFileSync(join(opts.modelDir, METADATA_FILE), 'utf8')), METADATA_FILE);
  } catch (err) {
    throw new CliError(`--model-dir '${opts.modelDir}': ${(err as Error).message}`);
  }
  const experimentId = await client.ensureExperiment(opts.experiment ?? 'model-gitops');
  const run = await client.createRun(experimentId, `register-${opts.name}`, {
    'model-gitops.command': 'register',
  });
  const location = `${run.artifact_uri.replace(/\/+$/, '')}/model`;
  try {
    for (const file of [MODEL_FILE, METADATA_FILE]) {
      await client.uploadArtifact(`${location}/${file}`, join(opts.modelDir, file));
    }
  } catch (err) {
    // Reported, not thrown: the upload error is the one the user must see.
    await client
      .finishRun(run.run_id, 'FAILED')
      .catch((e: unknown) =>
        log(`register: could not mark run ${run.run_id} FAILED: ${(e as Error).message}`),
      );
    throw err;
  }
  await client.finishRun(run.run_id, 'FINISHED');
  await client.ensureRegisteredModel(opts.name);
  const version = await client.createModelVersion(opts.name, location, run.run_id, opts.description);
  log(`register: ${opts.name} version ${version.version} from ${location} (run ${run.run_id})`);
  if (opts.alias) {
    await client.setAlias(opts.name, opts.alias, version.version);
    log(`register: alias '${opts.alias}' → version ${version.version}`);
  }
  return version;
}

/** Registers `register` on the CLI. */
export function registerRegisterCommand(program: Command): void {
  program
    .command('register')
    .description(
      'Upload a model directory (model.onnx + model.json) to MLflow and create a model version from it',
    )
    .requiredOption('--model-dir <dir>', 'directory with model.onnx and model.json')
    .requiredOption('--name <model>', 'registered model name (created when missing)')
    .option('--alias <alias>', 'point this alias at the new version (e.g. staging)')
    .option('--experiment <name>', 'experiment for the upload run', 'model-gitops')
    .option('--description <text>', 'description of the new version')
    .addHelpText(
      'after',
      '\nPrints the new version number on stdout.\n' +
        'Environment: MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD.',
    )
    .action(async (o: Omit<RegisterOptions, 'log'>) => {
      const client = new MlflowClient({ connection: mlflowConnectionFromEnv() });
      const version = await registerModel(client, o);
      process.stdout.write(`${version.version}\n`);
    });
}
