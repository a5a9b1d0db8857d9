/** One step of a canary, in Argo Rollouts' own words. */
export type CanaryStep =
  /** Send this share (percent, 1–100) of the pods, hence of the traffic, to the new version. */
  | { readonly setWeight: number }
  /** Wait; `seconds` is required (a pause without a duration waits for a manual promote). */
  | { readonly pause: { readonly seconds?: number } }
  /** Run the metric analysis (error ratio, p99 latency, prediction mix against the stable pods). */
  | { readonly analysis: Readonly<Record<string, never>> };

/** Settings of the canary's metric analysis (an Argo Rollouts AnalysisTemplate, Prometheus provider). */
export interface CanaryAnalysisOptions {
  /**
   * Prometheus as the Argo Rollouts controller reaches it.
   * @default 'http://prometheus-operated.monitoring.svc:9090' (kube-prometheus-stack)
   */
  readonly prometheusAddress?: string;
  /**
   * Seconds between two measurements of one analysis step.
   * @default 60
   */
  readonly intervalSeconds?: number;
  /**
   * Measurements per analysis step (the step lasts about count × intervalSeconds).
   * @default 5
   */
  readonly count?: number;
  /**
   * Range of each measurement's rate(), in seconds; at least two scrapes of the ServiceMonitor (30 s).
   * @default 120
   */
  readonly windowSeconds?: number;
  /**
   * Failed measurements an analysis tolerates before it fails and the rollout aborts; must be < count.
   * @default 1
   */
  readonly failureLimit?: number;
  /**
   * Inconclusive measurements (too little canary traffic to judge) tolerated before the analysis turns
   * Inconclusive and the rollout pauses for a person; must be < count.
   * @default 2
   */
  readonly inconclusiveLimit?: number;
  /**
   * Highest share (0 < x < 1) of the canary's requests answered with a 5xx.
   * @default 0.05 (the InferenceHighErrorRatio alert's threshold)
   */
  readonly maxErrorRatio?: number;
  /**
   * Highest p99 latency of the canary's /predict, in seconds.
   * @default 0.5 (the latency SLO)
   */
  readonly maxLatencyP99Seconds?: number;
  /**
   * Highest total-variation distance (0 < x ≤ 1) between the canary's and the stable pods' predicted-class
   * shares: half the sum over classes of |canary share − stable share|.
   * @default 0.2 (the InferencePredictionMixDrift alert's threshold)
   */
  readonly maxPredictionMixDistance?: number;
  /**
   * Canary predictions needed in the window before the class mix is judged (fewer: inconclusive).
   * @default 50
   */
  readonly minPredictions?: number;
}

/** Options of {@link Delivery.canary}. */
export interface CanaryOptions {
  /**
   * The steps; after the last one the canary becomes stable (100 %).
   * @default 10 % → pause 60 s → analysis → 50 % → pause 60 s → analysis
   */
  readonly steps?: readonly CanaryStep[];
  /**
   * The metric analysis' thresholds and cadence.
   * @default - every {@link CanaryAnalysisOptions} default
   */
  readonly analysis?: CanaryAnalysisOptions;
  /**
   * Run `model-gitops smoke` as a Job against the canary Service right after the first weight (a registry
   * model only: smoke checks the pinned version).
   * @default true
   */
  readonly smoke?: boolean;
  /**
   * Seconds a step may make no progress (pods not ready) before the rollout aborts.
   * @default 600
   */
  readonly progressDeadlineSeconds?: number;
}

/** The default steps: 10 % → pause 60 s → analysis → 50 % → pause 60 s → analysis → 100 %. */
export const DEFAULT_CANARY_STEPS: readonly CanaryStep[] = [
  { setWeight: 10 },
  { pause: { seconds: 60 } },
  { analysis: {} },
  { setWeight: 50 },
  { pause: { seconds: 60 } },
  { analysis: {} },
];

/** Canary settings with every default filled in. */
export interface ResolvedCanary {
  readonly steps: readonly CanaryStep[];
  readonly analysis: Required<CanaryAnalysisOptions>;
  readonly smoke: boolean;
  readonly progressDeadlineSeconds: number;
}

/**
 * How a new pod template reaches the users. Build with {@link Delivery.rolling} (a Deployment's rolling update:
 * works on every cluster) or {@link Delivery.canary} (an Argo Rollouts Rollout: needs its controller).
 */
export class Delivery {
  /** A Deployment with a rolling update: every pod moves to the new template, no analysis. */
  public static rolling(): Delivery {
    return new Delivery(undefined);
  }

  /**
   * An Argo Rollouts canary: a share of the pods first, judged by live metrics, aborted automatically. Throws a
   * message naming the option (relative to the options: `steps[2].setWeight`, `analysis.count`), the value and the
   * fix when the settings contradict each other.
   */
  public static canary(options: CanaryOptions = {}): Delivery {
    const a = options.analysis ?? {};
    const canary: ResolvedCanary = {
      steps: options.steps ?? DEFAULT_CANARY_STEPS,
      analysis: {
        prometheusAddress: a.prometheusAddress ?? 'http://prometheus-operated.monitoring.svc:9090',
        intervalSeconds: a.intervalSeconds ?? 60,
        count: a.count ?? 5,
        windowSeconds: a.windowSeconds ?? 120,
        failureLimit: a.failureLimit ?? 1,
        inconclusiveLimit: a.inconclusiveLimit ?? 2,
        maxErrorRatio: a.maxErrorRatio ?? 0.05,
        maxLatencyP99Seconds: a.maxLatencyP99Seconds ?? 0.5,
        maxPredictionMixDistance: a.maxPredictionMixDistance ?? 0.2,
        minPredictions: a.minPredictions ?? 50,
      },
      smoke: options.smoke ?? true,
      progressDeadlineSeconds: options.progressDeadlineSeconds ?? 600,
    };
    Delivery.validate(canary);
    return new Delivery(canary);
  }

