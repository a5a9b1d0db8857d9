import type { InferenceEngine, LoadedModel } from '../src/state';
import { ServiceState } from '../src/state';

/** A loaded model with only the fields the state reads. */
function loaded(name: string, version: string): LoadedModel {
  return { name, version, engine: { liveWorkers: 1 } as InferenceEngine } as LoadedModel;
}

describe('ServiceState', () => {
  test('names the served model before it loads, and is ready once it is set', () => {
    const state = new ServiceState({ name: 'tiny', version: '7' });
    expect(state.served).toEqual({ name: 'tiny', version: '7' });
    expect(state.notReadyReason()).toBe('model_loading');
    state.setModel(loaded('tiny', '7'));
    expect(state.notReadyReason()).toBeNull();
  });

  test('fails when the loaded model is not the served one', () => {
    const state = new ServiceState({ name: 'tiny', version: '7' });
    expect(() => state.setModel(loaded('tiny', '8'))).toThrow(
      "the loaded model 'tiny' version '8' is not the served one, 'tiny' version '7'",
    );
    expect(state.model).toBeNull();
  });
});
