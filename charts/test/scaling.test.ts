import { Duration } from 'cdk8s';
import { autoscalingProblems, resolveAutoscaling, Scaling } from '../src/scaling';
import { messageOf } from './support/errors';

describe('Scaling', () => {
  it('fills every autoscaling default', () => {
    const a = Scaling.autoscaled().autoscaling!;
    expect({
      ...a,
      scaleUpPeriod: a.scaleUpPeriod.toSeconds(),
      scaleDownStabilizationWindow: a.scaleDownStabilizationWindow.toSeconds(),
      scaleDownPeriod: a.scaleDownPeriod.toSeconds(),
    }).toEqual({
      minReplicas: 3,
      maxReplicas: 10,
      cpuUtilizationPercent: 70,
      memoryUtilizationPercent: 80,
      scaleUpPercent: 100,
      scaleUpPods: 1,
      scaleUpPeriod: 60,
      scaleDownStabilizationWindow: 300,
      scaleDownPercent: 50,
      scaleDownPeriod: 60,
      minAvailable: 2,
    });
    expect(Scaling.autoscaled().replicas).toBeUndefined();
  });

  it('keeps every option given', () => {
    const options = {
      minReplicas: 4,
      maxReplicas: 9,
      cpuUtilizationPercent: 60,
      memoryUtilizationPercent: 75,
      scaleUpPercent: 200,
      scaleUpPods: 3,
      scaleUpPeriod: Duration.seconds(30),
      scaleDownStabilizationWindow: Duration.minutes(10),
      scaleDownPercent: 25,
      scaleDownPeriod: Duration.seconds(120),
      minAvailable: 3,
    };
    expect(Scaling.autoscaled(options).autoscaling).toEqual(options);
  });

  it('fixes one replica by default', () => {
    expect(Scaling.fixed().replicas).toBe(1);
    expect(Scaling.fixed().autoscaling).toBeUndefined();
    expect(Scaling.fixed(4).replicas).toBe(4);
  });

  it('fails when minReplicas > maxReplicas', () => {
    expect(messageOf(() => Scaling.autoscaled({ minReplicas: 11, maxReplicas: 10 }))).toBe(
      "'minReplicas' (11) must be ≤ 'maxReplicas' (10): lower minReplicas or raise maxReplicas.",
    );
  });

  it('accepts minReplicas equal to maxReplicas (a fixed-size autoscaled set)', () => {
    expect(Scaling.autoscaled({ minReplicas: 3, maxReplicas: 3 }).autoscaling).toMatchObject({
      minReplicas: 3,
      maxReplicas: 3,
    });
  });

  it('reports only the malformed count, not the comparisons it would spoil', () => {
    const problems = autoscalingProblems(resolveAutoscaling({ minReplicas: 0 }), (f) => `'${f}'`);
    expect(problems).toEqual([{ field: 'minReplicas', message: '(0) must be an integer ≥ 1' }]);
  });

  it('fails when minAvailable >= minReplicas', () => {
    expect(messageOf(() => Scaling.autoscaled({ minReplicas: 2 }))).toBe(
      "'minAvailable' (2) must be < 'minReplicas' (2), otherwise no pod may ever be evicted and every node drain " +
        'blocks: lower minAvailable or raise minReplicas.',
    );
  });

  it('fails on a non-integer or zero count', () => {
    expect(messageOf(() => Scaling.fixed(0))).toBe("'replicas' (0) must be an integer ≥ 1.");
    expect(messageOf(() => Scaling.fixed(1.5))).toBe("'replicas' (1.5) must be an integer ≥ 1.");
    expect(messageOf(() => Scaling.autoscaled({ maxReplicas: 2.5 }))).toBe(
      "'maxReplicas' (2.5) must be an integer ≥ 1.",
    );
    expect(messageOf(() => Scaling.autoscaled({ minAvailable: -1 }))).toBe(
      "'minAvailable' (-1) must be an integer ≥ 0.",
    );
  });

  it('fails on a period that is not a whole number of seconds, or zero', () => {
    expect(messageOf(() => Scaling.autoscaled({ scaleUpPeriod: Duration.millis(1500) }))).toBe(
      "'scaleUpPeriod' (1.5 s) must be a whole number of seconds ≥ 1.",
    );
    expect(messageOf(() => Scaling.autoscaled({ scaleDownPeriod: Duration.seconds(0) }))).toBe(
      "'scaleDownPeriod' (0 s) must be a whole number of seconds ≥ 1.",
    );
    expect(
      Scaling.autoscaled({ scaleDownStabilizationWindow: Duration.seconds(0) }).autoscaling,
    ).toBeDefined();
  });

  it('fails on a scale-down window over the HPA API bound of an hour', () => {
    expect(messageOf(() => Scaling.autoscaled({ scaleDownStabilizationWindow: Duration.hours(2) }))).toBe(
      "'scaleDownStabilizationWindow' (7200 s) must be ≤ 3600: the HPA API allows at most an hour.",
    );
    expect(Scaling.autoscaled({ scaleDownStabilizationWindow: Duration.hours(1) }).autoscaling).toBeDefined();
  });

  it('names the fields as the caller renders them', () => {
    const problems = autoscalingProblems(resolveAutoscaling({ minReplicas: 12 }), (f) => `'hpa.${f}'`);
    expect(problems).toEqual([
      {
        field: 'minReplicas',
        message: "(12) must be ≤ 'hpa.maxReplicas' (10): lower minReplicas or raise maxReplicas",
      },
    ]);
  });
});
