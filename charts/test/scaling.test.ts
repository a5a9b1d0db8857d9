import { Scaling } from '../src/scaling';

describe('Scaling', () => {
  it('fills every autoscaling default', () => {
    expect(Scaling.autoscaled().autoscaling).toEqual({
      minReplicas: 3,
      maxReplicas: 10,
      cpuUtilizationPercent: 70,
      memoryUtilizationPercent: 80,
      scaleUpPercent: 100,
      scaleUpPods: 1,
      scaleUpPeriodSeconds: 60,
      scaleDownStabilizationWindowSeconds: 300,
      scaleDownPercent: 50,
      scaleDownPeriodSeconds: 60,
      minAvailable: 2,
    });
  });

  it('fixes one replica by default', () => {
    expect(Scaling.fixed().replicas).toBe(1);
    expect(Scaling.fixed().autoscaling).toBeUndefined();
  });

  it('fails when minReplicas > maxReplicas', () => {
    expect(() => Scaling.autoscaled({ minReplicas: 11, maxReplicas: 10 }).validate()).toThrow(
      "'minReplicas' (11) must be ≤ 'maxReplicas' (10): lower minReplicas or raise maxReplicas.",
    );
  });

  it('fails when minAvailable >= minReplicas', () => {
    expect(() => Scaling.autoscaled({ minReplicas: 2 }).validate()).toThrow(
      "PodDisruptionBudget 'minAvailable' (2) must be < 'minReplicas' (2), otherwise no pod may ever be evicted",
    );
  });

  it('fails on a non-integer or zero count', () => {
    expect(() => Scaling.fixed(0).validate()).toThrow("'replicas' (0) must be an integer ≥ 1.");
    expect(() => Scaling.autoscaled({ maxReplicas: 2.5 }).validate()).toThrow(
      "'maxReplicas' (2.5) must be an integer ≥ 1.",
    );
  });
});
