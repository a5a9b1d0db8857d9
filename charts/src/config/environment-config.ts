import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, Size } from 'cdk8s';
import { parse } from 'yaml';
import { z } from 'zod';
import { Delivery } from '../delivery';
import { resolveMlflowConnection } from '../model-source';
import { cpuMillis, memoryMebibytes } from '../quantity';
import { ContainerResourceAmounts, ResourceAmountField, resourceAmountProblems } from '../resource-amounts';
import { AutoscalingField, autoscalingProblems, resolveAutoscaling } from '../scaling';
import { EvaluationPolicySchema } from './evaluation-policy';
import { ExternalTrafficField, externalTrafficProblems } from './external-traffic';
import { validateImage } from './image-reference';
import { ENVIRONMENTS, ModelAliasSchema, RegisteredModelNameSchema, type EnvironmentName } from './model-pin';
import { APP_NAME, DNS_HOST_NAME, DNS_LABEL, DNS_SUBDOMAIN, GitHubRepositorySchema } from './names';

const dnsLabel = z.string().regex(DNS_LABEL, "must be a DNS label: lower-case letters, digits and '-'");
const port = z.number().int().min(1).max(65535);
/** A DNS-1123 subdomain, as Kubernetes requires of e.g. an IngressClass name. */
const dnsSubdomain = z
  .string()
  .max(253)
  .regex(DNS_SUBDOMAIN, "must be a DNS subdomain: lower-case letters, digits, '-' and '.'");
/** Annotations, whose keys Kubernetes requires to be qualified names: `[prefix/]name`. */
const annotations = z.record(
  z.string().refine((key) => {
    const slash = key.lastIndexOf('/');
    const prefix = slash < 0 ? undefined : key.slice(0, slash);
    const name = key.slice(slash + 1);
    return (
      (prefix === undefined || dnsSubdomain.safeParse(prefix).success) &&
      /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(name)
    );
  }, 'must be an annotation key: [DNS subdomain/]name, the name up to 63 letters, digits, - _ . (e.g. example.com/team)'),
  z.string(),
);

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

/** The file's quantity fields, by the construct's field they become. */
const RESOURCE_FIELDS = {
  cpuRequestMillicores: 'cpuRequest',
  cpuLimitMillicores: 'cpuLimit',
  memoryRequest: 'memoryRequest',
  memoryLimit: 'memoryLimit',
} as const satisfies Record<ResourceAmountField, string>;

/** Requests and limits as Kubernetes quantities (`500m`, `2`, `512Mi`, `2Gi`), converted to the constructs' amounts. */
const ResourcesSchema = z
  .strictObject({ cpuRequest: cpu, memoryRequest: memory, cpuLimit: cpu, memoryLimit: memory })
  .transform((r, ctx): ContainerResourceAmounts => {
    const amounts: ContainerResourceAmounts = {
      cpuRequestMillicores: cpuMillis(r.cpuRequest),
      cpuLimitMillicores: cpuMillis(r.cpuLimit),
      memoryRequest: Size.mebibytes(memoryMebibytes(r.memoryRequest)),
      memoryLimit: Size.mebibytes(memoryMebibytes(r.memoryLimit)),
    };
    // The constructs' rules (each request ≤ its limit), in the file's words.
    const show = (f: ResourceAmountField) => `${RESOURCE_FIELDS[f]} (${r[RESOURCE_FIELDS[f]]})`;
    for (const p of resourceAmountProblems(amounts, show)) {
      ctx.addIssue({ code: 'custom', path: [RESOURCE_FIELDS[p.field]], message: p.message });
    }
    return amounts;
  });

/** `autoscaling:`, converted to the options of `Scaling.autoscaled` (whose defaults fill what the file leaves out). */
const AutoscalingSchema = z
  .strictObject({
    minReplicas: z.number().int().min(1).optional(),
    maxReplicas: z.number().int().min(1).optional(),
    cpuUtilizationPercent: z.number().int().min(1).max(100).optional(),
    memoryUtilizationPercent: z.number().int().min(1).max(100).optional(),
    // Not negative (a Duration cannot be); whole seconds and the HPA API's bound (≤ 3600) are the construct's rules
    // (autoscalingProblems in scaling.ts), reported in the file's words below.
    scaleDownStabilizationWindowSeconds: z.number().min(0).optional(),
  })
  .transform(({ scaleDownStabilizationWindowSeconds: window, ...counts }) => ({
    ...counts,
    scaleDownStabilizationWindow: window === undefined ? undefined : Duration.seconds(window),
  }));

