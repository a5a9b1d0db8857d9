import { Chart } from 'cdk8s';
import { ImagePullPolicy } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import type { EnvironmentConfig } from './config/environment-config';
import type { EnvironmentName, ModelPin } from './config/model-pin';
import { Delivery } from './delivery';
import { ExternalSecret } from './external-secret';
import { InferenceService } from './inference-service';
import { ModelSource } from './model-source';
import { InferenceAlerts, InferenceDashboard } from './monitoring';
import { Scaling } from './scaling';
import { ServiceExposure } from './service-exposure';
import { WebhookRelay } from './webhook-relay';

/** The config's `imagePullPolicy` values as cdk8s-plus' enum. */
const PULL_POLICIES = {
  Always: ImagePullPolicy.ALWAYS,
  IfNotPresent: ImagePullPolicy.IF_NOT_PRESENT,
} as const satisfies Record<NonNullable<EnvironmentConfig['imagePullPolicy']>, ImagePullPolicy>;

/** Props of {@link EnvironmentChart}. */
export interface EnvironmentChartProps {
  /** The environment this chart deploys. */
  readonly environment: EnvironmentName;
  /** Its validated config (`charts/environments/<env>.yaml`). */
  readonly config: EnvironmentConfig;
  /** Its model pin (`charts/environments/<env>.model.json`). */
  readonly pin: ModelPin;
}

/**
 * Everything one environment runs: the {@link InferenceService} and, where configured, the {@link WebhookRelay}.
 * Further constructs (monitoring) take `inference` as a prop.
 */
export class EnvironmentChart extends Chart {
  /** The environment. */
  public readonly environment: EnvironmentName;
  /** The inference service. */
  public readonly inference: InferenceService;
  /** The webhook relay, in the environment that runs it. */
  public readonly relay?: WebhookRelay;
  /** ExternalSecrets, when the config names a secret store. */
  public readonly externalSecrets: readonly ExternalSecret[];

  constructor(scope: Construct, props: EnvironmentChartProps) {
    super(scope, props.environment);
    this.environment = props.environment;
    const c = props.config;

    this.inference = new InferenceService(this, 'Inference', {
      image: c.image,
      imagePullPolicy: c.imagePullPolicy && PULL_POLICIES[c.imagePullPolicy],
      namespace: c.namespace,
      logLevel: c.logLevel,
      settings: c.settings,
      modelSource: modelSource(c, props.pin),
      scaling: c.autoscaling
        ? Scaling.autoscaled({ ...c.autoscaling, minAvailable: c.podDisruptionBudget?.minAvailable })
        : Scaling.fixed(c.replicas),
      exposure: exposure(c.service),
      resources: c.resources,
      delivery: c.delivery === 'canary' ? Delivery.canary(c.canary) : undefined,
      ingressNamespaces: c.networkPolicy?.ingressNamespaces,
      monitoringNamespace: c.networkPolicy?.monitoringNamespace,
      dnsNamespace: c.networkPolicy?.dnsNamespace,
      podCidrs: c.networkPolicy?.podCidrs,
    });

    // Monitoring (charts/src/monitoring): PrometheusRule + Grafana dashboard ConfigMap for the service.
    const i = this.inference;
    const rules = {
      namespace: i.namespace,
      jobName: i.name,
      deploymentName: i.name,
      workloadKind: i.canary ? ('Rollout' as const) : ('Deployment' as const),
      podDisruptionBudgetName: i.name,
      horizontalPodAutoscalerName: i.name,
    };
    new InferenceAlerts(this, 'Alerts', rules);
    new InferenceDashboard(this, 'Dashboard', { rules });

    if (c.webhookRelay) {
      this.relay = new WebhookRelay(this, 'WebhookRelay', {
        image: c.image,
        namespace: i.namespace,
        logLevel: c.logLevel,
        ...c.webhookRelay,
        monitoringNamespace: c.networkPolicy?.monitoringNamespace,
        dnsNamespace: c.networkPolicy?.dnsNamespace,
      });
    }

    const externalSecrets: ExternalSecret[] = [];
    const es = c.externalSecrets;
    const store = es && {
      namespace: i.namespace,
      secretStoreName: es.secretStoreName,
      secretStoreKind: es.secretStoreKind,
      refreshInterval: es.refreshInterval,
      labels: { 'app.kubernetes.io/part-of': 'model-gitops', 'app.kubernetes.io/managed-by': 'cdk8s' },
    };
    if (store && es.mlflowCredentialsKey && i.modelSource.kind === 'registry') {
      externalSecrets.push(
        new ExternalSecret(this, 'MlflowCredentials', {
          ...store,
          secretName: i.modelSource.mlflow.credentialsSecretName,
          remoteKey: es.mlflowCredentialsKey,
        }),
      );
    }
    if (store && es.webhookRelayKey && this.relay) {
      externalSecrets.push(
        new ExternalSecret(this, 'WebhookRelaySecret', {
          ...store,
          secretName: this.relay.secretName,
          remoteKey: es.webhookRelayKey,
        }),
      );
    }
    this.externalSecrets = externalSecrets;
  }
}

function modelSource(c: EnvironmentConfig, pin: ModelPin): ModelSource {
  if (c.model.from === 'baked') return ModelSource.baked(c.model.modelDir);
  const selector = c.model.alias !== undefined ? { alias: c.model.alias } : { stage: c.model.stage! };
  const m = c.mlflow!;
  return ModelSource.fromRegistry(pin, selector, {
    trackingUri: m.trackingUri,
    credentialsSecretName: m.credentialsSecret,
    namespace: m.namespace,
    cidr: m.cidr,
    podPort: m.podPort,
  });
}

function exposure(s: EnvironmentConfig['service']): ServiceExposure | undefined {
  if (!s) return undefined;
  const base = { port: s.port, annotations: s.annotations };
  const external = { ...base, externalTrafficPolicy: s.externalTrafficPolicy, nodeCidrs: s.nodeCidrs };
  if (s.type === 'LoadBalancer') {
    return ServiceExposure.loadBalancer({
      ...external,
      tlsPort: s.tlsPort,
      // Config validation refuses a LoadBalancer without ranges; `[]` lets the construct say so too.
      loadBalancerSourceRanges: s.loadBalancerSourceRanges ?? [],
    });
  }
  if (s.type === 'NodePort') {
    return ServiceExposure.nodePort({
      ...external,
      nodePort: s.nodePort,
      nodePortSourceRanges: s.nodePortSourceRanges,
    });
  }
  return ServiceExposure.clusterIp(base);
}
