import { existsSync } from 'node:fs';
import {
  modelPinPath,
  readModelPin,
  type EnvironmentName,
  type EvaluationPolicy,
  type ModelPin,
} from '../../charts/src/config';
import { CliError } from './cli-error';
import type { MlflowClient, ModelVersion } from './mlflow';

/** How a version is chosen in the registry. */
export type Selector =
  | { readonly kind: 'version'; readonly value: string }
  | { readonly kind: 'alias'; readonly value: string }
  | { readonly kind: 'stage'; readonly value: string };

/** `alias 'production'`, `stage 'Production'`, `version 3`. */
export function describeSelector(s: Selector): string {
  return s.kind === 'version' ? `version ${s.value}` : `${s.kind} '${s.value}'`;
}

/**
 * The registry selector an environment follows, from `charts/environments/<env>.yaml` (`model.alias` or
 * `model.stage`); undefined when the environment serves a model baked into the image.
 */
export async function environmentSelector(
  repoRoot: string,
  env: EnvironmentName,
): Promise<Selector | undefined> {
  // Loaded on first use: environment files are read in the workflows, the image holds no copy of their schema.
  const { environmentConfigPath, readEnvironmentConfig } =
    await import('../../charts/src/config/environment-config');
  const config = readEnvironmentConfig(environmentConfigPath(repoRoot, env));
  if (config.model.from !== 'registry') return undefined;
  if (config.model.alias) return { kind: 'alias', value: config.model.alias };
  if (config.model.stage) return { kind: 'stage', value: config.model.stage };
  return undefined;
}

/**
 * The promotion gate's evaluation policy of an environment (`evaluation` in `charts/environments/<env>.yaml`).
 * Throws a CliError when the environment has none (only environments serving a baked model may omit it).
 */
export async function environmentPolicy(repoRoot: string, env: EnvironmentName): Promise<EvaluationPolicy> {
  const { environmentConfigPath, readEnvironmentConfig } =
    await import('../../charts/src/config/environment-config');
  const config = readEnvironmentConfig(environmentConfigPath(repoRoot, env));
  if (!config.evaluation) {
    throw new CliError(
      `environment '${env}' has no 'evaluation' policy in charts/environments/${env}.yaml: ` +
        'add a golden set and thresholds (see pipeline/README.md) before promoting into it',
    );
  }
  return config.evaluation;
}

/** The environment's pin, or undefined when the pin file does not exist yet. */
export function currentPin(repoRoot: string, env: EnvironmentName): ModelPin | undefined {
  const file = modelPinPath(repoRoot, env);
  return existsSync(file) ? readModelPin(file) : undefined;
}

/** Looks a selector up in the registry. */
export function resolveSelector(client: MlflowClient, name: string, s: Selector): Promise<ModelVersion> {
  switch (s.kind) {
    case 'version':
      return client.getModelVersion(name, s.value);
    case 'alias':
      return client.getVersionByAlias(name, s.value);
    case 'stage':
      return client.getLatestVersionInStage(name, s.value);
  }
}
