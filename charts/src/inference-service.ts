import { createHash } from 'node:crypto';
import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { ServiceMonitor } from '../../imports/prometheus-servicemonitor-monitoring.coreos.com';
import { CanaryRollout } from './canary-rollout';
import { validateImage } from './config/image-reference';
import { APP_NAME, DNS_LABEL } from './config/names';
import { containerResources, httpProbe, ProbeTiming, sizeLimit, wholeSeconds } from './container-settings';
import { Delivery } from './delivery';
import { POD_TEMPLATE_HASH_LABEL } from './monitoring/canary-analysis';
import { ModelSource } from './model-source';
import { EgressRule, workloadNetworkPolicy } from './network-policy';
import {
  DEFAULT_RUN_AS_USER,
  RESTRICTED_NAMESPACE_LABELS,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
} from './pod-hardening';
import { ContainerResourceAmounts } from './resource-amounts';
import { Scaling } from './scaling';
import { ServiceExposure } from './service-exposure';
import { workloadServiceMonitor } from './service-monitor';

/** Props of {@link InferenceService}. */
export interface InferenceServiceProps {
  /** Container image, `repository:tag`, `repository@sha256:…` or both (the digest pins it). */
  readonly image: string;
  /** Where the model comes from: the pinned registry version or the default model baked into the image. */
  readonly modelSource: ModelSource;
  /**
   * When the kubelet pulls the image. `IfNotPresent` suits a laptop cluster whose image was side-loaded
   * (`kind load docker-image`); the Deployment then records kube-score's exemption with the reason.
   * @default kplus.ImagePullPolicy.ALWAYS
   */
  readonly imagePullPolicy?: kplus.ImagePullPolicy;
  /**
   * Name of every object and value of the `app.kubernetes.io/name` label (the selector: changing it is breaking).
   * @default 'cats-dogs-classifier'
   */
  readonly name?: string;
  /**
   * Namespace of every object; the construct also emits the Namespace, enforcing the "restricted" profile.
   * @default 'cats-dogs-classifier'
   */
  readonly namespace?: string;
  /**
   * Who owns the replica count.
   * @default Scaling.autoscaled()
   */
  readonly scaling?: Scaling;
  /**
   * How the Service is exposed.
   * @default ServiceExposure.clusterIp()
   */
  readonly exposure?: ServiceExposure;
  /**
   * Container port, named `http`.
   * @default 8000
   */
  readonly containerPort?: number;
  /**
   * LOG_LEVEL of the service.
   * @default 'info'
   */
  readonly logLevel?: string;
  /**
   * Further runtime settings for the ConfigMap (thread, worker and queue settings of the service), UPPER_SNAKE
   * keys; they override nothing the construct sets itself.
   * @default - none
   */
  readonly settings?: Readonly<Record<string, string>>;
  /**
   * Service container requests and limits.
   * @default { cpuRequestMillicores: 500, memoryRequest: Size.mebibytes(512), cpuLimitMillicores: 2000, memoryLimit: Size.gibibytes(2) }
   */
  readonly resources?: ContainerResourceAmounts;
  /**
   * Model-fetch init container requests and limits (a registry model only).
   * @default { cpuRequestMillicores: 100, memoryRequest: Size.mebibytes(128), cpuLimitMillicores: 1000, memoryLimit: Size.mebibytes(512) }
   */
  readonly initResources?: ContainerResourceAmounts;
  /**
   * Size limit of the emptyDir holding the fetched model (a registry model only), whole MiB.
   * @default Size.gibibytes(1)
   */
  readonly modelVolumeSizeLimit?: Size;
  /**
   * Size limit of the emptyDir mounted at /tmp, whole MiB.
   * @default Size.mebibytes(64)
   */
  readonly tmpVolumeSizeLimit?: Size;
  /**
   * Startup probe GET /health; each field given replaces its default.
   * @default { periodSeconds: 5 s, failureThreshold: 30, timeoutSeconds: 3 s } (150 s to load a model)
   */
  readonly startupProbe?: ProbeTiming;
  /**
   * Liveness probe GET /health; each field given replaces its default.
   * @default { initialDelaySeconds: 30 s, periodSeconds: 10 s, timeoutSeconds: 5 s, failureThreshold: 3 }
   */
  readonly livenessProbe?: ProbeTiming;
  /**
   * Readiness probe GET /ready; each field given replaces its default.
   * @default { initialDelaySeconds: 10 s, periodSeconds: 5 s, timeoutSeconds: 3 s, failureThreshold: 2 }
   */
  readonly readinessProbe?: ProbeTiming;
  /**
   * Health probes of MLflow the model-fetch init container makes before it gives up (and the kubelet restarts it).
   * @default 30
   */
  readonly modelFetchWaitAttempts?: number;
  /**
   * Pause between those probes (`--wait-interval-ms`).
   * @default Duration.seconds(2)
   */
  readonly modelFetchWaitInterval?: Duration;
  /**
   * How a new pod template reaches the users: a Deployment's rolling update, or an Argo Rollouts canary judged by
   * live metrics (needs the Argo Rollouts controller in the cluster).
   * @default Delivery.rolling()
   */
  readonly delivery?: Delivery;
  /**
   * Pods a rolling update may add above the desired count.
   * @default 1
   */
  readonly maxSurge?: number;
  /**
   * Pods a rolling update may take away below the desired count (0: never serve with fewer ready pods).
   * @default 0
   */
  readonly maxUnavailable?: number;
  /**
   * Grace period between SIGTERM and SIGKILL (`terminationGracePeriodSeconds`), whole seconds.
   * @default Duration.seconds(30)
   */
  readonly terminationGracePeriod?: Duration;
  /**
   * How long the service keeps serving after SIGTERM while /ready fails (DRAIN_DELAY_MS), so no proxy still sends
   * to a closed listener. Kubernetes takes a terminating pod out of its EndpointSlices at once (kube-proxy and
   * ingress-nginx follow within a few seconds), but a proxy that only follows the readiness probe needs
   * periodSeconds × failureThreshold of the readiness probe; the default covers both.
   * @default - readinessProbe periodSeconds × failureThreshold (10 s)
   */
  readonly drainDelay?: Duration;
  /**
   * How long the service waits for in-flight requests after the drain before it exits (SHUTDOWN_TIMEOUT_MS); more
   * than the service's REQUEST_TIMEOUT_MS (10 s) lets every admitted request finish. Drain delay plus this must
   * stay below terminationGracePeriod, or the kubelet kills requests still in flight.
   * @default Duration.seconds(15)
   */
  readonly shutdownTimeout?: Duration;
  /**
   * The PodDisruptionBudget's `unhealthyPodEvictionPolicy` (when autoscaled). `AlwaysAllow` lets a drain evict a pod
   * that runs but is not ready (crash-looping, or stuck waiting for MLflow) even when the budget is not met, so a
   * broken pod never blocks a node drain; `IfHealthyBudget` protects such pods like healthy ones.
   * @default 'AlwaysAllow'
   */
  readonly unhealthyPodEvictionPolicy?: 'AlwaysAllow' | 'IfHealthyBudget';
  /**
   * Namespaces whose pods may call the service port (besides the service's own namespace and `monitoringNamespace`).
   * @default ['ingress-nginx']
   */
  readonly ingressNamespaces?: readonly string[];
  /**
   * IPv4 CIDRs of the cluster's pods, cut out (`except`) of every `ipBlock` the NetworkPolicy admits for a
   * LoadBalancer's or NodePort's external clients, so that on a network plugin that matches pod addresses against
   * `ipBlock` (Calico does) a pod of another namespace does not pass as an external client.
   * @default - none
   */
  readonly podCidrs?: readonly string[];
  /**
   * Namespace of Prometheus, admitted to scrape the service port.
   * @default 'monitoring'
   */
  readonly monitoringNamespace?: string;
  /**
   * Namespace of the cluster DNS, the only egress besides MLflow.
   * @default 'kube-system'
   */
  readonly dnsNamespace?: string;
  /**
   * Scrape interval of the ServiceMonitor, whole seconds.
   * @default Duration.seconds(30)
   */
  readonly scrapeInterval?: Duration;
  /**
   * Labels of the ServiceMonitor, matched by the Prometheus Operator's serviceMonitorSelector.
   * @default { release: 'prometheus' }
   */
  readonly serviceMonitorLabels?: Readonly<Record<string, string>>;
  /**
   * Weight of the preferred pod anti-affinity on `kubernetes.io/hostname`.
   * @default 100
   */
  readonly antiAffinityWeight?: number;
  /**
   * maxSkew of the topology spread over `topology.kubernetes.io/zone` (ScheduleAnyway).
   * @default 1
   */
  readonly zoneMaxSkew?: number;
}

