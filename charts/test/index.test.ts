import * as charts from '../src';

describe('charts/src/index', () => {
  it('re-exports the public API: constructs, factories, config loaders and synth', () => {
    for (const name of [
      'InferenceService',
      'WebhookRelay',
      'EnvironmentChart',
      'ArgoCdChart',
      'ExternalSecret',
      'Scaling',
      'ServiceExposure',
      'Delivery',
      'CanaryRollout',
      'readEnvironmentConfig',
      'readArgoCdConfig',
      'readModelPin',
      'writeModelPin',
      'synthesize',
      'writeFiles',
    ]) {
      expect({ name, exported: typeof (charts as Record<string, unknown>)[name] }).toEqual({
        name,
        exported: 'function',
      });
    }
    expect(typeof charts.ModelSource.fromRegistry).toBe('function');
    expect(typeof charts.ModelSource.baked).toBe('function');
  });
});
