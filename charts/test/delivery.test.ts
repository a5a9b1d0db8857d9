import { DEFAULT_CANARY_STEPS, Delivery } from '../src/delivery';
import { messageOf } from './support/errors';

describe('Delivery', () => {
  it('rolling has no canary settings', () => {
    expect(Delivery.rolling().canary).toBeUndefined();
  });

  it('canary alone is complete: 10 % → pause → analysis → 50 % → pause → analysis, smoke on, thresholds set', () => {
    const d = Delivery.canary();
    expect(d.canary!.steps).toEqual(DEFAULT_CANARY_STEPS);
    expect(d.canary!.smoke).toBe(true);
    expect(d.canary!.analysis).toMatchObject({
      maxErrorRatio: 0.05,
      maxLatencyP99Seconds: 0.5,
      maxPredictionMixDistance: 0.2,
      failureLimit: 1,
      inconclusiveLimit: 2,
      count: 5,
    });
  });

  it('fails when weights do not increase, naming the step and the fix', () => {
    const steps = [{ setWeight: 50 }, { analysis: {} }, { setWeight: 20 }];
    expect(messageOf(() => Delivery.canary({ steps }))).toBe(
      "'steps[2].setWeight' (20) must be greater than the weight before it (50): weights only grow during a " +
        'canary; reorder the steps or drop this one.',
    );
  });

  it('fails when a weight is outside 1–100', () => {
    expect(messageOf(() => Delivery.canary({ steps: [{ setWeight: 0 }, { analysis: {} }] }))).toBe(
      "'steps[0].setWeight' (0) must be a whole percentage 1–100.",
    );
    expect(messageOf(() => Delivery.canary({ steps: [{ setWeight: 120 }] }))).toContain('1–100');
  });

  it('fails when a pause has no duration (it would wait for a manual promote)', () => {
    const steps = [{ setWeight: 10 }, { pause: {} }, { analysis: {} }];
    expect(messageOf(() => Delivery.canary({ steps }))).toMatch(
      /^'steps\[1\]\.pause\.seconds' is missing: a pause without a duration waits for a manual `kubectl argo rollouts promote`/,
    );
  });

  it('fails when a pause or an analysis comes before the first weight', () => {
    expect(messageOf(() => Delivery.canary({ steps: [{ analysis: {} }, { setWeight: 10 }] }))).toContain(
      "'steps[0]' comes before any setWeight",
    );
  });

  it('fails when no step analyses the canary', () => {
    expect(
      messageOf(() => Delivery.canary({ steps: [{ setWeight: 10 }, { pause: { seconds: 5 } }] })),
    ).toContain("'steps' has no {analysis: {}} step");
  });

  it('fails when a step has two kinds at once', () => {
    const steps = [{ setWeight: 10, pause: { seconds: 1 } } as never];
    expect(messageOf(() => Delivery.canary({ steps }))).toContain('must be exactly one of');
  });

  it.each([
    [{ maxErrorRatio: 1 }, "'analysis.maxErrorRatio' (1) must be a fraction 0 < x < 1"],
    [{ maxErrorRatio: 0 }, "'analysis.maxErrorRatio' (0) must be a fraction 0 < x < 1"],
    [
      { maxPredictionMixDistance: 1.5 },
      "'analysis.maxPredictionMixDistance' (1.5) must be a fraction 0 < x ≤ 1",
    ],
    [
      { maxLatencyP99Seconds: -1 },
      "'analysis.maxLatencyP99Seconds' (-1) must be a positive number of seconds",
    ],
    [{ count: 0 }, "'analysis.count' (0) must be a whole number ≥ 1"],
    [
      { failureLimit: 5 },
      "'analysis.failureLimit' (5) must be < 'analysis.count' (5), or the analysis could never fail",
    ],
    [{ inconclusiveLimit: 5 }, 'no traffic at all would pass'],
    [
      { prometheusAddress: 'prometheus:9090' },
      '\'analysis.prometheusAddress\' ("prometheus:9090") must be an http(s) URL',
    ],
  ])('fails when the analysis has %j', (analysis, message) => {
    expect(messageOf(() => Delivery.canary({ analysis }))).toContain(message);
  });
});