/** Mount point of the model volume; model-fetch writes `<MODEL_MOUNT>/current`. */
const MODEL_MOUNT = '/models';
/** Path of the pipeline CLI inside the image (workdir /app). */
export const CLI_PATH = '/app/build/pipeline/src/cli.js';
/** Path of the service entry point inside the image. */
export const SERVER_PATH = '/app/build/service/src/server.js';
/**
 * The service's Node options, before its script (`SERVICE_NODE_ARGS` in service/src/config.ts says why; a test
 * keeps the two equal): V8's young generation capped at 1 MiB semi-spaces and its old generation grown 2x
 * after each full GC, for a peak RSS under load ~55-60 MiB lower.
 */
export const SERVICE_NODE_ARGS: readonly string[] = ['--max-semi-space-size=1', '--heap-growing-percent=100'];
/** Pod-template annotation carrying the sha256 of the ConfigMap data, so a config change rolls the pods. */
export const CONFIG_HASH_ANNOTATION = 'checksum/config';

/**
 * The image-classification service with everything it needs on a cluster: Namespace, ServiceAccount, ConfigMap,
 * Deployment (hardened, probes, model-fetch init container), Service, HPA + PDB (when autoscaled), NetworkPolicy and
 * ServiceMonitor. Every object gets an explicit name.
 */
