import {
  argPlaceholder,
  CANARY_HASH_ARG,
  canaryAnalysisMetrics,
  renderAnalysisQuery,
  STABLE_HASH_ARG,
} from '../src/monitoring/canary-analysis';

const PROPS = {
  jobName: 'shop',
  predictRoute: '/predict',
  windowSeconds: 90,
  minPredictions: 40,
  maxErrorRatio: 0.02,
  maxLatencyP99Seconds: 0.3,
  maxPredictionMixDistance: 0.1,
};

describe('canaryAnalysisMetrics', () => {
  const metrics = canaryAnalysisMetrics(PROPS);
  const byName = Object.fromEntries(metrics.map((m) => [m.name, m]));

  it('judges the error ratio, p99 latency and prediction mix, each with its threshold both ways', () => {
    expect(metrics.map((m) => m.name)).toEqual(['error-ratio', 'latency-p99', 'prediction-mix-distance']);
    expect(byName['error-ratio']).toMatchObject({
      successCondition: 'len(result) > 0 && result[0] <= 0.02',
      failureCondition: 'len(result) > 0 && result[0] > 0.02',
    });
    expect(byName['latency-p99']!.successCondition).toContain('<= 0.3');
    expect(byName['prediction-mix-distance']!.failureCondition).toContain('> 0.1');
  });

  it('selects the service job and one pod template hash per side, over the window, probes excluded', () => {
    for (const m of metrics) {
      expect(m.query).toContain('job="shop"');
      expect(m.query).toContain(`rollouts_pod_template_hash="${argPlaceholder(CANARY_HASH_ARG)}"`);
      expect(m.query).toContain('[90s]');
    }
    expect(byName['error-ratio']!.query).toContain('route!~"/health|/ready|/metrics"');
    expect(byName['latency-p99']!.query).toContain('route="/predict"');
    expect(byName['prediction-mix-distance']!.query).toContain(argPlaceholder(STABLE_HASH_ARG));
    expect(byName['prediction-mix-distance']!.query).toContain('>= 40');
  });
});

describe('renderAnalysisQuery', () => {
  it('replaces every {{args.*}} placeholder as Argo Rollouts does', () => {
    expect(
      renderAnalysisQuery('a{h="{{args.canary-hash}}"} / b{h="{{ args.stable-hash }}"}', {
        'canary-hash': 'c1',
        'stable-hash': 's1',
      }),
    ).toBe('a{h="c1"} / b{h="s1"}');
  });

  it('fails naming the argument a query uses but was not given', () => {
    expect(() => renderAnalysisQuery('x{h="{{args.canary-hash}}"}', {})).toThrow(
      "analysis query uses {{args.canary-hash}} but no argument 'canary-hash' was given",
    );
  });
});
