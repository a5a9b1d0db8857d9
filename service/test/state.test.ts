import type { InferenceEngine, LoadedModel } from '../src/state';
import { ServiceState } from '../src/state';

/** A loaded model with only the fields the state reads. */
const loaded = { engine: { liveWorkers: 1 } as InferenceEngine } as Omit<LoadedModel, 'name' | 'version'>;

describe('ServiceState', () => {
  test('names the served model before it loads, and is ready once it is set, under that name and version', () => {
    const state = new ServiceState({ name: 'tiny', version: '7' });
    expect(state.served).toEqual({ name: 'tiny', version: '7' });
    expect(state.notReadyReason()).toBe('model_loading');
    state.setModel(loaded);
    expect(state.notReadyReason()).toBeNull();
    expect(state.model).toMatchObject({ name: 'tiny', version: '7' });
  });
});
