import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerEnvironment, readContainerEnvironment } from '../src/pod-environment';
import { KubeObject, toYaml } from '../src/synth';
import { Json } from './support/dist';

const NS = 'cats-dogs-classifier';

const configMap = (name: string, data: Record<string, string>, namespace = NS): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace },
  data,
});

const workload = (kind: string, containers: Json[], initContainers?: Json[]): KubeObject => ({
  apiVersion: kind === 'Rollout' ? 'argoproj.io/v1alpha1' : 'apps/v1',
  kind,
  metadata: { name: 'cats-dogs-classifier', namespace: NS },
  spec: { template: { spec: { containers, initContainers } } },
});

const inference = (extra: Json = {}): Json => ({
  name: 'inference',
  envFrom: [{ configMapRef: { name: 'cats-dogs-classifier' } }],
  ...extra,
});

describe('containerEnvironment', () => {
  it("puts the container's literal env over the ConfigMap it reads whole, as the kubelet does", () => {
    const objects = [
      configMap('cats-dogs-classifier', { LOG_LEVEL: 'info', MODEL_VERSION: 'from the ConfigMap' }),
      workload('Deployment', [
        inference({
          env: [
            { name: 'MODEL_VERSION', value: '2' },
            { name: 'EMPTY', value: '' },
          ],
        }),
      ]),
    ];
    expect(containerEnvironment(objects)).toEqual({ LOG_LEVEL: 'info', MODEL_VERSION: '2', EMPTY: '' });
  });

  it("reads a Rollout's pod template as a Deployment's", () => {
    const objects = [configMap('cats-dogs-classifier', { A: '1' }), workload('Rollout', [inference()])];
    expect(containerEnvironment(objects)).toEqual({ A: '1' });
  });

  it('applies envFrom prefixes, resolves configMapKeyRefs and leaves out what only the cluster holds', () => {
    const objects = [
      configMap('cats-dogs-classifier', { URI: 'http://mlflow:5000' }),
      configMap('other', { X: '1' }),
      workload(
        'Deployment',
        [inference()],
        [
          {
            name: 'model-fetch',
            envFrom: [{ prefix: 'P_', configMapRef: { name: 'other' } }, { secretRef: { name: 's' } }],
            env: [
              { name: 'MLFLOW_TRACKING_URI', valueFrom: { configMapKeyRef: { name: NS, key: 'URI' } } },
              { name: 'MISSING', valueFrom: { configMapKeyRef: { name: NS, key: 'NONE', optional: true } } },
              { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'TOKEN' } } },
              { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            ],
          },
        ],
      ),
    ];
    expect(containerEnvironment(objects, { container: 'model-fetch' })).toEqual({
      P_X: '1',
      MLFLOW_TRACKING_URI: 'http://mlflow:5000',
    });
  });

  it("reads only the ConfigMap in the workload's namespace, and none when an optional one is absent", () => {
    const optional = inference({
      envFrom: [{ configMapRef: { name: 'cats-dogs-classifier', optional: true } }],
    });
    const objects = [
      configMap('cats-dogs-classifier', { A: '1' }, 'elsewhere'),
      workload('Deployment', [optional]),
    ];
    expect(containerEnvironment(objects)).toEqual({});
  });

  it('fails when the ConfigMap the container reads is not among the objects', () => {
    expect(() => containerEnvironment([workload('Deployment', [inference()])])).toThrow(
      "Deployment cats-dogs-classifier, container 'inference': reads ConfigMap 'cats-dogs-classifier', which is not there",
    );
  });

  it('fails when a configMapKeyRef names a key the ConfigMap lacks', () => {
    const c = {
      name: 'inference',
      env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'cm', key: 'A' } } }],
    };
    expect(() => containerEnvironment([configMap('cm', {}), workload('Deployment', [c])])).toThrow(
      "Deployment cats-dogs-classifier, container 'inference': ConfigMap 'cm' has no key 'A'",
    );
  });

  it('fails when there is no such workload or container', () => {
    const objects = [configMap('cats-dogs-classifier', {}), workload('Deployment', [inference()])];
    expect(() => containerEnvironment(objects, { workload: 'other' })).toThrow(
      "no Deployment or Rollout named 'other'",
    );
    expect(() => containerEnvironment(objects, { container: 'model-fetch' })).toThrow(
      "Deployment cats-dogs-classifier has no container named 'model-fetch'",
    );
  });
});

describe('readContainerEnvironment', () => {
  it('reads the objects of the generated files in a directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pod-environment-'));
    try {
      writeFileSync(join(dir, 'ConfigMap.cats-dogs-classifier.yaml'), toYaml(configMap(NS, { A: '1' })));
      const d = workload('Deployment', [inference({ env: [{ name: 'B', value: '2' }] })]);
      writeFileSync(join(dir, 'Deployment.cats-dogs-classifier.yaml'), toYaml(d));
      writeFileSync(join(dir, 'notes.txt'), 'not an object');
      expect(readContainerEnvironment(dir)).toEqual({ A: '1', B: '2' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
