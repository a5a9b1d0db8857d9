import { App, Testing } from 'cdk8s';
import { EnvironmentConfigSchema } from '../src/config/environment-config';
import { EnvironmentChart } from '../src/environment-chart';
import { InferenceService } from '../src/inference-service';
import { ModelSource } from '../src/model-source';
import { Scaling } from '../src/scaling';
import { buildEnvironment } from '../src/synth';
import { Json, REPO_ROOT } from './support/dist';
import { PIN } from './support/pins';

const synth = (chart: EnvironmentChart): Json[] => Testing.synth(chart);
const kinds = (objects: Json[]) => objects.map((o) => `${o.kind}.${o.metadata.name}`).sort();

describe('EnvironmentChart from the committed configs', () => {
  it('local: one replica, NodePort, no HPA/PDB, no relay', () => {
    const { chart } = buildEnvironment(REPO_ROOT, 'local');
    const objects = synth(chart);
    expect(kinds(objects)).not.toContain('HorizontalPodAutoscaler.cats-dogs-classifier');
    expect(kinds(objects)).not.toContain('PodDisruptionBudget.cats-dogs-classifier');
    expect(objects.find((o) => o.kind === 'Deployment').spec.replicas).toBe(1);
    expect(objects.find((o) => o.kind === 'Service').spec.type).toBe('NodePort');
    expect(chart.relay).toBeUndefined();
  });

  it('staging: the full set behind a ClusterIP, following the staging alias', () => {
    const { chart } = buildEnvironment(REPO_ROOT, 'staging');
    const objects = synth(chart);
    expect(kinds(objects)).toEqual(
      expect.arrayContaining([
        'HorizontalPodAutoscaler.cats-dogs-classifier',
        'PodDisruptionBudget.cats-dogs-classifier',
      ]),
    );
    expect(objects.find((o) => o.kind === 'Service').spec.type).toBe('ClusterIP');
    expect(objects.find((o) => o.kind === 'ConfigMap').data.MODEL_ALIAS).toBe('staging');
  });

  it('production: LoadBalancer, HPA, PDB and the webhook relay', () => {
    const { chart } = buildEnvironment(REPO_ROOT, 'production');
    const objects = synth(chart);
    expect(
      objects.find((o) => o.kind === 'Service' && o.metadata.name === 'cats-dogs-classifier').spec.type,
    ).toBe('LoadBalancer');
    expect(kinds(objects)).toEqual(
      expect.arrayContaining([
        'Deployment.model-gitops-webhook-relay',
        'Service.model-gitops-webhook-relay',
        'NetworkPolicy.model-gitops-webhook-relay',
        'Ingress.model-gitops-webhook-relay',
      ]),
    );
    expect(chart.inference.namespace).toBe('cats-dogs-classifier');
  });
});

