import { Testing } from 'cdk8s';
import { ArgoCdChart, RESOURCES_FINALIZER } from '../src/argocd-chart';
import { Json } from './support/dist';

function synth(): Json[] {
  const app = Testing.app();
  const chart = new ArgoCdChart(app, 'argocd', {
    config: {
      repoURL: 'https://github.com/example/model-gitops.git',
      targetRevision: 'main',
      namespace: 'argocd',
      project: 'cats-dogs-classifier',
    },
    environments: [
      {
        name: 'staging',
        namespace: 'cats-dogs-classifier',
        destinationServer: 'https://staging.example.com',
      },
      {
        name: 'production',
        namespace: 'cats-dogs-classifier',
        destinationServer: 'https://prod.example.com',
      },
    ],
    namespacedKinds: [
      { group: 'apps', kind: 'Deployment' },
      { group: '', kind: 'Service' },
      { group: 'apps', kind: 'Deployment' },
    ],
    clusterKinds: [{ group: '', kind: 'Namespace' }],
  });
  return Testing.synth(chart);
}

describe('ArgoCdChart', () => {
  const objects = synth();
  const project = objects.find((o) => o.kind === 'AppProject');
  const apps = objects.filter((o) => o.kind === 'Application');

  it('limits the AppProject to this repository, the environments and the kinds in dist/ (deduplicated, sorted)', () => {
    expect(project.spec.sourceRepos).toEqual(['https://github.com/example/model-gitops.git']);
    expect(project.spec.destinations).toEqual([
      { server: 'https://staging.example.com', namespace: 'cats-dogs-classifier' },
      { server: 'https://prod.example.com', namespace: 'cats-dogs-classifier' },
    ]);
    expect(project.spec.namespaceResourceWhitelist).toEqual([
      { group: '', kind: 'Service' },
      { group: 'apps', kind: 'Deployment' },
    ]);
    expect(project.spec.clusterResourceWhitelist).toEqual([{ group: '', kind: 'Namespace' }]);
  });

  it('creates one Application per environment syncing dist/<env> into its cluster', () => {
    expect(apps.map((a) => [a.metadata.name, a.spec.source.path, a.spec.destination.server])).toEqual([
      ['cats-dogs-classifier-staging', 'dist/staging', 'https://staging.example.com'],
      ['cats-dogs-classifier-production', 'dist/production', 'https://prod.example.com'],
    ]);
  });

  it('syncs automatically with prune and selfHeal, retries with backoff, creates the namespace, prunes last', () => {
    for (const app of apps) {
      expect(app.spec.syncPolicy).toEqual({
        automated: { prune: true, selfHeal: true },
        syncOptions: ['CreateNamespace=true', 'PruneLast=true'],
        retry: { limit: 5, backoff: { duration: '10s', factor: 2, maxDuration: '3m' } },
      });
    }
  });

  it('puts the resources finalizer on every Application so deleting it deletes what it deployed', () => {
    for (const app of apps) expect(app.metadata.finalizers).toEqual([RESOURCES_FINALIZER]);
  });

  it('follows the configured revision of the configured repository', () => {
    for (const app of apps) {
      expect(app.spec.source).toMatchObject({
        repoURL: 'https://github.com/example/model-gitops.git',
        targetRevision: 'main',
      });
    }
  });
});