  private constructor(
    /** The canary settings, when delivered as a canary. */
    public readonly canary: ResolvedCanary | undefined,
  ) {}

  private static validate(c: ResolvedCanary): void {
    if (c.steps.length === 0) {
      throw new Error("'steps' ([]) must list at least one step: e.g. [{setWeight: 10}, {analysis: {}}].");
    }
    let lastWeight = 0;
    c.steps.forEach((step, i) => {
      const at = `steps[${i}]`;
      const kinds = Object.keys(step);
      if (kinds.length !== 1 || !['setWeight', 'pause', 'analysis'].includes(kinds[0]!)) {
        throw new Error(
          `'${at}' (${JSON.stringify(step)}) must be exactly one of {setWeight: n}, {pause: {seconds: n}} or {analysis: {}}.`,
        );
      }
      if ('setWeight' in step) {
        const w = step.setWeight;
        if (!Number.isInteger(w) || w < 1 || w > 99) {
          throw new Error(
            `'${at}.setWeight' (${w}) must be a whole percentage 1–99: at 100 every user is on the new model ` +
              'before the steps after it can judge it, and the rollout goes to 100 % by itself after the last step.',
          );
        }
        if (w <= lastWeight) {
          throw new Error(
            `'${at}.setWeight' (${w}) must be greater than the weight before it (${lastWeight}): ` +
              'weights only grow during a canary; reorder the steps or drop this one.',
          );
        }
        lastWeight = w;
      } else if (lastWeight === 0) {
        throw new Error(
          `'${at}' comes before any setWeight: no canary pod runs yet, so there is nothing to ` +
            `${'pause' in step ? 'wait for' : 'analyse'}; start the steps with {setWeight: n}.`,
        );
      } else if ('pause' in step) {
        const s = step.pause.seconds;
        if (s === undefined) {
          throw new Error(
            `'${at}.pause.seconds' is missing: a pause without a duration waits for a manual ` +
              '`kubectl argo rollouts promote`, which the automated pipeline never runs; give the seconds to wait.',
          );
        }
        if (!Number.isInteger(s) || s < 1)
          throw new Error(`'${at}.pause.seconds' (${s}) must be a whole number ≥ 1.`);
      }
    });
    if (!c.steps.some((s) => 'analysis' in s)) {
      throw new Error(
        "'steps' has no {analysis: {}} step: nothing would judge the canary before it takes all the traffic; " +
          'add one after a setWeight.',
      );
    }
    const a = c.analysis;
    if (!/^https?:\/\/[^\s/]+(\/\S*)?$/.test(a.prometheusAddress)) {
      throw new Error(
        `'analysis.prometheusAddress' (${JSON.stringify(a.prometheusAddress)}) must be an http(s) URL: ` +
          'e.g. http://prometheus-operated.monitoring.svc:9090.',
      );
    }
    for (const key of ['intervalSeconds', 'count', 'windowSeconds', 'minPredictions'] as const) {
      if (!Number.isInteger(a[key]) || a[key] < 1) {
        throw new Error(`'analysis.${key}' (${a[key]}) must be a whole number ≥ 1.`);
      }
    }
    for (const key of ['failureLimit', 'inconclusiveLimit'] as const) {
      if (!Number.isInteger(a[key]) || a[key] < 0) {
        throw new Error(`'analysis.${key}' (${a[key]}) must be a whole number ≥ 0.`);
      }
      if (a[key] >= a.count) {
        throw new Error(
          `'analysis.${key}' (${a[key]}) must be < 'analysis.count' (${a.count}), or the analysis could never ` +
            `${key === 'failureLimit' ? 'fail' : 'turn inconclusive, and no traffic at all would pass'}: ` +
            `lower ${key} or raise count.`,
        );
      }
    }
    if (!(a.maxErrorRatio > 0 && a.maxErrorRatio < 1)) {
      throw new Error(
        `'analysis.maxErrorRatio' (${a.maxErrorRatio}) must be a fraction 0 < x < 1: e.g. 0.05 for 5 %.`,
      );
    }
    if (!(a.maxPredictionMixDistance > 0 && a.maxPredictionMixDistance <= 1)) {
      throw new Error(
        `'analysis.maxPredictionMixDistance' (${a.maxPredictionMixDistance}) must be a fraction 0 < x ≤ 1: ` +
          'e.g. 0.2 (1 would accept any mix).',
      );
    }
    if (!(a.maxLatencyP99Seconds > 0 && Number.isFinite(a.maxLatencyP99Seconds))) {
      throw new Error(
        `'analysis.maxLatencyP99Seconds' (${a.maxLatencyP99Seconds}) must be a positive number of seconds.`,
      );
    }
    if (!Number.isInteger(c.progressDeadlineSeconds) || c.progressDeadlineSeconds < 1) {
      throw new Error(`'progressDeadlineSeconds' (${c.progressDeadlineSeconds}) must be a whole number ≥ 1.`);
    }
  }
}