describe('EnvironmentChart from config', () => {
  const base = {
    image: 'ghcr.io/example/model-gitops:1.2.3',
    evaluation: {
      goldenSet: { from: 'repository', path: 'golden' },
      minAccuracy: 0.9,
      minRecall: 0.8,
      maxAccuracyDrop: 0.02,
    },
    argocd: { destinationServer: 'https://kubernetes.default.svc' },
  };

  it("gives a minimal config exactly the constructs' defaults", () => {
    const config = EnvironmentConfigSchema.parse({ ...base, model: { from: 'baked' } });
    const fromConfig = synth(new EnvironmentChart(new App(), { environment: 'local', config, pin: PIN }));
    const chart = Testing.chart();
    new InferenceService(chart, 'Inference', {
      image: base.image,
      modelSource: ModelSource.baked(),
      scaling: Scaling.fixed(),
    });
    const fromConstruct = Testing.synth(chart);
    expect(
      fromConfig.filter(
        (o) => o.kind !== 'PrometheusRule' && o.metadata.name !== 'cats-dogs-classifier-dashboard',
      ),
    ).toEqual(fromConstruct);
  });

  it('serves the baked model when the config says so, ignoring the pin', () => {
    const config = EnvironmentConfigSchema.parse({ ...base, model: { from: 'baked' }, replicas: 1 });
    const chart = new EnvironmentChart(new App(), { environment: 'local', config, pin: PIN });
    const objects = synth(chart);
    const pod = objects.find((o) => o.kind === 'Deployment').spec.template.spec;
    expect(pod.initContainers).toBeUndefined();
    expect(pod.containers[0].env).toBeUndefined();
    expect(objects.find((o) => o.kind === 'ConfigMap').data.MODEL_VERSION).toBeUndefined();
  });

  it('follows a stage and passes the PDB and HPA settings through', () => {
    const config = EnvironmentConfigSchema.parse({
      ...base,
      model: { from: 'registry', stage: 'Production' },
      mlflow: { trackingUri: 'https://mlflow.example.com', cidr: '198.51.100.0/24' },
      autoscaling: { minReplicas: 5, maxReplicas: 6 },
      podDisruptionBudget: { minAvailable: 4 },
    });
    const chart = new EnvironmentChart(new App(), { environment: 'production', config, pin: PIN });
    const objects = synth(chart);
    expect(objects.find((o) => o.kind === 'ConfigMap').data.MODEL_STAGE).toBe('Production');
    expect(objects.find((o) => o.kind === 'HorizontalPodAutoscaler').spec).toMatchObject({
      minReplicas: 5,
      maxReplicas: 6,
    });
    expect(objects.find((o) => o.kind === 'PodDisruptionBudget').spec.minAvailable).toBe(4);
  });

  it('emits ExternalSecrets for the MLflow credentials and the relay Secret when a store is configured', () => {
    const config = EnvironmentConfigSchema.parse({
      ...base,
      model: { from: 'registry', alias: 'production' },
      mlflow: { trackingUri: 'http://mlflow.mlflow:5000', namespace: 'mlflow' },
      webhookRelay: {
        githubRepository: 'example/model-gitops',
        aliasEnvironments: { production: 'production' },
      },
      externalSecrets: { secretStoreName: 'vault', mlflowCredentialsKey: 'mlflow', webhookRelayKey: 'relay' },
    });
    const chart = new EnvironmentChart(new App(), { environment: 'production', config, pin: PIN });
    const secrets = synth(chart).filter((o) => o.kind === 'ExternalSecret');
    expect(secrets.map((s) => [s.metadata.name, s.spec.dataFrom[0].extract.key])).toEqual([
      ['mlflow-credentials', 'mlflow'],
      ['model-gitops-webhook-relay', 'relay'],
    ]);
  });

  it("passes the Service's external traffic settings and the pod CIDRs to the Service and its NetworkPolicy", () => {
    const config = EnvironmentConfigSchema.parse({
      ...base,
      model: { from: 'baked' },
      replicas: 1,
      service: {
        type: 'NodePort',
        externalTrafficPolicy: 'Cluster',
        nodeCidrs: ['10.0.0.0/8'],
      },
      networkPolicy: { podCidrs: ['10.244.0.0/16'] },
    });
    const objects = synth(new EnvironmentChart(new App(), { environment: 'local', config, pin: PIN }));
    expect(objects.find((o) => o.kind === 'Service').spec.externalTrafficPolicy).toBe('Cluster');
    const blocks = objects
      .find((o) => o.kind === 'NetworkPolicy')
      .spec.ingress.flatMap((r: Json) => r.from)
      .filter((p: Json) => p.ipBlock);
    expect(blocks).toEqual([{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.244.0.0/16'] } }]);
  });

  it('emits no ExternalSecret without a store', () => {
    const { chart } = buildEnvironment(REPO_ROOT, 'production');
    expect(chart.externalSecrets).toEqual([]);
  });

  it('gives each ExternalSecret the namespace, the store, the refresh interval and the labels of the config', () => {
    const config = EnvironmentConfigSchema.parse({
      ...base,
      namespace: 'ml-prod',
      model: { from: 'registry', alias: 'production' },
      mlflow: { trackingUri: 'http://mlflow.mlflow:5000', namespace: 'mlflow' },
      externalSecrets: {
        secretStoreName: 'vault',
        secretStoreKind: 'SecretStore',
        refreshInterval: '15m',
        mlflowCredentialsKey: 'mlflow',
      },
    });
    const chart = new EnvironmentChart(new App(), { environment: 'production', config, pin: PIN });
    const [secret] = synth(chart).filter((o) => o.kind === 'ExternalSecret');
    expect(secret.metadata).toMatchObject({
      namespace: 'ml-prod',
      labels: { 'app.kubernetes.io/part-of': 'model-gitops', 'app.kubernetes.io/managed-by': 'cdk8s' },
    });
    expect(secret.spec).toMatchObject({
      secretStoreRef: { name: 'vault', kind: 'SecretStore' },
      refreshInterval: '15m',
    });
  });

  it('emits no MLflow ExternalSecret for a baked model even when the store names an MLflow key', () => {
    // The schema refuses this combination; the chart must not rely on that to avoid reading a missing registry.
    const parsed = EnvironmentConfigSchema.parse({
      ...base,
      model: { from: 'registry', alias: 'production' },
      mlflow: { trackingUri: 'http://mlflow.mlflow:5000', namespace: 'mlflow' },
      externalSecrets: { secretStoreName: 'vault', mlflowCredentialsKey: 'mlflow' },
    });
    const config = { ...parsed, model: { from: 'baked' as const } };
    const chart = new EnvironmentChart(new App(), { environment: 'local', config, pin: PIN });
    expect(chart.externalSecrets).toEqual([]);
  });

  it('takes the HorizontalPodAutoscaler counts from a config that has no PodDisruptionBudget section', () => {
    const config = EnvironmentConfigSchema.parse({
      ...base,
      model: { from: 'baked' },
      autoscaling: { minReplicas: 3, maxReplicas: 4 },
    });
    const objects = synth(new EnvironmentChart(new App(), { environment: 'staging', config, pin: PIN }));
    expect(objects.find((o) => o.kind === 'HorizontalPodAutoscaler').spec).toMatchObject({
      minReplicas: 3,
      maxReplicas: 4,
    });
  });

  it("puts the dashboard in the service's namespace and passes a ClusterIP Service's port and annotations", () => {
    const config = EnvironmentConfigSchema.parse({
      ...base,
      namespace: 'ml-prod',
      model: { from: 'baked' },
      replicas: 1,
      service: { type: 'ClusterIP', port: 8080, annotations: { team: 'ml' } },
    });
    const objects = synth(new EnvironmentChart(new App(), { environment: 'local', config, pin: PIN }));
    const dashboard = objects.find((o) => o.metadata.name === 'cats-dogs-classifier-dashboard');
    expect(dashboard.metadata.namespace).toBe('ml-prod');
    const service = objects.find((o) => o.kind === 'Service');
    expect(service.metadata.annotations).toEqual({ team: 'ml' });
    expect(service.spec.ports.map((p: Json) => p.port)).toEqual([8080]);
  });

  it('lets the construct refuse a LoadBalancer whose config lost its source ranges', () => {
    const parsed = EnvironmentConfigSchema.parse({
      ...base,
      model: { from: 'baked' },
      replicas: 1,
      service: { type: 'LoadBalancer', loadBalancerSourceRanges: ['203.0.113.0/24'] },
    });
    const config = { ...parsed, service: { ...parsed.service!, loadBalancerSourceRanges: undefined } };
    expect(() => new EnvironmentChart(new App(), { environment: 'production', config, pin: PIN })).toThrow(
      /loadBalancerSourceRanges' is empty/,
    );
  });
});
