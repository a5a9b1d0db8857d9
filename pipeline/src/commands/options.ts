import { InvalidArgumentError, Option } from 'commander';
import {
  ENVIRONMENTS,
  ModelAliasSchema,
  RegisteredModelNameSchema,
  type EnvironmentName,
} from '../../../charts/src/config';
import type { z } from 'zod';
import { DEFAULT_LATENCY_BUDGET_MS } from '../latency-budget';

/** Parser for a registered model version: a positive integer, kept as a string as MLflow does. */
export function versionOption(flag: string): (value: string) => string {
  return (value) => {
    if (!/^[1-9][0-9]*$/.test(value)) {
      throw new InvalidArgumentError(`${flag} must be a positive integer like 3 (got '${value}')`);
    }
    return value;
  };
}

/** Parser for a sha256 digest: 64 lower-case hex characters. */
export function sha256Option(flag: string): (value: string) => string {
  return (value) => {
    if (!/^[0-9a-f]{64}$/.test(value)) {
      throw new InvalidArgumentError(
        `${flag} must be 64 lower-case hex characters (e.g. from 'sha256sum model.onnx'), got '${value}'`,
      );
    }
    return value;
  };
}

/** Parser for an integer option with a lower bound. */
export function intOption(flag: string, min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?[0-9]+$/.test(value) || n < min) {
      throw new InvalidArgumentError(`${flag} must be an integer ≥ ${min} (got '${value}')`);
    }
    return n;
  };
}

/** Parser for `--env`: one of the kit's environments. */
export function envOption(value: string): EnvironmentName {
  if (!(ENVIRONMENTS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`--env must be one of ${ENVIRONMENTS.join(', ')} (got '${value}')`);
  }
  return value as EnvironmentName;
}

/** Parser for a string option that must follow a schema; the error names the flag, the value and the rule. */
function schemaOption(flag: string, schema: z.ZodType<string>): (value: string) => string {
  return (value) => {
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      throw new InvalidArgumentError(
        `${flag} '${value}' ${parsed.error.issues[0]?.message ?? 'is not valid'}`,
      );
    }
    return parsed.data;
  };
}

/** Parser for a registered model name the kit can pin (checked before anything is downloaded). */
export function modelNameOption(flag: string): (value: string) => string {
  return schemaOption(flag, RegisteredModelNameSchema);
}

/** Parser for a registered model alias, by MLflow's rules (checked before anything is registered). */
export function aliasOption(flag: string): (value: string) => string {
  return schemaOption(flag, ModelAliasSchema);
}

/** Parser for an option that may not be empty (commander takes `--stage ""` as given). */
export function nonEmptyOption(flag: string): (value: string) => string {
  return (value) => {
    if (value.trim() === '') throw new InvalidArgumentError(`${flag} must not be empty`);
    return value;
  };
}

/** `--latency-budget-ms` of `promote` and `evaluate`: the gate's median time budget per sample image. */
export function latencyBudgetOption(): Option {
  return new Option('--latency-budget-ms <ms>', 'gate: median time budget per sample image')
    .default(DEFAULT_LATENCY_BUDGET_MS)
    .argParser(intOption('--latency-budget-ms', 1));
}
