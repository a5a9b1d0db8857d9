import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import {
  formatMlmodel,
  metadataBlockOf,
  MLMODEL_FILE,
  readModelFiles,
  readOnnxGraph,
  signatureOf,
  type ModelFiles,
} from '../../../service/src/model/format';
import { CliError, stderrLog, type Log } from '../cli-error';
import { MlflowClient, mlflowConnectionFromEnv, type ModelVersion } from '../mlflow';
import { aliasOption, modelNameOption } from './options';

/** Options of {@link registerModel}. */
export interface RegisterOptions {
  /** A model directory: an MLflow model (MLmodel + ONNX file) or the kit's model.onnx + model.json. */
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

/** The run-relative directory the model is logged under, as `log_model(name="model")` in MLflow 2 did. */
const ARTIFACT_PATH = 'model';

/**
 * Logs a model directory as a genuine MLflow model in a new run (through the artifact proxy, under `model/`):
 * the ONNX file and an `MLmodel` with the onnx flavor, the signature read from the graph and the resolved
 * serving description as `metadata.model_gitops` (so `mlflow.onnx.load_model("models:/<name>/<version>")`
 * works and the version is served without any file of ours). Creates a model version from it and optionally
 * sets an alias. Returns the new version.
 */
export async function registerModel(client: MlflowClient, opts: RegisterOptions): Promise<ModelVersion> {
  const log = opts.log ?? stderrLog;
  let files: ModelFiles;
  try {
    files = await readModelFiles(opts.modelDir);
  } catch (err) {
    throw new CliError(
      `--model-dir '${opts.modelDir}': ${(err as Error).message}` +
        "\n(a model directory is what mlflow.onnx.save_model writes, or model.onnx + model.json; 'npm run model:default' writes service/models/default)",
    );
  }
  const experimentId = await client.ensureExperiment(opts.experiment ?? 'model-gitops');
  const run = await client.createRun(experimentId, `register-${opts.name}`, {
    'model-gitops.command': 'register',
  });
  const location = `${run.artifact_uri.replace(/\/+$/, '')}/${ARTIFACT_PATH}`;
  const staging = mkdtempSync(join(tmpdir(), 'model-gitops-register-'));
  try {
    const mlmodelFile = join(staging, MLMODEL_FILE);
    writeFileSync(mlmodelFile, mlmodelFor(files, run.run_id));
    await client.uploadArtifact(`${location}/${files.onnxFile}`, join(opts.modelDir, files.onnxFile));
    for (const { path } of files.externalData) {
      await client.uploadArtifact(`${location}/${path}`, join(opts.modelDir, path));
    }
    await client.uploadArtifact(`${location}/${MLMODEL_FILE}`, mlmodelFile);
  } catch (err) {
    // Reported, not thrown: the upload error is the one the user must see.
    await client
      .finishRun(run.run_id, 'FAILED')
      .catch((e: unknown) =>
        log(`register: could not mark run ${run.run_id} FAILED: ${(e as Error).message}`),
      );
    throw err;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  await client.finishRun(run.run_id, 'FINISHED');
  await client.ensureRegisteredModel(opts.name);
  const version = await client.createModelVersion(opts.name, location, run.run_id, opts.description);
  log(`register: ${opts.name} version ${version.version} from ${location} (run ${run.run_id})`);
  if (opts.alias) {
    try {
      await client.setAlias(opts.name, opts.alias, version.version);
    } catch (err) {
      // The version exists now: say which, so a retry sets the alias rather than registering another one.
      throw new CliError(
        `register: version ${version.version} of '${opts.name}' was created, but the alias '${opts.alias}' ` +
          `could not be set: ${(err as Error).message}: set the alias on version ${version.version} in MLflow ` +
          'rather than registering again',
      );
    }
    log(`register: alias '${opts.alias}' → version ${version.version}`);
  }
  return version;
}

/** The MLmodel `register` uploads: the resolved description in full, so no default of ours is implied. */
export function mlmodelFor(files: ModelFiles, runId: string): string {
  const graph = readOnnxGraph(files.onnx, files.onnxFile);
  return formatMlmodel({
    onnxFile: files.onnxFile,
    description: metadataBlockOf(files.metadata),
    inputs: graph.inputs.map(signatureOf),
    outputs: graph.outputs.map(signatureOf),
    artifactPath: ARTIFACT_PATH,
    runId,
  });
}

/** Registers `register` on the CLI. */
export function registerRegisterCommand(program: Command): void {
  program
    .command('register')
    .description(
      'Log a model directory to MLflow as an MLflow model (MLmodel + ONNX) and create a model version from it',
    )
    .requiredOption(
      '--model-dir <dir>',
      'an MLflow model directory (MLmodel + ONNX) or model.onnx + model.json',
    )
    .requiredOption(
      '--name <model>',
      'registered model name (created when missing)',
      modelNameOption('--name'),
    )
    .option('--alias <alias>', 'point this alias at the new version (e.g. staging)', aliasOption('--alias'))
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
