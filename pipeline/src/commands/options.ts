import { InvalidArgumentError } from 'commander';
import { ENVIRONMENTS, type EnvironmentName } from '../../../charts/src/config';

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
