import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { ServiceMonitor } from '../../imports/prometheus-servicemonitor-monitoring.coreos.com';
import { validateImage } from './config/image-reference';
import { APP_NAME, DNS_HOST_NAME, GitHubRepositorySchema } from './config/names';
import { containerResources, httpProbe, ProbeTiming, sizeLimit } from './container-settings';
import { CLI_PATH } from './inference-service';
import { workloadNetworkPolicy } from './network-policy';
import {
  DEFAULT_RUN_AS_USER,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
} from './pod-hardening';
import { ContainerResourceAmounts } from './resource-amounts';
import { workloadServiceMonitor } from './service-monitor';

/** The relay's webhook route (the relay's own `WEBHOOK_PATH`; a test keeps the two equal). */
export const RELAY_WEBHOOK_PATH = '/webhooks/mlflow';
/** The relay's health route, probed by the kubelet. */
export const RELAY_HEALTH_PATH = '/health';
/**
 * V8's young-generation semi-space cap for the relay, in MiB. Node 24's default grows it to tens of MiB under
 * a burst of large bodies and keeps the pages: hostile traffic took the relay's RSS from 100 to 230-243 MiB,
 * against a 256 MiB limit. Capped at 8 MiB it stayed at ~122 MiB and answered the same load twice as fast.
 */
export const RELAY_SEMI_SPACE_MIB = 8;

