/** Options of {@link Scaling.autoscaled}: the HorizontalPodAutoscaler and the PodDisruptionBudget. */
export interface AutoscalingOptions {
  /**
   * Lowest replica count the HPA keeps.
   * @default 3
   */
  readonly minReplicas?: number;
  /**
   * Highest replica count the HPA may reach.
   * @default 10
   */
  readonly maxReplicas?: number;
  /**
   * Target average CPU utilization, in percent of the CPU request.
   * @default 70
   */
  readonly cpuUtilizationPercent?: number;
  /**
   * Target average memory utilization, in percent of the memory request.
   * @default 80
   */
  readonly memoryUtilizationPercent?: number;
  /**
   * Scale up by at most this percentage of the current replicas per period (or `scaleUpPods`, whichever is more).
   * @default 100
   */
  readonly scaleUpPercent?: number;
  /**
   * Scale up by at most this many pods per period (or `scaleUpPercent`, whichever is more).
   * @default 1
   */
  readonly scaleUpPods?: number;
  /**
   * Length of one scale-up period.
   * @default 60
   */
  readonly scaleUpPeriodSeconds?: number;
  /**
   * Recommendations of this window are considered before scaling down (avoids flapping).
   * @default 300
   */
  readonly scaleDownStabilizationWindowSeconds?: number;
  /**
   * Scale down by at most this percentage of the current replicas per period.
   * @default 50
   */
  readonly scaleDownPercent?: number;
  /**
   * Length of one scale-down period.
   * @default 60
   */
  readonly scaleDownPeriodSeconds?: number;
  /**
   * PodDisruptionBudget minAvailable; must stay below minReplicas or every node drain blocks.
   * @default 2
   */
  readonly minAvailable?: number;
}

/**
 * Who owns the replica count. Build with {@link Scaling.fixed} (a Deployment `replicas`, no HPA, no PDB — for a
 * laptop cluster) or {@link Scaling.autoscaled} (an HPA owns the count, a PDB protects it).
 */
export class Scaling {
  /** A fixed replica count written into the Deployment; no HPA and no PDB. */
  public static fixed(replicas: number = 1): Scaling {
    return new Scaling(replicas, undefined);
  }

  /** An autoscaling/v2 HPA owns the count (the Deployment carries no `replicas`), with a policy/v1 PDB. */
  public static autoscaled(options: AutoscalingOptions = {}): Scaling {
    return new Scaling(undefined, {
      minReplicas: options.minReplicas ?? 3,
      maxReplicas: options.maxReplicas ?? 10,
      cpuUtilizationPercent: options.cpuUtilizationPercent ?? 70,
      memoryUtilizationPercent: options.memoryUtilizationPercent ?? 80,
      scaleUpPercent: options.scaleUpPercent ?? 100,
      scaleUpPods: options.scaleUpPods ?? 1,
      scaleUpPeriodSeconds: options.scaleUpPeriodSeconds ?? 60,
      scaleDownStabilizationWindowSeconds: options.scaleDownStabilizationWindowSeconds ?? 300,
      scaleDownPercent: options.scaleDownPercent ?? 50,
      scaleDownPeriodSeconds: options.scaleDownPeriodSeconds ?? 60,
      minAvailable: options.minAvailable ?? 2,
    });
  }

  private constructor(
    /** The fixed count, when no HPA owns it. */
    public readonly replicas: number | undefined,
    /** The HPA/PDB settings with every default filled in, when autoscaled. */
    public readonly autoscaling: Required<AutoscalingOptions> | undefined,
  ) {}

  /** Throws a message naming the option, the value and the fix when the settings contradict each other. */
  public validate(): void {
    if (this.replicas !== undefined) {
      positiveInteger('replicas', this.replicas);
      return;
    }
    const a = this.autoscaling!;
    for (const [key, value] of Object.entries(a)) positiveInteger(key, value, key === 'minAvailable' ? 0 : 1);
    if (a.minReplicas > a.maxReplicas) {
      throw new Error(
        `'minReplicas' (${a.minReplicas}) must be ≤ 'maxReplicas' (${a.maxReplicas}): lower minReplicas or raise maxReplicas.`,
      );
    }
    if (a.minAvailable >= a.minReplicas) {
      throw new Error(
        `PodDisruptionBudget 'minAvailable' (${a.minAvailable}) must be < 'minReplicas' (${a.minReplicas}), ` +
          'otherwise no pod may ever be evicted and every node drain blocks: lower minAvailable or raise minReplicas.',
      );
    }
  }
}

function positiveInteger(key: string, value: number, min = 1): void {
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`'${key}' (${value}) must be an integer ≥ ${min}.`);
  }
}
