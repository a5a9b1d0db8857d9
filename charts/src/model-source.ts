import type { ModelPin } from './config/model-pin';

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
}

/** How the registry picks the version this environment follows (recorded in the ConfigMap for humans and `check`). */
export type RegistrySelector = { readonly alias: string } | { readonly stage: string };

/**
 * Where the pods get their model from. Build with {@link ModelSource.fromRegistry} (the pinned version, fetched and
 * verified by an init container) or {@link ModelSource.baked} (the default model inside the image).
 */
export class ModelSource {
  /**
   * The pinned registry version: an init container runs `model-fetch` into an emptyDir and the service loads it.
   * @param pin the environment's model pin (`charts/environments/<env>.model.json`)
   * @param selector the alias or stage that this environment follows in the registry
   * @param mlflow where the registry is and which Secret holds its credentials
   */
  public static fromRegistry(
    pin: ModelPin,
    selector: RegistrySelector,
    mlflow: MlflowConnection,
  ): ModelSource {
    return new ModelSource(pin, selector, mlflow, undefined);
  }

  /**
   * The untrained default model baked into the image (`npm run model:default`); no init container, no MLflow.
   * @param modelDir the model directory inside the image
   */
  public static baked(modelDir: string = '/app/service/models/default'): ModelSource {
    return new ModelSource(undefined, undefined, undefined, modelDir);
  }

  private constructor(
    /** The pinned version, for registry sources. */
    public readonly pin: ModelPin | undefined,
    /** The alias or stage followed, for registry sources. */
    public readonly selector: RegistrySelector | undefined,
    /** The MLflow connection, for registry sources. */
    public readonly mlflow: MlflowConnection | undefined,
    /** The model directory inside the image, for baked sources. */
    public readonly bakedModelDir: string | undefined,
  ) {}
}