/** Options of the relay's {@link WebhookRelayProps.ingress Ingress}. */
export interface RelayIngressOptions {
  /** Host name MLflow calls, e.g. `relay.example.com` (the webhook URL is `https://<host>/webhooks/mlflow`). */
  readonly host: string;
  /**
   * `spec.ingressClassName`: the ingress controller that serves it.
   * @default 'nginx'
   */
  readonly className?: string;
  /**
   * Secret holding the TLS certificate for `host` (cert-manager or `kubectl create secret tls`). MLflow only calls
   * https URLs and verifies the certificate.
   * @default - '<name>-tls'
   */
  readonly tlsSecretName?: string;
  /**
   * Annotations of the Ingress (e.g. `cert-manager.io/cluster-issuer`).
   * @default - none
   */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Props of {@link WebhookRelay}. */
export interface WebhookRelayProps {
  /** Container image (the same image as the service; it runs `cli.js relay`). */
  readonly image: string;
  /** GitHub repository (`owner/name`) whose promotion workflow the relay triggers with `repository_dispatch`. */
  readonly githubRepository: string;
  /**
   * Namespace of every object (the Namespace itself is emitted by the InferenceService).
   * @default 'cats-dogs-classifier'
   */
  readonly namespace?: string;
  /**
   * Name of every object and value of the `app.kubernetes.io/name` label.
   * @default 'model-gitops-webhook-relay'
   */
  readonly name?: string;
  /**
   * Secret with the keys MLFLOW_WEBHOOK_SECRET and GITHUB_TOKEN, created out of band; only its name is synthesized.
   * @default 'model-gitops-webhook-relay'
   */
  readonly secretName?: string;
  /**
   * Registered model whose alias events are relayed (RELAY_MODEL_NAME).
   * @default 'cats-dogs-classifier'
   */
  readonly modelName?: string;
  /**
   * Registry alias → environment to promote (RELAY_ALIAS_ENVIRONMENTS); events for other aliases are ignored.
   * @default { production: 'production', staging: 'staging' }
   */
  readonly aliasEnvironments?: Readonly<Record<string, string>>;
  /**
   * Container and Service port, named `http`.
   * @default 8080
   */
  readonly port?: number;
  /**
   * LOG_LEVEL of the relay.
   * @default 'info'
   */
  readonly logLevel?: string;
  /**
   * Requests and limits.
   * @default { cpuRequestMillicores: 50, memoryRequest: Size.mebibytes(96), cpuLimitMillicores: 500, memoryLimit: Size.mebibytes(256) }
   */
  readonly resources?: ContainerResourceAmounts;
  /**
   * Namespaces whose pods may call the relay's port: the ingress controller's (MLflow only calls https URLs, so
   * deliveries come through the controller that terminates TLS), and any in-cluster sender that calls the Service
   * directly.
   * @default ['ingress-nginx']
   */
  readonly ingressNamespaces?: readonly string[];
  /**
   * An Ingress with TLS that routes only the webhook path and the health path (pathType Exact) to the relay; every other
   * path, /metrics included, has no route through it. Its controller must run in one of `ingressNamespaces`.
   * @default - no Ingress
   */
  readonly ingress?: RelayIngressOptions;
  /**
   * CIDRs that may deliver webhooks (an MLflow outside the cluster).
   * @default - none
   */
  readonly ingressCidrs?: readonly string[];
  /**
   * Namespace of Prometheus, admitted to scrape /metrics.
   * @default 'monitoring'
   */
  readonly monitoringNamespace?: string;
  /**
   * Namespace of the cluster DNS.
   * @default 'kube-system'
   */
  readonly dnsNamespace?: string;
  /**
   * Labels of the ServiceMonitor, matched by the Prometheus Operator's serviceMonitorSelector.
   * @default { release: 'prometheus' }
   */
  readonly serviceMonitorLabels?: Readonly<Record<string, string>>;
  /**
   * Scrape interval of the ServiceMonitor, whole seconds.
   * @default Duration.seconds(30)
   */
  readonly scrapeInterval?: Duration;
  /**
   * Readiness probe GET /health; each field given replaces its default.
   * @default { initialDelaySeconds: 2 s, periodSeconds: 10 s, timeoutSeconds: 3 s, failureThreshold: 2 }
   */
  readonly readinessProbe?: ProbeTiming;
  /**
   * Liveness probe GET /health; each field given replaces its default.
   * @default { initialDelaySeconds: 15 s, periodSeconds: 10 s, timeoutSeconds: 3 s, failureThreshold: 3 }
   */
  readonly livenessProbe?: ProbeTiming;
  /**
   * Size limit of the emptyDir mounted at /tmp, whole MiB.
   * @default Size.mebibytes(16)
   */
  readonly tmpVolumeSizeLimit?: Size;
}

/**
 * The MLflow → GitHub webhook relay: a hardened Deployment running `cli.js relay` from the service image, a ClusterIP
 * Service, a ServiceMonitor, optionally a TLS Ingress routing only the webhook and health paths, and a NetworkPolicy
 * admitting the ingress controller and Prometheus in and only DNS and HTTPS (443) out.
 */
export class WebhookRelay extends Construct {
  /** Name of every object. */
  public readonly name: string;
  /** Namespace of every object. */
  public readonly namespace: string;
  /** Container and Service port. */
  public readonly port: number;
  /** Name of the Secret with MLFLOW_WEBHOOK_SECRET and GITHUB_TOKEN. */
  public readonly secretName: string;
  /** Selector labels of the relay's pods. */
  public readonly selectorLabels: Readonly<Record<string, string>>;
  /** The Deployment. */
  public readonly deployment: kplus.Deployment;
  /** The Service. */
  public readonly service: kplus.Service;
  /** The NetworkPolicy. */
  public readonly networkPolicy: kplus.NetworkPolicy;
  /** The ServiceMonitor. */
  public readonly serviceMonitor: ServiceMonitor;
  /** The Ingress, when {@link WebhookRelayProps.ingress} is set. */
  public readonly ingress?: k8s.KubeIngress;