export class InferenceService extends Construct {
  /** Name of every object and the `app.kubernetes.io/name` label. */
  public readonly name: string;
  /** Namespace of every object. */
  public readonly namespace: string;
  /** The selector labels of the pods. */
  public readonly selectorLabels: Readonly<Record<string, string>>;
  /** Labels on every object. */
  public readonly labels: Readonly<Record<string, string>>;
  /** The container port, named `http`. */
  public readonly containerPort: number;
  /** The model source. */
  public readonly modelSource: ModelSource;
  /** Who owns the replica count. */
  public readonly scaling: Scaling;
  /** How the Service is exposed. */
  public readonly exposure: ServiceExposure;
  /**
   * ConfigMap data: the environment's runtime settings, shared by every ReplicaSet of the service. Its hash is on the
   * pod template, so a change of a setting rolls the pods.
   */
  public readonly config: Readonly<Record<string, string>>;
  /**
   * The pin of a registry model (`MODEL_NAME`, `MODEL_VERSION`, `MODEL_SHA256`, `MODEL_FILES`; none for a baked
   * model), literal `env` of the inference container rather than ConfigMap keys. Each ReplicaSet thus carries the pin
   * of the files its own init container fetches: after a promotion, a new pod of an older ReplicaSet (an HPA
   * scale-out, an eviction, the stable pods an aborted canary scales back up) still starts.
   */
  public readonly modelEnv: Readonly<Record<string, string>>;
  /** The Namespace. */
  public readonly namespaceObject: kplus.Namespace;
  /** Selects the service's pods by {@link selectorLabels}. */
  public readonly pods: kplus.Pods;
  /**
   * The Deployment. With canary delivery it is only the source of the Rollout's pod template and is not synthesized.
   */
  public readonly deployment: kplus.Deployment;
  /** How new pod templates are delivered. */
  public readonly delivery: Delivery;
  /** The Argo Rollouts objects, with canary delivery. */
  public readonly canary?: CanaryRollout;
  /** The Service. */
  public readonly service: kplus.Service;
  /** The NetworkPolicy. */
  public readonly networkPolicy: kplus.NetworkPolicy;
  /** The ServiceMonitor. */
  public readonly serviceMonitor: ServiceMonitor;
  /** The HPA, when autoscaled. */
  public readonly autoscaler?: kplus.HorizontalPodAutoscaler;
  /** The PodDisruptionBudget, when autoscaled. */
  public readonly podDisruptionBudget?: k8s.KubePodDisruptionBudget;