const ModelSchema = z.discriminatedUnion('from', [
  z.strictObject({
    from: z.literal('registry'),
    alias: ModelAliasSchema.optional(),
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

/**
 * Runs a construct's factory and reports what it throws as an issue at the file's field: a message that starts with a
 * quoted field (`'steps[2].setWeight' (0) must be …`) goes to `path(field)` without the field, any other to `path()`.
 */
function constructIssue(
  ctx: z.RefinementCtx,
  path: (field?: string) => string[],
  build: () => unknown,
): void {
  try {
    build();
  } catch (err) {
    const message = (err as Error).message;
    const m = /^'([^']+)' (.*)/s.exec(message);
    ctx.addIssue({ code: 'custom', path: path(m?.[1]), message: m ? m[2]! : message });
  }
}

/** Schema of `charts/environments/<env>.yaml`; unknown keys are rejected everywhere. */
export const EnvironmentConfigSchema = z
  .strictObject({
    /** Container image: `repository:tag`, `repository@sha256:…`, or both (the digest pins it). */
    image: z.string().superRefine(check(validateImage)),
    /** When the kubelet pulls the image (`IfNotPresent` for a side-loaded image on a laptop cluster). */
    imagePullPolicy: z.enum(['Always', 'IfNotPresent']).optional(),
    /** Namespace of every object. */
    namespace: dnsLabel.optional(),
    /** LOG_LEVEL of the service. */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).optional(),
    /** Further service settings for the ConfigMap (thread, worker and queue settings). */
    settings: z
      .record(
        z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be an UPPER_SNAKE variable name, e.g. INFERENCE_WORKERS'),
        z.string(),
      )
      .optional(),
    /** Where the model comes from. */
    model: ModelSchema,
    /** The promotion gate's golden set and thresholds; required when `model.from` is `registry`. */
    evaluation: EvaluationPolicySchema.optional(),
    /**
     * MLflow as seen from the pods; required when `model.from` is `registry`. Its rules are those of
     * `ModelSource.fromRegistry`'s connection, checked below and not restated here (each problem would show twice).
     */
    mlflow: z
      .strictObject({
        trackingUri: z.string(),
        credentialsSecret: z.string().optional(),
        namespace: z.string().optional(),
        cidr: z.string().optional(),
        podPort: port.optional(),
      })
      .optional(),
    /** The Service. */
    service: z
      .strictObject({
        type: z.enum(['LoadBalancer', 'NodePort', 'ClusterIP']).optional(),
        port: port.optional(),
        tlsPort: port.optional(),
        nodePort: z.number().int().min(30000).max(32767).optional(),
        annotations: annotations.optional(),
        /** LoadBalancer: the clients' CIDRs (`spec.loadBalancerSourceRanges` and, with `Local`, the NetworkPolicy). */
        loadBalancerSourceRanges: z.array(z.cidrv4()).optional(),
        /** NodePort with `Local`: the clients' CIDRs the NetworkPolicy admits. */
        nodePortSourceRanges: z.array(z.cidrv4()).optional(),
        /** LoadBalancer/NodePort: `Local` (the construct's default) or `Cluster`. */
        externalTrafficPolicy: z.enum(['Local', 'Cluster']).optional(),
        /** With `externalTrafficPolicy: Cluster`: the nodes' CIDRs the NetworkPolicy admits. */
        nodeCidrs: z.array(z.cidrv4()).optional(),
      })
      .optional(),
    /** A fixed replica count (no HPA, no PDB); mutually exclusive with `autoscaling`. */
    replicas: z.number().int().min(1).optional(),
    /** HPA settings; omitted values take the defaults of `Scaling.autoscaled` (3–10 replicas, CPU 70 %, …). */
    autoscaling: AutoscalingSchema.optional(),
    /** PDB settings (only with `autoscaling`). */
    podDisruptionBudget: z.strictObject({ minAvailable: z.number().int().min(0) }).optional(),
    /** Service container requests and limits. */
    resources: ResourcesSchema.optional(),
    /** `rolling` (a Deployment) or `canary` (an Argo Rollouts Rollout judged by live metrics). */
    delivery: z.enum(['rolling', 'canary']).optional(),
    /** Canary steps and analysis thresholds (only with `delivery: canary`). */
    canary: CanarySchema.optional(),
    /** Who may reach the pods. */
    networkPolicy: z
      .strictObject({
        ingressNamespaces: z.array(dnsLabel).optional(),
        monitoringNamespace: dnsLabel.optional(),
        dnsNamespace: dnsLabel.optional(),
        /** The cluster's pod CIDRs, cut out of the `ipBlock`s admitted for a LoadBalancer's or NodePort's clients. */
        podCidrs: z.array(z.cidrv4()).optional(),
      })
      .optional(),
    /** The MLflow → GitHub webhook relay; deploy it in exactly one environment. */
    webhookRelay: z
      .strictObject({
        githubRepository: GitHubRepositorySchema,
        secretName: dnsLabel.optional(),
        modelName: RegisteredModelNameSchema.optional(),
        aliasEnvironments: z.record(ModelAliasSchema, z.enum(ENVIRONMENTS)),
        ingressNamespaces: z.array(dnsLabel).optional(),
        /** An Ingress with TLS routing only the webhook and health paths to the relay. */
        ingress: z
          .strictObject({
            host: z
              .string()
              .regex(DNS_HOST_NAME, 'must be a fully qualified DNS name, e.g. relay.example.com'),
            className: dnsSubdomain.optional(),
            tlsSecretName: dnsLabel.optional(),
            annotations: annotations.optional(),
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
        secretStoreKind: z.enum(['ClusterSecretStore', 'SecretStore']).optional(),
        refreshInterval: z
          .string()
          .regex(/^[0-9]+(s|m|h)$/, 'must be a duration such as 30m or 1h')
          .optional(),
        mlflowCredentialsKey: z.string().min(1).optional(),
        webhookRelayKey: z.string().min(1).optional(),
      })
      .optional(),
    /** Where Argo CD deploys this environment. */
    argocd: z.strictObject({ destinationServer: z.url() }),
  })
  .superRefine((c, ctx) => {
    // The namespace is the kit's own: labelled for the restricted Pod Security profile, deleted with the
    // Application. A system namespace or one another component lives in must not get either.
    const namespace = c.namespace ?? APP_NAME;
    const others: [string | undefined, string][] = [
      [c.mlflow?.namespace, 'mlflow.namespace'],
      [c.networkPolicy?.monitoringNamespace, 'networkPolicy.monitoringNamespace'],
      [c.networkPolicy?.dnsNamespace, 'networkPolicy.dnsNamespace'],
      ...(c.networkPolicy?.ingressNamespaces ?? []).map((n): [string, string] => [
        n,
        'networkPolicy.ingressNamespaces',
      ]),
    ];
    const shared = others.find(([n]) => n === namespace)?.[1];
    if (namespace === 'default' || namespace.startsWith('kube-') || shared) {
      ctx.addIssue({
        code: 'custom',
        path: ['namespace'],
        message:
          `('${namespace}') is ${shared ? `also '${shared}'` : 'a namespace Kubernetes keeps for itself'}: the kit ` +
          'labels its namespace for the restricted Pod Security profile and Argo CD deletes it with the Application; ' +
          'give the service a namespace of its own',
      });
    }
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
      }
    }
    if (c.mlflow) {
      // The rules of ModelSource.fromRegistry's MLflow connection. Its messages start with the construct's field
      // ('mlflow.cidr'); its credentialsSecretName is the file's credentialsSecret.
      const { credentialsSecret, ...m } = c.mlflow;
      constructIssue(
        ctx,
        (f = 'mlflow') =>
          f === 'mlflow.credentialsSecretName' ? ['mlflow', 'credentialsSecret'] : f.split('.'),
        () => resolveMlflowConnection({ ...m, credentialsSecretName: credentialsSecret }),
      );
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
      // The construct's defaults and rules (those of Scaling.autoscaled), reported with the file's fields.
      const path = (f: AutoscalingField) =>
        f === 'minAvailable'
          ? ['podDisruptionBudget', f]
          : ['autoscaling', f === 'scaleDownStabilizationWindow' ? 'scaleDownStabilizationWindowSeconds' : f];
      const resolved = resolveAutoscaling({
        ...c.autoscaling,
        minAvailable: c.podDisruptionBudget?.minAvailable,
      });
      for (const p of autoscalingProblems(resolved, (f) => `'${path(f).join('.')}'`)) {
        ctx.addIssue({ code: 'custom', path: path(p.field), message: p.message });
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
      // Delivery.canary's messages start with the field relative to `canary` ('steps[2].setWeight').
      constructIssue(
        ctx,
        (f) => (f === undefined ? ['canary'] : ['canary', f]),
        () => Delivery.canary(c.canary),
      );
    }
    if (c.service?.tlsPort !== undefined && c.service.type !== 'LoadBalancer') {
      ctx.addIssue({
        code: 'custom',
        path: ['service', 'tlsPort'],
        message: "needs 'service.type: LoadBalancer'",
      });
    }
    if (c.service?.nodePort !== undefined && c.service.type !== 'NodePort') {
      ctx.addIssue({
        code: 'custom',
        path: ['service', 'nodePort'],
        message: "needs 'service.type: NodePort'",
      });
    }
    const section = (field: ExternalTrafficField) =>
      field === 'podCidrs' || field === 'ingressNamespaces' ? 'networkPolicy' : 'service';
    for (const p of externalTrafficProblems(
      c.service ?? {},
      c.networkPolicy?.podCidrs ?? [],
      (f) => `'${section(f)}.${f}'`,
    )) {
      ctx.addIssue({ code: 'custom', path: [section(p.field), p.field], message: p.message });
    }
  });

/**
 * A validated environment config, quantities and durations converted to the constructs' types. Fields the file
 * leaves out stay undefined: the constructs' defaults apply (one home for each default).
 */
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

/** Formats zod issues as `file: invalid …: 'field' rule` lines, unknown keys named one by one, a bad key with its rule. */
export function formatIssues(file: string, what: string, error: z.ZodError): string {
  const lines = error.issues.flatMap((issue) => {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map(
        (key) => `'${[...path, key].join('.')}' is not a known field: remove it or fix its spelling`,
      );
    }
    if (issue.code === 'invalid_key') {
      // A record key that breaks its rule: zod says "Invalid key in record" and keeps the rule in the nested issues.
      return issue.issues.map((i) => `'${path.join('.')}' is not a valid key: ${i.message}`);
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
