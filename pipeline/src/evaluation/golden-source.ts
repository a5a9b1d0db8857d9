import { join } from 'node:path';
import type { GoldenSetLimits, GoldenSetLocation } from '../../../charts/src/config';
import { CliError } from '../cli-error';
import type { MlflowClient } from '../mlflow';
import { downloadGoldenSet, readGoldenSet, type GoldenSet } from './golden-set';

/** What a golden set location is resolved against. */
export interface GoldenSetContext {
  /** Repository root, for `from: repository`. */
  readonly repoRoot: string;
  readonly client?: MlflowClient;
  /** The version's resolved `mlflow-artifacts:` directory, for `from: model-artifacts`. */
  readonly modelLocation?: string;
  /** The version's run, for `from: run-artifacts`. */
  readonly runId?: string;
  /** Where downloaded files go (a temp directory the caller removes). */
  readonly downloadDir: string;
}

/** Reads (repository) or downloads (model or run artifacts, through the client) the golden set of a policy. */
export async function loadGoldenSet(
  location: GoldenSetLocation,
  limits: GoldenSetLimits,
  ctx: GoldenSetContext,
): Promise<GoldenSet> {
  if (location.from === 'repository') {
    return readGoldenSet(join(ctx.repoRoot, location.path), location.path, limits);
  }
  if (!ctx.client)
    throw new CliError(`a golden set in ${location.from} needs MLflow (set MLFLOW_TRACKING_URI)`);
  let base: string;
  if (location.from === 'model-artifacts') {
    if (!ctx.modelLocation) {
      throw new CliError(
        'evaluation.goldenSet from model-artifacts needs a registered version (--name/--version)',
      );
    }
    base = ctx.modelLocation;
  } else {
    if (!ctx.runId) {
      throw new CliError(
        'evaluation.goldenSet from run-artifacts needs the version to have a run (run_id): ' +
          'register from a run, or use from: model-artifacts',
      );
    }
    base = (await ctx.client.getRun(ctx.runId)).artifact_uri.replace(/\/+$/, '');
    if (!base.startsWith('mlflow-artifacts:')) {
      throw new CliError(
        `the run's artifacts are at '${base}', not behind the MLflow artifact proxy (mlflow-artifacts:): ` +
          'run the server with --serve-artifacts',
      );
    }
  }
  return downloadGoldenSet(ctx.client, `${base}/${location.path}`, ctx.downloadDir, limits);
}
