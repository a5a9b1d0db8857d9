import type { ModelPin } from '../../src/config/model-pin';
import { ModelSource } from '../../src/model-source';

/** A valid pin for construct tests. */
export const PIN: ModelPin = {
  name: 'cats-dogs-classifier',
  version: '7',
  sha256: 'a'.repeat(64),
  files: { MLmodel: 'b'.repeat(64), 'labels.json': 'c'.repeat(64), 'model.onnx': 'a'.repeat(64) },
  source: 'mlflow-artifacts:/1/0123456789abcdef0123456789abcdef/artifacts/model',
  runId: '0123456789abcdef0123456789abcdef',
};

/** A registry source for {@link PIN} following the `production` alias through an in-cluster MLflow. */
export const REGISTRY_SOURCE = ModelSource.fromRegistry(
  PIN,
  { alias: 'production' },
  { trackingUri: 'http://mlflow.mlflow:5000', namespace: 'mlflow' },
);