  constructor(scope: Construct, id: string, props: WebhookRelayProps) {
    super(scope, id);
    this.name = props.name ?? 'model-gitops-webhook-relay';
    this.namespace = props.namespace ?? APP_NAME;
    this.port = props.port ?? 8080;
    this.secretName = props.secretName ?? 'model-gitops-webhook-relay';
    const runAsUser = DEFAULT_RUN_AS_USER;
    const aliasEnvironments = props.aliasEnvironments ?? { production: 'production', staging: 'staging' };

    validateImage(props.image);
    const repository = GitHubRepositorySchema.safeParse(props.githubRepository);
    if (!repository.success) {
      throw new Error(
        `'githubRepository' '${props.githubRepository}' ${repository.error.issues[0]?.message}.`,
      );
    }
    if (Object.keys(aliasEnvironments).length === 0) {
      throw new Error("'aliasEnvironments' is empty: map at least one registry alias to an environment.");
    }
    const senders = props.ingressNamespaces ?? ['ingress-nginx'];
    if (props.ingress && senders.length === 0) {
      throw new Error(
        "'ingressNamespaces' is empty, so the NetworkPolicy would drop every delivery the Ingress forwards: add the " +
          "ingress controller's namespace (e.g. ingress-nginx), or remove 'ingress'.",
      );
    }
    if (props.ingress && !DNS_HOST_NAME.test(props.ingress.host)) {
      throw new Error(
        `'ingress.host' '${props.ingress.host}' must be a fully qualified DNS name, e.g. relay.example.com.`,
      );
    }

    this.selectorLabels = { 'app.kubernetes.io/name': this.name };
    const labels = {
      ...this.selectorLabels,
      'app.kubernetes.io/component': 'webhook-relay',
      'app.kubernetes.io/part-of': 'model-gitops',
      'app.kubernetes.io/managed-by': 'cdk8s',
    };
    const metadata = { name: this.name, namespace: this.namespace, labels };

    const serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata,
      automountToken: false,
    });
    const singleReplicaReason =
      'one replica by design: the relay de-duplicates MLflow deliveries in memory, so a second replica could ' +
      'dispatch a retried delivery twice; MLflow retries failed deliveries while the pod restarts.';
    this.deployment = new kplus.Deployment(this, 'Resource', {
      metadata: {
        ...metadata,
        annotations: {
          'polaris.fairwinds.com/missingPodDisruptionBudget-exempt': 'true',
          'polaris.fairwinds.com/topologySpreadConstraint-exempt': 'true',
          'model-gitops/exemption-reason': singleReplicaReason,
        },
      },
      replicas: 1,
      select: false,
      podMetadata: { labels: { ...labels } },
      serviceAccount,
      automountServiceAccountToken: false,
      isolate: false,
      securityContext: restrictedPodSecurityContext(runAsUser),
      // On SIGTERM the relay finishes the deliveries in flight: each may take its whole dispatch budget
      // (under MLflow's 30 s timeout, checked at the relay's start-up) and a second; Kubernetes' default 30 s
      // would leave no room.
      terminationGracePeriod: Duration.seconds(40),
      strategy: kplus.DeploymentStrategy.rollingUpdate({
        maxSurge: kplus.PercentOrAbsolute.absolute(1),
        maxUnavailable: kplus.PercentOrAbsolute.absolute(0),
      }),
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: { ...this.selectorLabels } }));
    ApiObject.of(this.deployment).addJsonPatch(
      JsonPatch.remove(`/spec/template/metadata/labels/${kplus.Pod.ADDRESS_LABEL.replace('/', '~1')}`),
    );
    const pods = kplus.Pods.select(this, 'Pods', { labels: { ...this.selectorLabels } });

    const secret = kplus.Secret.fromSecretName(this, 'Secret', this.secretName);
    const tmp = kplus.Volume.fromEmptyDir(this, 'TmpVolume', 'tmp', {
      sizeLimit: sizeLimit(props.tmpVolumeSizeLimit ?? Size.mebibytes(16), 'tmpVolumeSizeLimit'),
    });
    const probe = (t: ProbeTiming) => httpProbe(RELAY_HEALTH_PATH, this.port, t);
    const readiness: ProbeTiming = {
      initialDelaySeconds: Duration.seconds(2),
      periodSeconds: Duration.seconds(10),
      timeoutSeconds: Duration.seconds(3),
      failureThreshold: 2,
      ...props.readinessProbe,
    };
    const liveness: ProbeTiming = {
      initialDelaySeconds: Duration.seconds(15),
      periodSeconds: Duration.seconds(10),
      timeoutSeconds: Duration.seconds(3),
      failureThreshold: 3,
      ...props.livenessProbe,
    };
    const container = this.deployment.addContainer({
      name: 'relay',
      image: props.image,
      command: ['node', `--max-semi-space-size=${RELAY_SEMI_SPACE_MIB}`, CLI_PATH, 'relay'],
      ports: [{ name: 'http', number: this.port }],
      securityContext: restrictedContainerSecurityContext(runAsUser),
      resources: containerResources(
        props.resources ?? {
          cpuRequestMillicores: 50,
          memoryRequest: Size.mebibytes(96),
          cpuLimitMillicores: 500,
          memoryLimit: Size.mebibytes(256),
        },
        'resources',
      ),
      readiness: probe(readiness),
      liveness: probe(liveness),
      envVariables: {
        HOST: kplus.EnvValue.fromValue('0.0.0.0'),
        PORT: kplus.EnvValue.fromValue(String(this.port)),
        LOG_LEVEL: kplus.EnvValue.fromValue(props.logLevel ?? 'info'),
        GITHUB_REPOSITORY: kplus.EnvValue.fromValue(props.githubRepository),
        RELAY_MODEL_NAME: kplus.EnvValue.fromValue(props.modelName ?? APP_NAME),
        RELAY_ALIAS_ENVIRONMENTS: kplus.EnvValue.fromValue(
          Object.keys(aliasEnvironments)
            .sort()
            .map((alias) => `${alias}=${aliasEnvironments[alias]}`)
            .join(','),
        ),
        MLFLOW_WEBHOOK_SECRET: kplus.EnvValue.fromSecretValue({ secret, key: 'MLFLOW_WEBHOOK_SECRET' }),
        GITHUB_TOKEN: kplus.EnvValue.fromSecretValue({ secret, key: 'GITHUB_TOKEN' }),
      },
    });
    container.mount('/tmp', tmp);

    this.service = new kplus.Service(this, 'Service', {
      metadata,
      type: kplus.ServiceType.CLUSTER_IP,
      selector: pods,
      ports: [{ name: 'http', port: this.port, targetPort: this.port, protocol: kplus.Protocol.TCP }],
    });
    ApiObject.of(this.service).addJsonPatch(JsonPatch.remove('/spec/externalIPs'));

    this.networkPolicy = workloadNetworkPolicy(this, {
      metadata,
      pods,
      port: this.port,
      fromOwnNamespace: false,
      fromNamespaces: [...senders, props.monitoringNamespace ?? 'monitoring'],
      fromIpBlocks: (props.ingressCidrs ?? []).map((cidr) => ({ cidr })),
      dnsNamespace: props.dnsNamespace ?? 'kube-system',
      egress: [{ to: { ipBlock: { cidr: '0.0.0.0/0' } }, tcpPort: 443 }],
    });

    this.serviceMonitor = workloadServiceMonitor(this, {
      name: this.name,
      namespace: this.namespace,
      labels: { ...labels, ...(props.serviceMonitorLabels ?? { release: 'prometheus' }) },
      selectorLabels: this.selectorLabels,
      scrapeInterval: props.scrapeInterval ?? Duration.seconds(30),
    });

    if (props.ingress) {
      const backend = { service: { name: this.name, port: { name: 'http' } } };
      this.ingress = new k8s.KubeIngress(this, 'Ingress', {
        metadata: { ...metadata, annotations: { ...props.ingress.annotations } },
        spec: {
          ingressClassName: props.ingress.className ?? 'nginx',
          tls: [
            { hosts: [props.ingress.host], secretName: props.ingress.tlsSecretName ?? `${this.name}-tls` },
          ],
          rules: [
            {
              host: props.ingress.host,
              http: {
                // Exact paths: /metrics and anything else the relay may serve stay unreachable from outside.
                paths: [RELAY_WEBHOOK_PATH, RELAY_HEALTH_PATH].map((path) => ({
                  path,
                  pathType: 'Exact',
                  backend,
                })),
              },
            },
          ],
        },
      });
    }
  }
}
