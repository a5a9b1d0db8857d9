import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { Application } from '../../imports/argocd-application-argoproj.io';
import { AppProject } from '../../imports/argocd-appproject-argoproj.io';
import { APP_NAME } from './config/names';
import type { ArgoCdConfig } from './config/environment-config';

/** One environment as Argo CD sees it. */
export interface ArgoCdEnvironment {
  /** Environment name; the Application syncs `dist/<name>`. */
  readonly name: string;
  /** Namespace the environment deploys into. */
  readonly namespace: string;
  /** API server URL of the environment's cluster. */
  readonly destinationServer: string;
}

/** A Kubernetes kind the AppProject admits. */
export interface GroupKind {
  /** API group (`''` for the core group). */
  readonly group: string;
  /** Kind. */
  readonly kind: string;
}

/** Props of {@link ArgoCdChart}. */
export interface ArgoCdChartProps {
  /** Repository, revision, Argo CD namespace and project name. */
  readonly config: ArgoCdConfig;
  /** The environments, one Application each. */
  readonly environments: readonly ArgoCdEnvironment[];
  /** Namespaced kinds found in `dist/`; the AppProject admits only these. */
  readonly namespacedKinds: readonly GroupKind[];
  /** Cluster-scoped kinds found in `dist/` (the Namespace). */
  readonly clusterKinds: readonly GroupKind[];
  /**
   * Retry attempts of a failed sync.
   * @default 5
   */
  readonly retryLimit?: number;
  /**
   * First retry delay; doubled (`retryBackoffFactor`) up to `retryMaxDuration`.
   * @default '10s'
   */
  readonly retryBackoffDuration?: string;
  /**
   * Growth factor of the retry delay.
   * @default 2
   */
  readonly retryBackoffFactor?: number;
  /**
   * Longest retry delay.
   * @default '3m'
   */
  readonly retryMaxDuration?: string;
}

/** The resources finalizer: deleting an Application deletes what it deployed (cascade). */
export const RESOURCES_FINALIZER = 'resources-finalizer.argocd.argoproj.io';

/**
 * The Argo CD objects: an AppProject limited to this repository, the environments' destinations and the kinds
 * found in `dist/`, and one Application per environment with automated prune + selfHeal and retry with backoff.
 */
export class ArgoCdChart extends Chart {
  /** The AppProject. */
  public readonly project: AppProject;
  /** The Applications, by environment name. */
  public readonly applications: Readonly<Record<string, Application>>;

  constructor(scope: Construct, id: string, props: ArgoCdChartProps) {
    super(scope, id);
    const c = props.config;
    const labels = { 'app.kubernetes.io/part-of': 'model-gitops', 'app.kubernetes.io/managed-by': 'cdk8s' };

    this.project = new AppProject(this, 'Project', {
      metadata: { name: c.project, namespace: c.namespace, labels, finalizers: [RESOURCES_FINALIZER] },
      spec: {
        description: `${APP_NAME}: the image classifier and its webhook relay, one Application per environment`,
        sourceRepos: [c.repoURL],
        destinations: props.environments.map((e) => ({
          server: e.destinationServer,
          namespace: e.namespace,
        })),
        clusterResourceWhitelist: sortKinds(props.clusterKinds),
        namespaceResourceWhitelist: sortKinds(props.namespacedKinds),
        orphanedResources: { warn: true },
      },
    });

    const applications: Record<string, Application> = {};
    for (const env of props.environments) {
      applications[env.name] = new Application(this, `Application-${env.name}`, {
        metadata: {
          name: `${c.project}-${env.name}`,
          namespace: c.namespace,
          labels: { ...labels, 'model-gitops/environment': env.name },
          finalizers: [RESOURCES_FINALIZER],
        },
        spec: {
          project: c.project,
          source: {
            repoUrl: c.repoURL,
            targetRevision: c.targetRevision,
            path: `dist/${env.name}`,
            directory: { recurse: false },
          },
          destination: { server: env.destinationServer, namespace: env.namespace },
          revisionHistoryLimit: 10,
          syncPolicy: {
            automated: { prune: true, selfHeal: true },
            syncOptions: ['CreateNamespace=true', 'PruneLast=true'],
            retry: {
              limit: props.retryLimit ?? 5,
              backoff: {
                duration: props.retryBackoffDuration ?? '10s',
                factor: props.retryBackoffFactor ?? 2,
                maxDuration: props.retryMaxDuration ?? '3m',
              },
            },
          },
        },
      });
    }
    this.applications = applications;
  }
}

function sortKinds(kinds: readonly GroupKind[]): GroupKind[] {
  const unique = new Map(kinds.map((k) => [`${k.group}/${k.kind}`, { group: k.group, kind: k.kind }]));
  return [...unique.keys()].sort().map((key) => unique.get(key)!);
}
