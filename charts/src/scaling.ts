import { Duration } from 'cdk8s';

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
   * Length of one scale-up period (whole seconds).
   * @default Duration.seconds(60)
   */
  readonly scaleUpPeriod?: Duration;
  /**
   * Recommendations of this window are considered before scaling down (avoids flapping; whole seconds).
   * @default Duration.minutes(5)
   */
  readonly scaleDownStabilizationWindow?: Duration;
  /**
   * Scale down by at most this percentage of the current replicas per period.
   * @default 50
   */
  readonly scaleDownPercent?: number;
  /**
   * Length of one scale-down period (whole seconds).
   * @default Duration.seconds(60)
   */
  readonly scaleDownPeriod?: Duration;
  /**
   * PodDisruptionBudget minAvailable; must stay below minReplicas or every node drain blocks.
   * @default 2
   */
  readonly minAvailable?: number;
}

/** Autoscaling settings with every default filled in. */
export type ResolvedAutoscaling = Required<AutoscalingOptions>;

/** A field of {@link AutoscalingOptions}. */
export type AutoscalingField = keyof AutoscalingOptions;

/** One broken rule: the field at fault and the message that follows its name. */
export interface AutoscalingProblem {
  readonly field: AutoscalingField;
  readonly message: string;
}

/**
 * Who owns the replica count. Build with {@link Scaling.fixed} (a Deployment `replicas`, no HPA, no PDB — for a
 * laptop cluster) or {@link Scaling.autoscaled} (an HPA owns the count, a PDB protects it). Both factories reject
 * invalid settings, naming the option, the value and the fix.
 */
export class Scaling {
  /** A fixed replica count written into the Deployment; no HPA and no PDB. */
  public static fixed(replicas: number = 1): Scaling {
    if (!Number.isInteger(replicas) || replicas < 1) {
      throw new Error(`'replicas' (${replicas}) must be an integer ≥ 1.`);
    }
    return new Scaling(replicas, undefined);
  }

  /** An autoscaling/v2 HPA owns the count (the Deployment carries no `replicas`), with a policy/v1 PDB. */
  public static autoscaled(options: AutoscalingOptions = {}): Scaling {
    const resolved = resolveAutoscaling(options);
    const [problem] = autoscalingProblems(resolved, (field) => `'${field}'`);
    if (problem) throw new Error(`'${problem.field}' ${problem.message}.`);
    return new Scaling(undefined, resolved);
  }

  private constructor(
    /** The fixed count, when no HPA owns it. */
    public readonly replicas: number | undefined,
    /** The HPA/PDB settings with every default filled in, when autoscaled. */
    public readonly autoscaling: ResolvedAutoscaling | undefined,
  ) {}
}

/** {@link AutoscalingOptions} with the defaults filled in. */
export function resolveAutoscaling(options: AutoscalingOptions): ResolvedAutoscaling {
  return {
    minReplicas: options.minReplicas ?? 3,
    maxReplicas: options.maxReplicas ?? 10,
    cpuUtilizationPercent: options.cpuUtilizationPercent ?? 70,
    memoryUtilizationPercent: options.memoryUtilizationPercent ?? 80,
    scaleUpPercent: options.scaleUpPercent ?? 100,
    scaleUpPods: options.scaleUpPods ?? 1,
    scaleUpPeriod: options.scaleUpPeriod ?? Duration.seconds(60),
    scaleDownStabilizationWindow: options.scaleDownStabilizationWindow ?? Duration.minutes(5),
    scaleDownPercent: options.scaleDownPercent ?? 50,
    scaleDownPeriod: options.scaleDownPeriod ?? Duration.seconds(60),
    minAvailable: options.minAvailable ?? 2,
  };
}

const COUNTS = [
  'minReplicas',
  'maxReplicas',
  'cpuUtilizationPercent',
  'memoryUtilizationPercent',
  'scaleUpPercent',
  'scaleUpPods',
  'scaleDownPercent',
  'minAvailable',
] as const;
const PERIODS = ['scaleUpPeriod', 'scaleDownStabilizationWindow', 'scaleDownPeriod'] as const;

/**
 * The rules of resolved autoscaling settings. `name` renders a field as the caller's user knows it (an option, or the
 * config path); each message follows the field's name.
 */
export function autoscalingProblems(
  a: ResolvedAutoscaling,
  name: (field: AutoscalingField) => string,
): AutoscalingProblem[] {
  const problems: AutoscalingProblem[] = [];
  for (const field of COUNTS) {
    const min = field === 'minAvailable' ? 0 : 1;
    if (!Number.isInteger(a[field]) || a[field] < min) {
      problems.push({ field, message: `(${a[field]}) must be an integer ≥ ${min}` });
    }
  }
  for (const field of PERIODS) {
    const seconds = a[field].toSeconds({ integral: false });
    const min = field === 'scaleDownStabilizationWindow' ? 0 : 1;
    if (!Number.isInteger(seconds) || seconds < min) {
      problems.push({ field, message: `(${seconds} s) must be a whole number of seconds ≥ ${min}` });
    } else if (field === 'scaleDownStabilizationWindow' && seconds > 3600) {
      problems.push({ field, message: `(${seconds} s) must be ≤ 3600: the HPA API allows at most an hour` });
    }
  }
  if (problems.length > 0) return problems;
  if (a.minReplicas > a.maxReplicas) {
    problems.push({
      field: 'minReplicas',
      message:
        `(${a.minReplicas}) must be ≤ ${name('maxReplicas')} (${a.maxReplicas}): ` +
        'lower minReplicas or raise maxReplicas',
    });
  }
  if (a.minAvailable >= a.minReplicas) {
    problems.push({
      field: 'minAvailable',
      message:
        `(${a.minAvailable}) must be < ${name('minReplicas')} (${a.minReplicas}), otherwise no pod may ever be ` +
        'evicted and every node drain blocks: lower minAvailable or raise minReplicas',
    });
  }
  return problems;
}
