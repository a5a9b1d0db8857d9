import { ENVIRONMENTS } from '../src/config/model-pin';
import { readGenerated, validateSchemas } from './support/dist';
import { validateK8s128 } from './support/k8s-1.28-schema';

// Every committed object validates against the Kubernetes API schema (kubernetes-models) or its CRD schema
// (@kubernetes-models/prometheus-operator, @kubernetes-models/argo-cd); offline.
describe('schema of every generated object', () => {
  const files = [...ENVIRONMENTS.flatMap((env) => readGenerated(`dist/${env}`)), ...readGenerated('argocd')];
  const results = validateSchemas(files.map((f) => f.obj));

  it.each(files.map((f, i) => [f.file, i] as const))('%s validates against its schema', (_file, index) => {
    expect(results[index]!.error).toBeNull();
  });

  it('fails for an object that breaks its schema (the validator is really checking)', () => {
    const [deployment] = validateSchemas([
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { replicas: 'three' } },
    ]);
    expect(deployment!.error).toMatch(/replicas must be integer/);
    const [monitor] = validateSchemas([
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: { name: 'x' },
        spec: { selector: {}, endpoints: [{ port: 'http', interval: '30 seconds' }] },
      },
    ]);
    expect(monitor!.error).toMatch(/interval must match pattern/);
  });

  it('fails for a kind it has no schema for', () => {
    const [result] = validateSchemas([
      { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'x' } },
    ]);
    expect(result!.error).toMatch(/no schema for apiVersion example.com\/v1/);
  });
});

// Strictly against the Kubernetes v1.28.0 API (no field newer than 1.28, no unknown field), for built-in kinds.
describe('Kubernetes 1.28 schema of every generated built-in object', () => {
  const files = ENVIRONMENTS.flatMap((env) => readGenerated(`dist/${env}`)).filter(
    (f) => !f.obj.apiVersion.includes('monitoring.coreos.com') && !f.obj.apiVersion.includes('argoproj.io'),
  );

  it.each(files.map((f) => [f.file, f] as const))('%s is valid Kubernetes 1.28', (_file, f) => {
    expect(validateK8s128(f.obj)).toEqual([]);
  });

  it('fails for a field that Kubernetes 1.28 does not know, a typo, and a wrong type', () => {
    const errors = validateK8s128({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'x', lables: {} },
      spec: { trafficDistribution: 'PreferClose', ports: [{ port: '80' }] },
    } as { apiVersion: string; kind: string });
    expect(errors!.sort()).toEqual([
      'Service.metadata.lables: unknown field in Kubernetes 1.28',
      'Service.spec.ports[0].port: must be an integer',
      'Service.spec.trafficDistribution: unknown field in Kubernetes 1.28',
    ]);
  });

  it('fails for a missing required field', () => {
    expect(
      validateK8s128({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: {} } as {
        apiVersion: string;
        kind: string;
      }),
    ).toEqual(['Deployment.spec.selector: required', 'Deployment.spec.template: required']);
  });
});
