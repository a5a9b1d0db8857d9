import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { Delivery } from '../delivery';
import { validateImage } from '../inference-service';
import { cpuMillis, memoryMebibytes, quantityValue } from '../quantity';
import { Scaling } from '../scaling';
import { ExternalTrafficField, externalTrafficProblems } from '../service-exposure';
import { EvaluationPolicySchema } from './evaluation-policy';
import { ENVIRONMENTS, type EnvironmentName } from './model-pin';
import { APP_NAME } from './names';

const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a DNS label: lower-case letters, digits and '-'");
const port = z.number().int().min(1).max(65535);

/** Runs a thrower (the constructs' own validators) and reports its message as a zod issue. */
function check<T>(fn: (value: T) => unknown) {
  return (value: T, ctx: z.RefinementCtx) => {
    try {
      fn(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  };
}

const cpu = z.string().superRefine(check((v: string) => cpuMillis(v, 'CPU quantity')));
const memory = z.string().superRefine(check((v: string) => memoryMebibytes(v, 'memory quantity')));

const ResourcesSchema = z
  .strictObject({ cpuRequest: cpu, memoryRequest: memory, cpuLimit: cpu, memoryLimit: memory })
  .superRefine((r, ctx) => {
    // Malformed quantities are reported by their own fields; compare only what parsed.
    const pairs = [
      ['cpuRequest', 'cpuLimit'],
      ['memoryRequest', 'memoryLimit'],
    ] as const;
    for (const [request, limit] of pairs) {
      const req = quantityValue(r[request]);
      const lim = quantityValue(r[limit]);
      if (req !== undefined && lim !== undefined && req > lim) {
        ctx.addIssue({
          code: 'custom',
          path: [request],
          message: `${request} (${r[request]}) must be ≤ ${limit} (${r[limit]}): lower the request or raise the limit`,
        });
      }
    }
  });

const ModelSchema = z.discriminatedUnion('from', [
  z.strictObject({
    from: z.literal('registry'),
    alias: z.string().min(1).optional(),
    stage: z.enum(['Staging', 'Production']).optional(),
  }),
  z.strictObject({ from: z.literal('baked'), modelDir: z.string().startsWith('/').optional() }),
]);

const CanaryStepSchema = z.union([
  z.strictObject({ setWeight: z.number() }),
  z.strictObject({ pause: z.strictObject({ seconds: z.number().optional() }) }),
  z.strictObject({ analysis: z.strictObject({}) }),
]);

/** `canary:` of an environment with `delivery: canary`; omitted values take the defaults of `Delivery.canary`. */
const CanarySchema = z.strictObject({
  steps: z.array(CanaryStepSchema).optional(),
  analysis: z
    .strictObject({
      prometheusAddress: z.string().optional(),
      intervalSeconds: z.number().optional(),
      count: z.number().optional(),
      windowSeconds: z.number().optional(),
      failureLimit: z.number().optional(),
      inconclusiveLimit: z.number().optional(),
      maxErrorRatio: z.number().optional(),
      maxLatencyP99Seconds: z.number().optional(),
      maxPredictionMixDistance: z.number().optional(),
      minPredictions: z.number().optional(),
    })
    .optional(),
  smoke: z.boolean().optional(),
  progressDeadlineSeconds: z.number().optional(),
});

/** Schema of `charts/environments/<env>.yaml`; unknown keys are rejected everywhere. */
export const EnvironmentConfigSchema = z
  .strictObject({
    /** Container image: `repository:tag`, `repository@sha256:…`, or both (the digest pins it). */
    image: z.string().superRefine(check(validateImage)),
    /** When the kubelet pulls the image (`IfNotPresent` for a side-loaded image on a laptop cluster). */
    imagePullPolicy: z.enum(['Always', 'IfNotPresent']).default('Always'),
    /** Namespace of every object. */
    namespace: dnsLabel.default(APP_NAME),
    /** LOG_LEVEL of the service. */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    /** Further service settings for the ConfigMap (thread, worker and queue settings). */
    settings: z
      .record(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be an UPPER_SNAKE variable name'), z.string())
      .default({}),
    /** Where the model comes from. */
    model: ModelSchema,
    /** The promotion gate's golden set and thresholds; required when `model.from` is `registry`. */
    evaluation: EvaluationPolicySchema.optional(),
    /** MLflow as seen from the pods; required when `model.from` is `registry`. */
    mlflow: z
      .strictObject({
        trackingUri: z.url({ protocol: /^https?$/ }),
        credentialsSecret: dnsLabel.default('mlflow-credentials'),
        namespace: dnsLabel.optional(),
        cidr: z.cidrv4().optional(),
      })
      .optional(),
    /** The Service. */
    service: z
      .strictObject({
        type: z.enum(['LoadBalancer', 'NodePort', 'ClusterIP']).default('ClusterIP'),
        port: port.default(80),
        tlsPort: port.optional(),
        nodePort: z.number().int().min(30000).max(32767).optional(),
        annotations: z.record(z.string(), z.string()).default({}),
        /** LoadBalancer: the clients' CIDRs (`spec.loadBalancerSourceRanges` and, with `Local`, the NetworkPolicy). */
        loadBalancerSourceRanges: z.array(z.cidrv4()).optional(),
        /** NodePort with `Local`: the clients' CIDRs the NetworkPolicy admits. */
        nodePortSourceRanges: z.array(z.cidrv4()).optional(),
        /** LoadBalancer/NodePort: `Local` (the construct's default) or `Cluster`. */
        externalTrafficPolicy: z.enum(['Local', 'Cluster']).optional(),
        /** With `externalTrafficPolicy: Cluster`: the nodes' CIDRs the NetworkPolicy admits. */
        nodeCidrs: z.array(z.cidrv4()).optional(),
      })
      .default({ type: 'ClusterIP', port: 80, annotations: {} }),
    /** A fixed replica count (no HPA, no PDB); mutually exclusive with `autoscaling`. */
    replicas: z.number().int().min(1).optional(),
    /** HPA settings; omitted values take the defaults of `Scaling.autoscaled` (3–10 replicas, CPU 70 %, …). */
    autoscaling: z
      .strictObject({
        minReplicas: z.number().int().min(1).optional(),
        maxReplicas: z.number().int().min(1).optional(),
        cpuUtilizationPercent: z.number().int().min(1).max(100).optional(),
        memoryUtilizationPercent: z.number().int().min(1).max(100).optional(),
        scaleDownStabilizationWindowSeconds: z.number().int().min(0).optional(),
      })
      .optional(),
    /** PDB settings (only with `autoscaling`). */
    podDisruptionBudget: z.strictObject({ minAvailable: z.number().int().min(0) }).optional(),
    /** Service container requests and limits. */
    resources: ResourcesSchema.optional(),
    /** `rolling` (a Deployment) or `canary` (an Argo Rollouts Rollout judged by live metrics). */
    delivery: z.enum(['rolling', 'canary']).default('rolling'),
    /** Canary steps and analysis thresholds (only with `delivery: canary`). */
    canary: CanarySchema.optional(),
    /** Who may reach the pods. */
    networkPolicy: z
      .strictObject({
        ingressNamespaces: z.array(dnsLabel).default(['ingress-nginx']),
        monitoringNamespace: dnsLabel.default('monitoring'),
        dnsNamespace: dnsLabel.default('kube-system'),
        /** The cluster's pod CIDRs, cut out of the `ipBlock`s admitted for a LoadBalancer's or NodePort's clients. */
        podCidrs: z.array(z.cidrv4()).default([]),
      })
      .default({
        ingressNamespaces: ['ingress-nginx'],
        monitoringNamespace: 'monitoring',
        dnsNamespace: 'kube-system',
        podCidrs: [],
      }),
    /** The MLflow → GitHub webhook relay; deploy it in exactly one environment. */
    webhookRelay: z
      .strictObject({
        githubRepository: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be owner/name'),
        secretName: dnsLabel.default('model-gitops-webhook-relay'),
        modelName: z.string().min(1).default(APP_NAME),
        aliasEnvironments: z.record(z.string().min(1), z.enum(ENVIRONMENTS)),
        ingressNamespaces: z.array(dnsLabel).default(['ingress-nginx']),
        /** An Ingress with TLS routing only the webhook and health paths to the relay. */
        ingress: z
          .strictObject({
            host: z
              .string()
              .regex(
                /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/,
                'must be a fully qualified DNS name, e.g. relay.example.com',
              ),
            className: z.string().min(1).default('nginx'),
            tlsSecretName: dnsLabel.optional(),
            annotations: z.record(z.string(), z.string()).default({}),
          })
          .optional(),
      })
      .optional(),
    /**
     * Secrets materialised by the External Secrets Operator instead of created by hand: the store and the remote
     * keys of the MLflow credentials and the relay's Secret.
     */
    externalSecrets: z
      .strictObject({
        secretStoreName: dnsLabel,
        secretStoreKind: z.enum(['ClusterSecretStore', 'SecretStore']).default('ClusterSecretStore'),
        refreshInterval: z
          .string()
          .regex(/^[0-9]+(s|m|h)$/, 'must be a duration such as 30m or 1h')
          .default('1h'),
        mlflowCredentialsKey: z.string().min(1).optional(),
        webhookRelayKey: z.string().min(1).optional(),
      })
      .optional(),
    /** Where Argo CD deploys this environment. */
    argocd: z.strictObject({ destinationServer: z.url() }),
  })
  .superRefine((c, ctx) => {
    if (c.model.from === 'registry') {
      if ((c.model.alias === undefined) === (c.model.stage === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: ['model'],
          message: "a registry model needs exactly one of 'alias' or 'stage'",
        });
      }
      if (!c.evaluation) {
        ctx.addIssue({
          code: 'custom',
          path: ['evaluation'],
          message:
            "is required when 'model.from' is 'registry': the promotion gate needs a golden set and thresholds",
        });
      }
      if (!c.mlflow) {
        ctx.addIssue({
          code: 'custom',
          path: ['mlflow'],
          message: "is required when 'model.from' is 'registry'",
        });
      } else if (!c.mlflow.namespace && !c.mlflow.cidr) {
        ctx.addIssue({
          code: 'custom',
          path: ['mlflow'],
          message:
            "needs 'namespace' (in-cluster MLflow) or 'cidr' (external MLflow) for the NetworkPolicy egress",
        });
      }
    }
    if (c.replicas !== undefined && c.autoscaling !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['replicas'],
        message: "cannot be set together with 'autoscaling' (the HPA owns the count): remove one of them",
      });
    }
    if (c.podDisruptionBudget && !c.autoscaling) {
      ctx.addIssue({
        code: 'custom',
        path: ['podDisruptionBudget'],
        message: "needs 'autoscaling': a PDB on a fixed single replica would block every node drain",
      });
    }
    if (c.autoscaling) {
      // The construct's defaults fill what the file leaves out; the rules are checked here to name the file's fields.
      const { minReplicas, maxReplicas, minAvailable } = Scaling.autoscaled({
        ...c.autoscaling,
        minAvailable: c.podDisruptionBudget?.minAvailable,
      }).autoscaling!;
      if (minReplicas > maxReplicas) {
        ctx.addIssue({
          code: 'custom',
          path: ['autoscaling', 'minReplicas'],
          message: `(${minReplicas}) must be ≤ 'autoscaling.maxReplicas' (${maxReplicas}): lower minReplicas or raise maxReplicas`,
        });
      }
      if (minAvailable >= minReplicas) {
        ctx.addIssue({
          code: 'custom',
          path: ['podDisruptionBudget', 'minAvailable'],
          message:
            `(${minAvailable}) must be < 'autoscaling.minReplicas' (${minReplicas}), otherwise no pod may ever ` +
            'be evicted and every node drain blocks: lower minAvailable or raise minReplicas',
        });
      }
    }
    if (c.externalSecrets?.mlflowCredentialsKey && c.model.from !== 'registry') {
      ctx.addIssue({
        code: 'custom',
        path: ['externalSecrets', 'mlflowCredentialsKey'],
        message:
          "needs 'model.from: registry' (only the model-fetch init container reads MLflow credentials)",
      });
    }
    if (c.externalSecrets?.webhookRelayKey && !c.webhookRelay) {
      ctx.addIssue({
        code: 'custom',
        path: ['externalSecrets', 'webhookRelayKey'],
        message: "needs a 'webhookRelay' section in this environment",
      });
    }
    if (c.canary && c.delivery !== 'canary') {
      ctx.addIssue({
        code: 'custom',
        path: ['canary'],
        message:
          "needs 'delivery: canary' (a rolling Deployment has no canary steps): set it or remove this section",
      });
    }
    if (c.delivery === 'canary') {
      try {
        Delivery.canary(c.canary).validate();
      } catch (err) {
        // The construct's message starts with the field relative to `canary` ('steps[2].setWeight'): make it the path.
        const m = /^'([^']+)' ?(.*)$/s.exec((err as Error).message);
        ctx.addIssue({
          code: 'custom',
          path: m ? ['canary', m[1]!] : ['canary'],
          message: m ? m[2]! : (err as Error).message,
        });
      }
    }
    if (c.service.tlsPort !== undefined && c.service.type !== 'LoadBalancer') {
      ctx.addIssue({
        code: 'custom',
        path: ['service', 'tlsPort'],
        message: "needs 'service.type: LoadBalancer'",
      });
    }
    if (c.service.nodePort !== undefined && c.service.type !== 'NodePort') {
      ctx.addIssue({
        code: 'custom',
        path: ['service', 'nodePort'],
        message: "needs 'service.type: NodePort'",
      });
    }
    const section = (field: ExternalTrafficField) =>
      field === 'podCidrs' || field === 'ingressNamespaces' ? 'networkPolicy' : 'service';
    for (const p of externalTrafficProblems(
      c.service,
      c.networkPolicy.podCidrs,
      (f) => `'${section(f)}.${f}'`,
    )) {
      ctx.addIssue({ code: 'custom', path: [section(p.field), p.field], message: p.message });
    }
  });

