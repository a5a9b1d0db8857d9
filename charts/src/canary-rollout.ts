import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import {
  AnalysisTemplate,
  AnalysisTemplateSpecMetricsCount,
  AnalysisTemplateSpecMetricsFailureLimit,
  AnalysisTemplateSpecMetricsInconclusiveLimit,
} from '../../imports/argo-rollouts-analysistemplate-argoproj.io';
import {
  Rollout,
  RolloutProps,
  RolloutSpecStrategyCanaryMaxSurge,
  RolloutSpecStrategyCanaryMaxUnavailable,
  RolloutSpecStrategyCanarySteps,
  RolloutSpecStrategyCanaryStepsPauseDuration,
} from '../../imports/argo-rollouts-rollout-argoproj.io';
import type { ResolvedCanary } from './delivery';
import {
  CANARY_HASH_ARG,
  canaryAnalysisMetrics,
  POD_TEMPLATE_HASH_LABEL,
  STABLE_HASH_ARG,
} from './monitoring/canary-analysis';

/** Props of {@link CanaryRollout}. */
export interface CanaryRolloutProps {
  /** The canary settings (steps, analysis), defaults filled in and validated. */
  readonly canary: ResolvedCanary;
  /** The Deployment whose pod template, metadata and rolling-update limits the Rollout takes over. */
  readonly deployment: kplus.Deployment;
  /** Name of the workload and prefix of every object's name (`<name>-stable`, `<name>-canary`, …). */
  readonly name: string;
  /** Namespace of every object. */
  readonly namespace: string;
  /** Labels on every object. */
  readonly labels: Readonly<Record<string, string>>;
  /** The pods' selector labels (the Rollout's selector; the Services add Argo Rollouts' hash to them). */
  readonly selectorLabels: Readonly<Record<string, string>>;
  /** Port of the stable and canary Services (the main Service's port). */
  readonly servicePort: number;
  /** The container port, named `http`. */
  readonly containerPort: number;
  /** The `job` label of the service's scraped series (the main Service's name). */
  readonly jobName: string;
  /** The route whose latency is judged. */
  readonly predictRoute: string;
  /**
   * The model version `model-gitops smoke` expects; no smoke Job without it (a model baked into the image).
   * @default - no smoke Job
   */
  readonly smokeExpectVersion?: string;
  /** The pipeline CLI inside the image, run by the smoke Job. */
  readonly cliPath: string;
  /** uid and gid of the smoke Job's container. */
  readonly runAsUser: number;
  /**
   * `replicas` of the Rollout when no HPA owns the count.
   * @default - no replicas field (an HPA owns the count)
   */
  readonly replicas?: number;
}

/**
 * Progressive delivery of the inference pods with Argo Rollouts: a `Rollout` with the Deployment's pod template and
 * a canary strategy (replica-count traffic splitting: no mesh or ingress integration needed), a `-stable` and a
 * `-canary` Service whose selectors Argo Rollouts pins to each ReplicaSet's hash, an AnalysisTemplate judging the
 * canary on live Prometheus metrics, and one running `model-gitops smoke` as a Job against the canary Service.
 * The Deployment stays in the construct tree only as the source of the pod template; the caller removes it from
 * the output (see {@link InferenceService}).
 */
export class CanaryRollout extends Construct {
  /** The Rollout. */
  public readonly rollout: Rollout;
  /** Service selecting the stable ReplicaSet's pods only. */
  public readonly stableService: kplus.Service;
  /** Service selecting the canary ReplicaSet's pods only (the smoke Job's target). */
  public readonly canaryService: kplus.Service;
  /** The metric analysis (error ratio, p99 latency, prediction mix). */
  public readonly metricsAnalysis: AnalysisTemplate;
  /** The smoke Job analysis, when the model has a pinned version. */
  public readonly smokeAnalysis?: AnalysisTemplate;

