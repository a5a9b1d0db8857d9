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
    expect(d.canary!.progressDeadlineSeconds).toBe(600);
    expect(d.canary!.analysis).toEqual({
      prometheusAddress: 'http://prometheus-operated.monitoring.svc:9090',
      intervalSeconds: 60,
      count: 5,
      windowSeconds: 120,
      failureLimit: 1,
      inconclusiveLimit: 2,
      maxErrorRatio: 0.05,
      maxLatencyP99Seconds: 0.5,
      maxPredictionMixDistance: 0.2,
      minPredictions: 50,
    });
  });

  it('fails when there are no steps, naming the fix', () => {
    expect(messageOf(() => Delivery.canary({ steps: [] }))).toBe(
      "'steps' ([]) must list at least one step: e.g. [{setWeight: 10}, {analysis: {}}].",
    );
  });

  it.each([
    [{}, "'steps[0]' ({}) must be exactly one of {setWeight: n}, {pause: {seconds: n}} or {analysis: {}}."],
    [
      { wait: 5 },
      '\'steps[0]\' ({"wait":5}) must be exactly one of {setWeight: n}, {pause: {seconds: n}} or {analysis: {}}.',
    ],
  ])('fails when a step is %j, naming the three kinds', (step, message) => {
    expect(messageOf(() => Delivery.canary({ steps: [step as never] }))).toBe(message);
  });

  it.each([1, 99])('accepts a weight of %d (the ends of 1–99)', (w) => {
    expect(Delivery.canary({ steps: [{ setWeight: w }, { analysis: {} }] }).canary!.steps[0]).toEqual({
      setWeight: w,
    });
  });

  it.each([0, 100, 101, 10.5])('fails when a weight is %d, naming the range', (w) => {
    expect(messageOf(() => Delivery.canary({ steps: [{ setWeight: w }, { analysis: {} }] }))).toBe(
      `'steps[0].setWeight' (${w}) must be a whole percentage 1–99: at 100 every user is on the new model ` +
        'before the steps after it can judge it, and the rollout goes to 100 % by itself after the last step.',
    );
  });

  it('fails on a step to 100 % even after an analysis: the steps after it would judge a model every user already gets', () => {
    const steps = [{ setWeight: 10 }, { analysis: {} }, { setWeight: 100 }, { analysis: {} }];
    expect(messageOf(() => Delivery.canary({ steps }))).toContain(
      "'steps[2].setWeight' (100) must be a whole percentage 1–99",
    );
  });

  it('fails when a weight repeats the one before it', () => {
    const steps = [{ setWeight: 10 }, { analysis: {} }, { setWeight: 10 }];
    expect(messageOf(() => Delivery.canary({ steps }))).toBe(
      "'steps[2].setWeight' (10) must be greater than the weight before it (10): weights only grow during a " +
        'canary; reorder the steps or drop this one.',
    );
  });

  it.each([
    [{ pause: { seconds: 5 } }, 'wait for'],
    [{ analysis: {} }, 'analyse'],
  ])('fails when %j comes before the first weight, saying what there is nothing to do', (step, what) => {
    expect(messageOf(() => Delivery.canary({ steps: [step, { setWeight: 10 }, { analysis: {} }] }))).toBe(
      "'steps[0]' comes before any setWeight: no canary pod runs yet, so there is nothing to " +
        `${what}; start the steps with {setWeight: n}.`,
    );
  });

  it('accepts a pause of 1 s (the smallest)', () => {
    const steps = [{ setWeight: 10 }, { pause: { seconds: 1 } }, { analysis: {} }];
    expect(Delivery.canary({ steps }).canary!.steps).toEqual(steps);
  });

  it.each([0, 1.5])('fails when a pause lasts %d s', (seconds) => {
    const steps = [{ setWeight: 10 }, { pause: { seconds } }, { analysis: {} }];
    expect(messageOf(() => Delivery.canary({ steps }))).toBe(
      `'steps[1].pause.seconds' (${seconds}) must be a whole number ≥ 1.`,
    );
  });

  it.each([
    'http://prom:9090',
    'https://prometheus.example.org',
    'http://prom:9090/prometheus',
    'http://prom:9090/a/b/',
  ])('accepts the Prometheus address %s', (prometheusAddress) => {
    expect(Delivery.canary({ analysis: { prometheusAddress } }).canary!.analysis.prometheusAddress).toBe(
      prometheusAddress,
    );
  });

  it.each([
    'prometheus:9090',
    'xhttp://prom:9090',
    'http://prom:9090 extra',
    'http:///path',
    'http://prom/a b',
  ])('fails when the Prometheus address is %j, naming an example', (prometheusAddress) => {
    expect(messageOf(() => Delivery.canary({ analysis: { prometheusAddress } }))).toBe(
      `'analysis.prometheusAddress' (${JSON.stringify(prometheusAddress)}) must be an http(s) URL: ` +
        'e.g. http://prometheus-operated.monitoring.svc:9090.',
    );
  });

  it('accepts the smallest analysis: one measurement of 1 s over 1 s, no failure tolerated, 1 prediction', () => {
    const analysis = {
      intervalSeconds: 1,
      count: 1,
      windowSeconds: 1,
      minPredictions: 1,
      failureLimit: 0,
      inconclusiveLimit: 0,
    };
    expect(Delivery.canary({ analysis }).canary!.analysis).toMatchObject(analysis);
  });

  it.each(
    (['intervalSeconds', 'count', 'windowSeconds', 'minPredictions'] as const).flatMap((key) =>
      [0, 2.5].map((value) => [key, value] as const),
    ),
  )('fails when analysis.%s is %d', (key, value) => {
    expect(messageOf(() => Delivery.canary({ analysis: { [key]: value } }))).toBe(
      `'analysis.${key}' (${value}) must be a whole number ≥ 1.`,
    );
  });

  it.each(
    (['failureLimit', 'inconclusiveLimit'] as const).flatMap((key) =>
      [-1, 0.5].map((value) => [key, value] as const),
    ),
  )('fails when analysis.%s is %d', (key, value) => {
    expect(messageOf(() => Delivery.canary({ analysis: { [key]: value } }))).toBe(
      `'analysis.${key}' (${value}) must be a whole number ≥ 0.`,
    );
  });

  it.each([
    ['failureLimit', 'fail'],
    ['inconclusiveLimit', 'turn inconclusive, and no traffic at all would pass'],
  ] as const)('fails when analysis.%s reaches count, saying what could never happen', (key, what) => {
    expect(messageOf(() => Delivery.canary({ analysis: { count: 3, [key]: 3 } }))).toBe(
      `'analysis.${key}' (3) must be < 'analysis.count' (3), or the analysis could never ${what}: ` +
        `lower ${key} or raise count.`,
    );
  });

  it('accepts the largest prediction-mix distance (1) and tiny positive thresholds', () => {
    const analysis = { maxPredictionMixDistance: 1, maxErrorRatio: 0.001, maxLatencyP99Seconds: 0.001 };
    expect(Delivery.canary({ analysis }).canary!.analysis).toMatchObject(analysis);
  });

  it.each([0, 1.5])('fails when analysis.maxPredictionMixDistance is %d, naming an example', (value) => {
    expect(messageOf(() => Delivery.canary({ analysis: { maxPredictionMixDistance: value } }))).toBe(
      `'analysis.maxPredictionMixDistance' (${value}) must be a fraction 0 < x ≤ 1: e.g. 0.2 (1 would accept any mix).`,
    );
  });

  it.each([0, Infinity])('fails when analysis.maxLatencyP99Seconds is %d', (value) => {
    expect(messageOf(() => Delivery.canary({ analysis: { maxLatencyP99Seconds: value } }))).toBe(
      `'analysis.maxLatencyP99Seconds' (${value}) must be a positive number of seconds.`,
    );
  });

  it('accepts a progress deadline of 1 s (the smallest)', () => {
    expect(Delivery.canary({ progressDeadlineSeconds: 1 }).canary!.progressDeadlineSeconds).toBe(1);
  });

  it.each([0, 1.5])('fails when progressDeadlineSeconds is %d', (value) => {
    expect(messageOf(() => Delivery.canary({ progressDeadlineSeconds: value }))).toBe(
      `'progressDeadlineSeconds' (${value}) must be a whole number ≥ 1.`,
    );
  });

  it('fails when weights do not increase, naming the step and the fix', () => {
    const steps = [{ setWeight: 50 }, { analysis: {} }, { setWeight: 20 }];
    expect(messageOf(() => Delivery.canary({ steps }))).toBe(
      "'steps[2].setWeight' (20) must be greater than the weight before it (50): weights only grow during a " +
        'canary; reorder the steps or drop this one.',
    );
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
    expect(messageOf(() => Delivery.canary({ steps: [{ setWeight: 10 }, { pause: { seconds: 5 } }] }))).toBe(
      "'steps' has no {analysis: {}} step: nothing would judge the canary before it takes all the traffic; " +
        'add one after a setWeight.',
    );
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