  constructor(scope: Construct, id: string, props: InferenceServiceProps) {
    super(scope, id);
    this.name = props.name ?? APP_NAME;
    this.namespace = props.namespace ?? APP_NAME;
    this.containerPort = props.containerPort ?? 8000;
    this.modelSource = props.modelSource;
    this.scaling = props.scaling ?? Scaling.autoscaled();
    this.exposure = props.exposure ?? ServiceExposure.clusterIp();
    this.delivery = props.delivery ?? Delivery.rolling();
    const runAsUser = DEFAULT_RUN_AS_USER;
    const imagePullPolicy = props.imagePullPolicy ?? kplus.ImagePullPolicy.ALWAYS;
    const resources = props.resources ?? {
      cpuRequestMillicores: 500,
      memoryRequest: Size.mebibytes(512),
      cpuLimitMillicores: 2000,
      memoryLimit: Size.gibibytes(2),
    };
    const initResources = props.initResources ?? {
      cpuRequestMillicores: 100,
      memoryRequest: Size.mebibytes(128),
      cpuLimitMillicores: 1000,
      memoryLimit: Size.mebibytes(512),
    };
    const startup: ProbeTiming = {
      periodSeconds: Duration.seconds(5),
      failureThreshold: 30,
      timeoutSeconds: Duration.seconds(3),
      ...props.startupProbe,
    };
    const liveness: ProbeTiming = {
      initialDelaySeconds: Duration.seconds(30),
      periodSeconds: Duration.seconds(10),
      timeoutSeconds: Duration.seconds(5),
      failureThreshold: 3,
      ...props.livenessProbe,
    };
    const readiness = {
      initialDelaySeconds: Duration.seconds(10),
      periodSeconds: Duration.seconds(5),
      timeoutSeconds: Duration.seconds(3),
      failureThreshold: 2,
      ...props.readinessProbe,
    };

    const gracePeriod = wholeSeconds(
      props.terminationGracePeriod ?? Duration.seconds(30),
      'terminationGracePeriod',
    );
    const drainDelayMs = (
      props.drainDelay ??
      Duration.seconds(
        wholeSeconds(readiness.periodSeconds, 'readinessProbe.periodSeconds') * readiness.failureThreshold,
      )
    ).toMilliseconds({ integral: false });
    const shutdownTimeoutMs = (props.shutdownTimeout ?? Duration.seconds(15)).toMilliseconds({
      integral: false,
    });

    validateImage(props.image);
    validateName('name', this.name);
    validateName('namespace', this.namespace);
    this.exposure.validate(props.podCidrs ?? []);
    if (this.exposure.tlsPort !== undefined && this.exposure.tlsPort === this.exposure.port) {
      throw new Error(
        `'tlsPort' (${this.exposure.tlsPort}) must differ from the Service 'port' (${this.exposure.port}): use 443 for TLS.`,
      );
    }
    if ((props.maxSurge ?? 1) === 0 && (props.maxUnavailable ?? 0) === 0) {
      throw new Error(
        "'maxSurge' and 'maxUnavailable' are both 0: a rollout could never progress; raise maxSurge to 1.",
      );
    }
    for (const [prop, ms] of [
      ['drainDelay', drainDelayMs],
      ['shutdownTimeout', shutdownTimeoutMs],
    ] as const) {
      // Not negative: cdk8s' Duration refuses negative amounts itself.
      if (!Number.isInteger(ms)) {
        throw new Error(`'${prop}' (${ms} ms) must be a whole number of milliseconds.`);
      }
    }
    if (drainDelayMs + shutdownTimeoutMs >= gracePeriod * 1000) {
      throw new Error(
        `'drainDelay' (${drainDelayMs / 1000} s) + 'shutdownTimeout' (${shutdownTimeoutMs / 1000} s) must be ` +
          `< 'terminationGracePeriod' (${gracePeriod} s), or the kubelet kills requests ` +
          'still in flight: lower one of them or raise terminationGracePeriod.',
      );
    }
    if (!Number.isInteger(this.containerPort) || this.containerPort < 1 || this.containerPort > 65535) {
      throw new Error(`'containerPort' (${this.containerPort}) must be an integer port 1–65535.`);
    }

    this.selectorLabels = { 'app.kubernetes.io/name': this.name };
    this.labels = {
      ...this.selectorLabels,
      'app.kubernetes.io/component': 'inference',
      'app.kubernetes.io/part-of': 'model-gitops',
      'app.kubernetes.io/managed-by': 'cdk8s',
    };
    const meta = (extra: Partial<{ annotations: Record<string, string> }> = {}) => ({
      name: this.name,
      namespace: this.namespace,
      labels: { ...this.labels },
      ...extra,
    });

    this.namespaceObject = new kplus.Namespace(this, 'Namespace', {
      metadata: { name: this.namespace, labels: { ...RESTRICTED_NAMESPACE_LABELS } },
    });
    ApiObject.of(this.namespaceObject).addJsonPatch(JsonPatch.remove('/spec'));

    const serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: meta(),
      automountToken: false,
    });

    this.modelEnv = this.buildModelEnv();
    this.config = this.buildConfig(props.settings ?? {}, {
      LOG_LEVEL: props.logLevel ?? 'info',
      DRAIN_DELAY_MS: String(drainDelayMs),
      SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
    });
    const configMap = new kplus.ConfigMap(this, 'ConfigMap', { metadata: meta(), data: { ...this.config } });

    const autoscaled = this.scaling.autoscaling !== undefined;
    this.deployment = new kplus.Deployment(this, 'Resource', {
      metadata: meta(exemptions(autoscaled, imagePullPolicy)),
      replicas: this.scaling.replicas,
      select: false,
      podMetadata: {
        labels: { ...this.labels },
        annotations: { [CONFIG_HASH_ANNOTATION]: configHash(this.config) },
      },
      serviceAccount,
      automountServiceAccountToken: false,
      isolate: false,
      securityContext: restrictedPodSecurityContext(runAsUser),
      terminationGracePeriod: Duration.seconds(gracePeriod),
      strategy: kplus.DeploymentStrategy.rollingUpdate({
        maxSurge: kplus.PercentOrAbsolute.absolute(props.maxSurge ?? 1),
        maxUnavailable: kplus.PercentOrAbsolute.absolute(props.maxUnavailable ?? 0),
      }),
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: { ...this.selectorLabels } }));
    // cdk8s-plus always labels pods with their construct address; the explicit selector labels replace it, so the
    // selector does not depend on construct ids.
    ApiObject.of(this.deployment).addJsonPatch(
      JsonPatch.remove(`/spec/template/metadata/labels/${kplus.Pod.ADDRESS_LABEL.replace('/', '~1')}`),
    );
    this.pods = kplus.Pods.select(this, 'Pods', { labels: { ...this.selectorLabels } });

    const tmpVolume = kplus.Volume.fromEmptyDir(this, 'TmpVolume', 'tmp', {
      sizeLimit: sizeLimit(props.tmpVolumeSizeLimit ?? Size.mebibytes(64), 'tmpVolumeSizeLimit'),
    });

    const container = this.deployment.addContainer({
      name: 'inference',
      image: props.image,
      imagePullPolicy,
      command: ['node', ...SERVICE_NODE_ARGS, SERVER_PATH],
      ports: [{ name: 'http', number: this.containerPort }],
      securityContext: restrictedContainerSecurityContext(runAsUser),
      resources: containerResources(resources, 'resources'),
      startup: httpProbe('/health', this.containerPort, startup),
      liveness: httpProbe('/health', this.containerPort, liveness),
      readiness: httpProbe('/ready', this.containerPort, readiness),
    });
    container.env.copyFrom(kplus.Env.fromConfigMap(configMap));
    // In the pod template, not the shared ConfigMap: see modelEnv.
    for (const [name, value] of Object.entries(this.modelEnv)) {
      container.env.addVariable(name, kplus.EnvValue.fromValue(value));
    }
    container.mount('/tmp', tmpVolume);

    if (this.modelSource.kind === 'registry') {
      const { pin, mlflow } = this.modelSource;
      const modelVolume = kplus.Volume.fromEmptyDir(this, 'ModelVolume', 'model', {
        sizeLimit: sizeLimit(props.modelVolumeSizeLimit ?? Size.gibibytes(1), 'modelVolumeSizeLimit'),
      });
      container.mount(MODEL_MOUNT, modelVolume, { readOnly: true });
      const credentials = kplus.Secret.fromSecretName(
        this,
        'MlflowCredentials',
        mlflow.credentialsSecretName,
      );
      const init = this.deployment.addInitContainer({
        name: 'model-fetch',
        image: props.image,
        imagePullPolicy,
        command: ['node', CLI_PATH, 'model-fetch'],
        args: [
          ...['--name', pin.name, '--version', pin.version],
          // Every file the service reads, with its digest: model-fetch downloads exactly these and verifies them.
          ...Object.entries(pin.files).flatMap(([file, sha]) => ['--file', `${file}=${sha}`]),
          ...['--dest', `${MODEL_MOUNT}/current`],
          ...['--wait-attempts', String(props.modelFetchWaitAttempts ?? 30)],
          ...[
            '--wait-interval-ms',
            String(waitIntervalMs(props.modelFetchWaitInterval ?? Duration.seconds(2))),
          ],
        ],
        securityContext: restrictedContainerSecurityContext(runAsUser),
        resources: containerResources(initResources, 'initResources'),
        envVariables: {
          MLFLOW_TRACKING_URI: kplus.EnvValue.fromConfigMap(configMap, 'MLFLOW_TRACKING_URI'),
          ...Object.fromEntries(
            ['MLFLOW_TRACKING_TOKEN', 'MLFLOW_TRACKING_USERNAME', 'MLFLOW_TRACKING_PASSWORD'].map((key) => [
              key,
              kplus.EnvValue.fromSecretValue({ secret: credentials, key }, { optional: true }),
            ]),
          ),
        },
      });
      init.mount(MODEL_MOUNT, modelVolume);
      init.mount('/tmp', tmpVolume);
    }

    this.deployment.scheduling.separate(this.pods, {
      topology: kplus.Topology.HOSTNAME,
      weight: props.antiAffinityWeight ?? 100,
    });
    ApiObject.of(this.deployment).addJsonPatch(
      JsonPatch.add('/spec/template/spec/topologySpreadConstraints', [
        {
          maxSkew: props.zoneMaxSkew ?? 1,
          topologyKey: 'topology.kubernetes.io/zone',
          whenUnsatisfiable: 'ScheduleAnyway',
          labelSelector: { matchLabels: { ...this.selectorLabels } },
        },
      ]),
    );

    this.service = new kplus.Service(this, 'Service', {
      metadata: { ...meta(), annotations: { ...this.exposure.annotations } },
      type: this.exposure.type,
      loadBalancerSourceRanges: this.exposure.loadBalancerSourceRanges && [
        ...this.exposure.loadBalancerSourceRanges,
      ],
      selector: this.pods,
      ports: [
        {
          name: 'http',
          port: this.exposure.port,
          targetPort: this.containerPort,
          nodePort: this.exposure.nodePort,
          protocol: kplus.Protocol.TCP,
        },
        ...(this.exposure.tlsPort !== undefined
          ? [
              {
                name: 'https',
                port: this.exposure.tlsPort,
                targetPort: this.containerPort,
                protocol: kplus.Protocol.TCP,
              },
            ]
          : []),
      ],
    });

    // `externalIPs: []` is noise in a reviewed diff and in Argo CD's comparison.
    ApiObject.of(this.service).addJsonPatch(JsonPatch.remove('/spec/externalIPs'));
    if (this.exposure.externalTrafficPolicy) {
      // A Kubernetes 1.28 field that cdk8s-plus-28's Service does not expose.
      ApiObject.of(this.service).addJsonPatch(
        JsonPatch.add('/spec/externalTrafficPolicy', this.exposure.externalTrafficPolicy),
      );
    }

    this.networkPolicy = workloadNetworkPolicy(this, {
      metadata: meta(),
      pods: this.pods,
      port: this.containerPort,
      fromOwnNamespace: true,
      fromNamespaces: [
        ...(props.ingressNamespaces ?? ['ingress-nginx']),
        props.monitoringNamespace ?? 'monitoring',
      ],
      // The Service's external clients (or, with externalTrafficPolicy Cluster, the nodes): see ServiceExposure.
      fromIpBlocks: this.exposure.networkPolicySources(props.podCidrs ?? []),
      dnsNamespace: props.dnsNamespace ?? 'kube-system',
      egress: this.mlflowEgress(),
    });

    this.serviceMonitor = workloadServiceMonitor(this, {
      name: this.name,
      namespace: this.namespace,
      labels: { ...this.labels, ...(props.serviceMonitorLabels ?? { release: 'prometheus' }) },
      selectorLabels: this.selectorLabels,
      scrapeInterval: props.scrapeInterval ?? Duration.seconds(30),
    });

    const a = this.scaling.autoscaling;
    if (a) {
      this.autoscaler = new kplus.HorizontalPodAutoscaler(this, 'Autoscaler', {
        metadata: meta(),
        target: this.deployment,
        minReplicas: a.minReplicas,
        maxReplicas: a.maxReplicas,
        metrics: [
          kplus.Metric.resourceCpu(kplus.MetricTarget.averageUtilization(a.cpuUtilizationPercent)),
          kplus.Metric.resourceMemory(kplus.MetricTarget.averageUtilization(a.memoryUtilizationPercent)),
        ],
        scaleUp: {
          stabilizationWindow: Duration.seconds(0),
          strategy: kplus.ScalingStrategy.MAX_CHANGE,
          policies: [
            {
              replicas: kplus.Replicas.percent(a.scaleUpPercent),
              duration: a.scaleUpPeriod,
            },
            {
              replicas: kplus.Replicas.absolute(a.scaleUpPods),
              duration: a.scaleUpPeriod,
            },
          ],
        },
        scaleDown: {
          stabilizationWindow: a.scaleDownStabilizationWindow,
          strategy: kplus.ScalingStrategy.MAX_CHANGE,
          policies: [
            {
              replicas: kplus.Replicas.percent(a.scaleDownPercent),
              duration: a.scaleDownPeriod,
            },
          ],
        },
      });
      this.podDisruptionBudget = new k8s.KubePodDisruptionBudget(this, 'DisruptionBudget', {
        metadata: meta(),
        spec: {
          minAvailable: k8s.IntOrString.fromNumber(a.minAvailable),
          unhealthyPodEvictionPolicy: props.unhealthyPodEvictionPolicy ?? 'AlwaysAllow',
          selector: { matchLabels: { ...this.selectorLabels } },
        },
      });
    }

    if (this.delivery.canary) {
      checkCanaryTiming(this.delivery.canary, {
        scrapeSeconds: wholeSeconds(props.scrapeInterval ?? Duration.seconds(30), 'scrapeInterval'),
        modelFetchWaitSeconds: Math.ceil(
          ((props.modelFetchWaitAttempts ?? 30) *
            waitIntervalMs(props.modelFetchWaitInterval ?? Duration.seconds(2))) /
            1000,
        ),
        // Kubernetes' own defaults where a probe override leaves them out: every 10 s, 3 failures.
        startupSeconds:
          wholeSeconds(startup.periodSeconds ?? Duration.seconds(10), 'startupProbe.periodSeconds') *
          (startup.failureThreshold ?? 3),
      });
      this.canary = this.deliverAsCanary(this.delivery.canary, runAsUser);
    }
  }

  /** Replaces the Deployment with an Argo Rollouts canary; the HPA and the ServiceMonitor follow it. */
  private deliverAsCanary(canary: NonNullable<Delivery['canary']>, runAsUser: number): CanaryRollout {
    const rollout = new CanaryRollout(this, 'Canary', {
      canary,
      deployment: this.deployment,
      name: this.name,
      namespace: this.namespace,
      labels: this.labels,
      selectorLabels: this.selectorLabels,
      servicePort: this.exposure.port,
      containerPort: this.containerPort,
      jobName: this.name,
      predictRoute: '/predict',
      smokeExpectVersion: this.modelSource.kind === 'registry' ? this.modelSource.pin.version : undefined,
      cliPath: CLI_PATH,
      runAsUser,
      replicas: this.scaling.replicas,
    });
    this.node.tryRemoveChild(this.deployment.node.id);
    if (this.autoscaler) {
      ApiObject.of(this.autoscaler).addJsonPatch(
        JsonPatch.replace('/spec/scaleTargetRef', {
          apiVersion: rollout.rollout.apiVersion,
          kind: rollout.rollout.kind,
          name: this.name,
        }),
      );
    }
    // Series carry the ReplicaSet's hash, so the analysis can tell canary pods from stable ones.
    this.serviceMonitor.addJsonPatch(JsonPatch.add('/spec/podTargetLabels', [POD_TEMPLATE_HASH_LABEL]));
    return rollout;
  }

  /** {@link modelEnv}: the pin model-fetch verifies the files against, which the service checks again. */
  private buildModelEnv(): Record<string, string> {
    if (this.modelSource.kind !== 'registry') return {};
    const { pin } = this.modelSource;
    return {
      MODEL_NAME: pin.name,
      MODEL_VERSION: pin.version,
      MODEL_SHA256: pin.sha256,
      // The service checks that it reads exactly these files, as model-fetch verified them.
      MODEL_FILES: Object.entries(pin.files)
        .map(([file, sha]) => `${file}=${sha}`)
        .join(','),
    };
  }

  /** {@link config}: the runtime settings; `settings` may not name a variable the construct sets itself. */
  private buildConfig(
    settings: Readonly<Record<string, string>>,
    runtime: Readonly<Record<string, string>>,
  ): Record<string, string> {
    const own: Record<string, string> = {
      HOST: '0.0.0.0',
      PORT: String(this.containerPort),
      ...runtime,
    };
    const source = this.modelSource;
    if (source.kind === 'registry') {
      const { selector, mlflow } = source;
      // Where model-fetch writes, whatever the version: a pod of an older ReplicaSet reads its own files there.
      own.MODEL_DIR = `${MODEL_MOUNT}/current`;
      own.MLFLOW_TRACKING_URI = mlflow.trackingUri;
      if ('alias' in selector) own.MODEL_ALIAS = selector.alias;
      if ('stage' in selector) own.MODEL_STAGE = selector.stage;
    } else {
      own.MODEL_DIR = source.modelDir;
    }
    for (const key of Object.keys(settings)) {
      if (!/^[A-Z][A-Z0-9_]*$/.test(key)) {
        throw new Error(`'settings' key '${key}' must be an UPPER_SNAKE environment variable name.`);
      }
      if (key in own || key in this.modelEnv) {
        throw new Error(`'settings' key '${key}' is set by the construct itself: remove it from settings.`);
      }
    }
    // Key order does not matter: cdk8s writes keys sorted and configHash sorts them.
    return { ...own, ...settings };
  }

  /** Egress to MLflow on its tracking URI's port, for a registry model: to its namespace, its CIDR, or both. */
  private mlflowEgress(): EgressRule[] {
    if (this.modelSource.kind !== 'registry') return [];
    const { namespace, cidr, port } = this.modelSource.mlflow;
    return [
      ...(namespace ? [{ to: { namespaces: [namespace] }, tcpPort: port }] : []),
      ...(cidr ? [{ to: { ipBlock: { cidr } }, tcpPort: port }] : []),
    ];
  }
}