  constructor(scope: Construct, id: string, props: CanaryRolloutProps) {
    super(scope, id);
    const c = props.canary;
    const deployment = ApiObject.of(props.deployment).toJson() as {
      metadata: { annotations?: Record<string, string> };
      spec: {
        template: {
          spec: {
            containers: Array<{ image: string; imagePullPolicy?: string }>;
            serviceAccountName?: string;
          };
        };
        // cdk8s-plus always emits a strategy (RollingUpdate unless told otherwise); only Recreate has no rollingUpdate.
        strategy: { rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string } };
      };
    };
    const meta = (name: string) => ({ name, namespace: props.namespace, labels: { ...props.labels } });
    const names = {
      stable: `${props.name}-stable`,
      canary: `${props.name}-canary`,
      metrics: `${props.name}-canary-metrics`,
      smoke: `${props.name}-canary-smoke`,
    };

    // Their own `app.kubernetes.io/name`: the ServiceMonitor selects the main Service by that label, and selecting
    // these too would scrape every pod three times.
    const service = (serviceId: string, name: string, role: string) =>
      new kplus.Service(this, serviceId, {
        metadata: {
          ...meta(name),
          labels: { ...props.labels, 'app.kubernetes.io/name': name },
          annotations: {
            'model-gitops/role': `${role}: Argo Rollouts adds ${POD_TEMPLATE_HASH_LABEL} of the ${role} ReplicaSet to the selector`,
          },
        },
        type: kplus.ServiceType.CLUSTER_IP,
        selector: kplus.Pods.select(this, `${serviceId}Pods`, { labels: { ...props.selectorLabels } }),
        ports: [
          {
            name: 'http',
            port: props.servicePort,
            targetPort: props.containerPort,
            protocol: kplus.Protocol.TCP,
          },
        ],
      });
    this.stableService = service('StableService', names.stable, 'stable');
    this.canaryService = service('CanaryService', names.canary, 'canary');
    for (const s of [this.stableService, this.canaryService]) {
      ApiObject.of(s).addJsonPatch(JsonPatch.remove('/spec/externalIPs'));
    }

    const a = c.analysis;
    this.metricsAnalysis = new AnalysisTemplate(this, 'MetricsAnalysis', {
      metadata: meta(names.metrics),
      spec: {
        args: [{ name: CANARY_HASH_ARG }, { name: STABLE_HASH_ARG }],
        metrics: canaryAnalysisMetrics({
          jobName: props.jobName,
          predictRoute: props.predictRoute,
          windowSeconds: a.windowSeconds,
          minPredictions: a.minPredictions,
          maxErrorRatio: a.maxErrorRatio,
          maxLatencyP99Seconds: a.maxLatencyP99Seconds,
          maxPredictionMixDistance: a.maxPredictionMixDistance,
        }).map((m) => ({
          name: m.name,
          interval: `${a.intervalSeconds}s`,
          count: AnalysisTemplateSpecMetricsCount.fromNumber(a.count),
          failureLimit: AnalysisTemplateSpecMetricsFailureLimit.fromNumber(a.failureLimit),
          inconclusiveLimit: AnalysisTemplateSpecMetricsInconclusiveLimit.fromNumber(a.inconclusiveLimit),
          successCondition: m.successCondition,
          failureCondition: m.failureCondition,
          provider: { prometheus: { address: a.prometheusAddress, query: m.query } },
        })),
      },
    });

    const container = deployment.spec.template.spec.containers[0]!;
    if (c.smoke && props.smokeExpectVersion !== undefined) {
      // Not the service's selector labels: the Services, the PDB and the NetworkPolicy must not pick the Job's pod.
      const smokeLabels = {
        ...props.labels,
        'app.kubernetes.io/name': names.smoke,
        'app.kubernetes.io/component': 'canary-smoke',
      };
      const url = `http://${names.canary}.${props.namespace}.svc:${props.servicePort}`;
      this.smokeAnalysis = new AnalysisTemplate(this, 'SmokeAnalysis', {
        metadata: meta(names.smoke),
        spec: {
          metrics: [
            {
              name: 'smoke',
              // A Job metric succeeds when the Job completes and fails when it fails: no retry, one verdict.
              failureLimit: AnalysisTemplateSpecMetricsFailureLimit.fromNumber(0),
              provider: {
                job: {
                  metadata: { labels: smokeLabels },
                  spec: {
                    backoffLimit: 0,
                    activeDeadlineSeconds: 300,
                    ttlSecondsAfterFinished: 3600,
                    template: {
                      metadata: { labels: smokeLabels },
                      spec: {
                        restartPolicy: 'Never',
                        volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
                        serviceAccountName: deployment.spec.template.spec.serviceAccountName,
                        automountServiceAccountToken: false,
                        securityContext: {
                          runAsNonRoot: true,
                          runAsUser: props.runAsUser,
                          runAsGroup: props.runAsUser,
                          seccompProfile: { type: 'RuntimeDefault' },
                        },
                        containers: [
                          {
                            name: 'smoke',
                            image: container.image,
                            imagePullPolicy: container.imagePullPolicy,
                            command: ['node', props.cliPath, 'smoke'],
                            args: ['--url', url, '--expect-version', props.smokeExpectVersion],
                            resources: {
                              requests: { cpu: '100m', memory: '128Mi' },
                              limits: { cpu: '1', memory: '256Mi' },
                            },
                            volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
                            securityContext: {
                              allowPrivilegeEscalation: false,
                              privileged: false,
                              readOnlyRootFilesystem: true,
                              runAsNonRoot: true,
                              capabilities: { drop: ['ALL'] },
                            },
                          },
                        ],
                      },
                    },
                  },
                },
              },
            },
          ],
        },
      });
    }

