import { ENVIRONMENTS } from '../src/config/model-pin';
import { readGenerated, validateSchemas } from './support/dist';

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