/** Linter exemptions of the Deployment, each with the reason, as the linters' own annotations. */
function exemptions(
  autoscaled: boolean,
  imagePullPolicy: kplus.ImagePullPolicy,
): Partial<{ annotations: Record<string, string> }> {
  const annotations: Record<string, string> = {};
  const reasons: string[] = [];
  if (autoscaled) {
    annotations['polaris.fairwinds.com/deploymentMissingReplicas-exempt'] = 'true';
    reasons.push(
      'spec.replicas is omitted on purpose: the HorizontalPodAutoscaler owns the replica count, ' +
        'and a replicas field would make Argo CD and the HPA fight over it.',
    );
  }
  if (imagePullPolicy !== kplus.ImagePullPolicy.ALWAYS) {
    annotations['kube-score/ignore'] = 'container-image-pull-policy';
    reasons.push(
      `imagePullPolicy ${imagePullPolicy} on purpose: the image is side-loaded into a laptop cluster and is ` +
        'not in a registry the kubelet could pull from.',
    );
  }
  if (reasons.length === 0) return {};
  return { annotations: { ...annotations, 'model-gitops/exemption-reason': reasons.join(' ') } };
}

/** sha256 of the ConfigMap data (keys sorted), the value of {@link CONFIG_HASH_ANNOTATION}. */
export function configHash(data: Readonly<Record<string, string>>): string {
  const sorted = Object.fromEntries(
    Object.keys(data)
      .sort()
      .map((k) => [k, data[k]]),
  );
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex');
}

