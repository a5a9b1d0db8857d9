import { ModelSource } from '../src/model-source';
import { PIN } from './support/pins';

describe('ModelSource', () => {
  it('fromRegistry keeps the pin, the selector and the MLflow connection', () => {
    const mlflow = { trackingUri: 'http://mlflow:5000', namespace: 'mlflow' };
    const source = ModelSource.fromRegistry(PIN, { stage: 'Staging' }, mlflow);
    expect([source.pin, source.selector, source.mlflow, source.bakedModelDir]).toEqual([
      PIN,
      { stage: 'Staging' },
      mlflow,
      undefined,
    ]);
  });

  it('baked defaults to the default model directory of the image and needs no MLflow', () => {
    const source = ModelSource.baked();
    expect([source.bakedModelDir, source.pin, source.mlflow]).toEqual([
      '/app/service/models/default',
      undefined,
      undefined,
    ]);
    expect(ModelSource.baked('/opt/model').bakedModelDir).toBe('/opt/model');
  });
});
