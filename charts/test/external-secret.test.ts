import { Testing } from 'cdk8s';
import { ExternalSecret } from '../src/external-secret';
import { Json, validateSchemas } from './support/dist';

function synth(extra: Partial<ConstructorParameters<typeof ExternalSecret>[2]> = {}): Json {
  const chart = Testing.chart();
  new ExternalSecret(chart, 'Secret', {
    secretName: 'mlflow-credentials',
    namespace: 'cats-dogs-classifier',
    secretStoreName: 'vault',
    remoteKey: 'model-gitops/mlflow',
    ...extra,
  });
  return Testing.synth(chart)[0];
}

describe('ExternalSecret', () => {
  it('creates the named Secret from a remote key of a ClusterSecretStore, refreshed hourly, holding no values', () => {
    const obj = synth();
    expect(obj).toMatchObject({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: 'mlflow-credentials', namespace: 'cats-dogs-classifier' },
      spec: {
        refreshInterval: '1h',
        secretStoreRef: { name: 'vault', kind: 'ClusterSecretStore' },
        target: { name: 'mlflow-credentials', creationPolicy: 'Owner' },
        dataFrom: [{ extract: { key: 'model-gitops/mlflow' } }],
      },
    });
    expect(obj.data).toBeUndefined();
    expect(validateSchemas([obj])[0]!.error).toBeNull();
  });

  it('uses a namespaced SecretStore and another API version when asked', () => {
    const obj = synth({ secretStoreKind: 'SecretStore', apiVersion: 'external-secrets.io/v1beta1' });
    expect([obj.apiVersion, obj.spec.secretStoreRef.kind]).toEqual([
      'external-secrets.io/v1beta1',
      'SecretStore',
    ]);
  });

  it.each(['hourly', 'x1h', '1hx', 'h', '1d'])('fails on the malformed refresh interval %j', (interval) => {
    expect(() => synth({ refreshInterval: interval })).toThrow(
      `'refreshInterval' '${interval}' must be a duration such as 30m or 1h.`,
    );
  });

  it('takes a multi-digit refresh interval and the labels it is given', () => {
    const obj = synth({ refreshInterval: '15m', labels: { team: 'ml' } });
    expect([obj.spec.refreshInterval, obj.metadata.labels]).toEqual(['15m', { team: 'ml' }]);
  });

  it('is rejected by the structural check when the store is missing', () => {
    const obj = synth();
    delete obj.spec.secretStoreRef.name;
    expect(validateSchemas([obj])[0]!.error).toBe('spec.secretStoreRef.name is required');
  });
});
