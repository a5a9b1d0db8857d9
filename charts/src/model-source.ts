import { parseIpv4Cidr } from './cidr';
import type { ModelPin } from './config/model-pin';
import { DNS_LABEL } from './config/names';

/** Where the init container finds MLflow, and the Secret that holds its credentials. */
export interface MlflowConnection {
  /** MLflow tracking server URL as seen from the pod (MLFLOW_TRACKING_URI), e.g. `http://mlflow.mlflow:5000`. */
  readonly trackingUri: string;
  /**
   * Secret (created out of band or by an ExternalSecret) with the optional keys MLFLOW_TRACKING_TOKEN,
   * MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD. Only its name is ever synthesized.
   * @default 'mlflow-credentials'
   */
  readonly credentialsSecretName?: string;
  /**
   * Namespace of an in-cluster MLflow; the NetworkPolicy admits egress to it on the URI's port.
   * @default - MLflow is reached through `cidr`
   */
  readonly namespace?: string;
  /**
   * CIDR of an MLflow outside the cluster; the NetworkPolicy admits egress to it on the URI's port.
   * @default - MLflow is reached through `namespace`
   */
  readonly cidr?: string;
  /**
   * The port MLflow's pods listen on, when the tracking URI names a Service port that maps to another
   * (`http://mlflow.mlflow` to a container port 5000): a NetworkPolicy matches the port after the Service has
   * translated it, so egress to the Service port alone never reaches MLflow.
   * @default - the tracking URI's port (80/443 when it names none)
   */
  readonly podPort?: number;
}

/** An {@link MlflowConnection} with its defaults filled in and its port resolved. */
export interface ResolvedMlflowConnection extends MlflowConnection {
  readonly credentialsSecretName: string;
  /** The port the NetworkPolicy admits: `podPort`, else the tracking URI's port. */
  readonly port: number;
}

/** How the registry picks the version this environment follows (recorded in the ConfigMap for humans and `check`). */
export type RegistrySelector = { readonly alias: string } | { readonly stage: string };

/** The pinned registry version: an init container runs `model-fetch` into an emptyDir and the service loads it. */
export interface RegistryModelSource {
  readonly kind: 'registry';
  /** The environment's model pin. */
  readonly pin: ModelPin;
  /** The alias or stage the environment follows. */
  readonly selector: RegistrySelector;
  /** Where the registry is and which Secret holds its credentials. */
  readonly mlflow: ResolvedMlflowConnection;
}

/** The default model baked into the image; no init container, no MLflow. */
export interface BakedModelSource {
  readonly kind: 'baked';
  /** The model directory inside the image. */
  readonly modelDir: string;
}

/**
 * Where the pods get their model from: a union discriminated by `kind`. Build one with {@link ModelSource.fromRegistry}
 * or {@link ModelSource.baked}; both reject invalid input, naming the field.
 */
export type ModelSource = RegistryModelSource | BakedModelSource;

/** The factories of {@link ModelSource}. */
export const ModelSource = {
  /**
   * The pinned registry version, fetched and verified by an init container.
   * @param pin the environment's model pin (`charts/environments/<env>.model.json`)
   * @param selector the alias or stage that this environment follows in the registry
   * @param mlflow where the registry is and which Secret holds its credentials
   */
  fromRegistry(pin: ModelPin, selector: RegistrySelector, mlflow: MlflowConnection): RegistryModelSource {
    const keys = Object.keys(selector).filter((k) => k === 'alias' || k === 'stage');
    const value = (selector as Record<string, unknown>)[keys[0] ?? ''];
    if (keys.length !== 1 || typeof value !== 'string' || value === '') {
      throw new Error(
        `'selector' (${JSON.stringify(selector)}) must be exactly one of {alias: '<alias>'} or {stage: '<stage>'}.`,
      );
    }
    return { kind: 'registry', pin, selector, mlflow: resolveMlflowConnection(mlflow) };
  },

  /**
   * The untrained default model baked into the image (`npm run model:default`); no init container, no MLflow.
   * @param modelDir the model directory inside the image, an absolute path
   */
  baked(modelDir: string = '/app/service/models/default'): BakedModelSource {
    if (!modelDir.startsWith('/')) {
      throw new Error(
        `'modelDir' '${modelDir}' must be an absolute path inside the image, e.g. /app/models/mine.`,
      );
    }
    return { kind: 'baked', modelDir };
  },
};

/** An MLflow connection checked and with its defaults filled in; fails naming the field (`'mlflow.cidr'`). */
export function resolveMlflowConnection(mlflow: MlflowConnection): ResolvedMlflowConnection {
  const port = mlflow.podPort ?? uriPort(mlflow.trackingUri);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`'mlflow.podPort' (${port}) must be a port number from 1 to 65535.`);
  }
  const credentialsSecretName = mlflow.credentialsSecretName ?? 'mlflow-credentials';
  dnsLabel('mlflow.credentialsSecretName', credentialsSecretName);
  if (mlflow.namespace !== undefined) dnsLabel('mlflow.namespace', mlflow.namespace);
  if (mlflow.cidr !== undefined) parseIpv4Cidr(mlflow.cidr, "'mlflow.cidr'");
  if (mlflow.namespace === undefined && mlflow.cidr === undefined) {
    throw new Error(
      "'mlflow' needs 'namespace' (in-cluster MLflow) or 'cidr' (external MLflow) so the NetworkPolicy can admit " +
        'egress to it.',
    );
  }
  return { ...mlflow, credentialsSecretName, port };
}

/** Port of an http(s) URL, defaulting to 80/443. */
export function uriPort(uri: string): number {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`'mlflow.trackingUri' ('${uri}') is not a URL: write e.g. http://mlflow.mlflow:5000.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`'mlflow.trackingUri' ('${uri}') must be http:// or https://.`);
  }
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

function dnsLabel(prop: string, value: string): void {
  if (!DNS_LABEL.test(value)) {
    throw new Error(
      `'${prop}' '${value}' must be a DNS label: lower-case letters, digits and '-', at most 63.`,
    );
  }
}