/** A validated environment config with every default filled in. */
export type EnvironmentConfig = z.infer<typeof EnvironmentConfigSchema>;

/** Schema of `charts/argocd.yaml`: the repository Argo CD syncs from and where its objects live. */
export const ArgoCdConfigSchema = z.strictObject({
  /** Git URL of this repository, as Argo CD clones it. */
  repoURL: z.string().min(1),
  /** Branch, tag or commit Argo CD follows. */
  targetRevision: z.string().min(1).default('main'),
  /** Namespace where Argo CD runs (the Applications and the AppProject live there). */
  namespace: dnsLabel.default('argocd'),
  /** Name of the AppProject and the prefix of each Application (`<project>-<env>`). */
  project: dnsLabel.default(APP_NAME),
});

/** A validated Argo CD config. */
export type ArgoCdConfig = z.infer<typeof ArgoCdConfigSchema>;

/** `charts/environments/<env>.yaml` below the repository root. */
export function environmentConfigPath(repoRoot: string, env: EnvironmentName): string {
  return join(repoRoot, 'charts', 'environments', `${env}.yaml`);
}

/** `charts/argocd.yaml` below the repository root. */
export function argoCdConfigPath(repoRoot: string): string {
  return join(repoRoot, 'charts', 'argocd.yaml');
}

/** Formats zod issues as `file: invalid …: 'field' rule` lines, unknown keys named one by one. */
export function formatIssues(file: string, what: string, error: z.ZodError): string {
  const lines = error.issues.flatMap((issue) => {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map(
        (key) => `'${[...path, key].join('.')}' is not a known field: remove it or fix its spelling`,
      );
    }
    return [`'${path.join('.') || '(root)'}' ${issue.message}`];
  });
  return `${file}: invalid ${what}:\n${lines.map((l) => `  - ${l}`).join('\n')}`;
}

function load<S extends z.ZodType>(file: string, schema: S, what: string): z.infer<S> {
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: cannot read the ${what}: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error(formatIssues(file, what, parsed.error));
  return parsed.data;
}

/** Reads and validates an environment config; the error names the file, the field and the rule. */
export function readEnvironmentConfig(file: string): EnvironmentConfig {
  return load(file, EnvironmentConfigSchema, 'environment config');
}

/** Reads and validates `charts/argocd.yaml`. */
export function readArgoCdConfig(file: string): ArgoCdConfig {
  return load(file, ArgoCdConfigSchema, 'Argo CD config');
}