function validateName(prop: string, value: string): void {
  if (!DNS_LABEL.test(value)) {
    throw new Error(
      `'${prop}' '${value}' must be a DNS label: lower-case letters, digits and '-', at most 63.`,
    );
  }
}

/**
 * What a canary's settings must allow for, from the pod's own timing: a measurement's rate() window spans at
 * least two scrapes (one sample gives no rate, and every measurement would be inconclusive), and the progress
 * deadline is no shorter than a new pod may take to turn ready (model-fetch waiting for MLflow, then the
 * startup probe), or the canary aborts while its pods still load.
 */
function checkCanaryTiming(
  canary: NonNullable<Delivery['canary']>,
  pod: { scrapeSeconds: number; modelFetchWaitSeconds: number; startupSeconds: number },
): void {
  const window = canary.analysis.windowSeconds;
  if (window < 2 * pod.scrapeSeconds) {
    throw new Error(
      `'canary.analysis.windowSeconds' (${window}) must span two scrapes of the ServiceMonitor ` +
        `(2 × ${pod.scrapeSeconds} s): rate() needs two samples, so every measurement would be inconclusive ` +
        `and no canary could pass; raise it to at least ${2 * pod.scrapeSeconds}.`,
    );
  }
  const ready = pod.modelFetchWaitSeconds + pod.startupSeconds;
  if (canary.progressDeadlineSeconds < ready) {
    throw new Error(
      `'canary.progressDeadlineSeconds' (${canary.progressDeadlineSeconds}) is shorter than a new pod may take ` +
        `to turn ready (${ready} s: model-fetch waits up to ${pod.modelFetchWaitSeconds} s for MLflow, the startup ` +
        `probe allows ${pod.startupSeconds} s): the canary would abort while its pods load; raise it to at least ${ready}.`,
    );
  }
}

/** `--wait-interval-ms` of model-fetch: whole milliseconds ≥ 1. */
function waitIntervalMs(d: Duration): number {
  const ms = d.toMilliseconds({ integral: false });
  if (!Number.isInteger(ms) || ms < 1) {
    throw new Error(`'modelFetchWaitInterval' (${ms} ms) must be a whole number of milliseconds ≥ 1.`);
  }
  return ms;
}
