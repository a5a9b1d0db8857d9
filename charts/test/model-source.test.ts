import { ModelSource, uriPort } from '../src/model-source';
import { PIN } from './support/pins';
import { messageOf } from './support/errors';

describe('ModelSource', () => {
  it('fromRegistry keeps the pin, the selector and the MLflow connection, with the default Secret and the port', () => {
    const mlflow = { trackingUri: 'http://mlflow:5000', namespace: 'mlflow' };
    expect(ModelSource.fromRegistry(PIN, { stage: 'Staging' }, mlflow)).toEqual({
      kind: 'registry',
      pin: PIN,
      selector: { stage: 'Staging' },
      mlflow: { ...mlflow, credentialsSecretName: 'mlflow-credentials', port: 5000 },
    });
  });

  it('fromRegistry keeps a named credentials Secret and an external MLflow by CIDR', () => {
    const source = ModelSource.fromRegistry(
      PIN,
      { alias: 'production' },
      { trackingUri: 'https://mlflow.example.com', cidr: '198.51.100.0/24', credentialsSecretName: 'creds' },
    );
    expect(source.mlflow).toEqual({
      trackingUri: 'https://mlflow.example.com',
      cidr: '198.51.100.0/24',
      credentialsSecretName: 'creds',
      port: 443,
    });
  });

  it('baked defaults to the default model directory of the image and needs no MLflow', () => {
    expect(ModelSource.baked()).toEqual({ kind: 'baked', modelDir: '/app/service/models/default' });
    expect(ModelSource.baked('/opt/model')).toEqual({ kind: 'baked', modelDir: '/opt/model' });
  });

  it('fails when MLflow has neither a namespace nor a CIDR for the NetworkPolicy', () => {
    expect(
      messageOf(() => ModelSource.fromRegistry(PIN, { alias: 'a' }, { trackingUri: 'http://mlflow:5000' })),
    ).toBe(
      "'mlflow' needs 'namespace' (in-cluster MLflow) or 'cidr' (external MLflow) so the NetworkPolicy can admit " +
        'egress to it.',
    );
  });

  it('fails when the selector names neither or both of alias and stage, or an empty one', () => {
    const mlflow = { trackingUri: 'http://mlflow:5000', namespace: 'mlflow' };
    for (const selector of [
      {},
      { alias: 'a', stage: 'Production' },
      { alias: '' },
      { version: '3' },
      { alias: 5 },
    ]) {
      expect(messageOf(() => ModelSource.fromRegistry(PIN, selector as { alias: string }, mlflow))).toBe(
        `'selector' (${JSON.stringify(selector)}) must be exactly one of {alias: '<alias>'} or {stage: '<stage>'}.`,
      );
    }
  });

  it('fails when the tracking URI is not an http(s) URL', () => {
    const from = (trackingUri: string) =>
      messageOf(() => ModelSource.fromRegistry(PIN, { alias: 'a' }, { trackingUri, namespace: 'mlflow' }));
    expect(from('mlflow:5000')).toBe("'mlflow.trackingUri' ('mlflow:5000') must be http:// or https://.");
    expect(from('not a url')).toBe(
      "'mlflow.trackingUri' ('not a url') is not a URL: write e.g. http://mlflow.mlflow:5000.",
    );
  });

  it('fails when the namespace, the CIDR or the Secret name is malformed, naming the field', () => {
    const from = (mlflow: object) =>
      messageOf(() =>
        ModelSource.fromRegistry(PIN, { alias: 'a' }, { trackingUri: 'http://mlflow:5000', ...mlflow }),
      );
    expect(from({ namespace: 'MLflow' })).toContain("'mlflow.namespace' 'MLflow' must be a DNS label");
    expect(from({ cidr: '10.0.0.1/8' })).toContain(
      "'mlflow.cidr' '10.0.0.1/8' has bits set below its /8 prefix",
    );
    expect(from({ namespace: 'mlflow', credentialsSecretName: 'My_Secret' })).toContain(
      "'mlflow.credentialsSecretName' 'My_Secret' must be a DNS label",
    );
  });

  it.each(['m', '1', 'a-b', 'a'.repeat(63)])(
    'accepts the DNS label %j as namespace and Secret name',
    (label) => {
      const source = ModelSource.fromRegistry(
        PIN,
        { alias: 'a' },
        { trackingUri: 'http://mlflow:5000', namespace: label, credentialsSecretName: label },
      );
      expect([source.mlflow.namespace, source.mlflow.credentialsSecretName]).toEqual([label, label]);
    },
  );

  it.each(['a'.repeat(64), 'mlflow_x', 'mlflow-', '-mlflow', 'a.b'])(
    'fails when the namespace is %j, naming the DNS-label rule',
    (namespace) => {
      expect(
        messageOf(() =>
          ModelSource.fromRegistry(PIN, { alias: 'a' }, { trackingUri: 'http://mlflow:5000', namespace }),
        ),
      ).toBe(
        `'mlflow.namespace' '${namespace}' must be a DNS label: lower-case letters, digits and '-', at most 63.`,
      );
    },
  );

  it('fails when the baked model directory is relative', () => {
    expect(messageOf(() => ModelSource.baked('models/default'))).toBe(
      "'modelDir' 'models/default' must be an absolute path inside the image, e.g. /app/models/mine.",
    );
  });

  it('resolves the port of the tracking URI, 80/443 by default', () => {
    expect([uriPort('http://m'), uriPort('https://m'), uriPort('http://m:5000')]).toEqual([80, 443, 5000]);
  });
});