    const hashArgs = [
      { name: CANARY_HASH_ARG, valueFrom: { podTemplateHashValue: 'Latest' } },
      { name: STABLE_HASH_ARG, valueFrom: { podTemplateHashValue: 'Stable' } },
    ];
    const steps: RolloutSpecStrategyCanarySteps[] = [];
    let smokeAdded = false;
    for (const step of c.steps) {
      if ('setWeight' in step) {
        steps.push({ setWeight: step.setWeight });
        // Pre-promotion: the smoke Job checks the first canary pods before any analysis or pause lets more in.
        if (this.smokeAnalysis && !smokeAdded) {
          steps.push({ analysis: { templates: [{ templateName: names.smoke }] } });
          smokeAdded = true;
        }
      } else if ('pause' in step) {
        steps.push({
          pause: { duration: RolloutSpecStrategyCanaryStepsPauseDuration.fromNumber(step.pause.seconds!) },
        });
      } else {
        steps.push({ analysis: { templates: [{ templateName: names.metrics }], args: hashArgs } });
      }
    }

    const rolling = deployment.spec.strategy.rollingUpdate ?? {};
    this.rollout = new RolloutFromDeployment(this, 'Resource', props.deployment, {
      metadata: { ...meta(props.name), annotations: { ...deployment.metadata.annotations } },
      spec: {
        replicas: props.replicas,
        revisionHistoryLimit: 10,
        progressDeadlineSeconds: c.progressDeadlineSeconds,
        // A canary that cannot become ready aborts instead of waiting forever; the abort is what CI reverts in git.
        progressDeadlineAbort: true,
        selector: { matchLabels: { ...props.selectorLabels } },
        strategy: {
          canary: {
            stableService: names.stable,
            canaryService: names.canary,
            maxSurge: surge(RolloutSpecStrategyCanaryMaxSurge, rolling.maxSurge ?? 1),
            maxUnavailable: surge(RolloutSpecStrategyCanaryMaxUnavailable, rolling.maxUnavailable ?? 0),
            steps,
          },
        },
      },
    });
  }
}

/**
 * A Rollout whose pod template is the Deployment's, unchanged (probes, hardening, init container, anti-affinity,
 * spread), read when the Rollout is synthesized, so everything added to the Deployment after this construct is
 * included too (cdk8s-plus fills some fields, such as probe ports, only at synthesis).
 */
class RolloutFromDeployment extends Rollout {
  constructor(
    scope: Construct,
    id: string,
    private readonly deployment: kplus.Deployment,
    props: RolloutProps,
  ) {
    super(scope, id, props);
  }

  public override toJson(): Record<string, unknown> {
    const json = super.toJson() as { spec: Record<string, unknown> };
    const template = (ApiObject.of(this.deployment).toJson() as { spec: { template: unknown } }).spec
      .template;
    return { ...json, spec: { ...json.spec, template } };
  }
}

function surge<T>(cls: { fromNumber(n: number): T; fromString(s: string): T }, value: number | string): T {
  return typeof value === 'number' ? cls.fromNumber(value) : cls.fromString(value);
}
