import type { EvaluationPolicy } from '../../../charts/src/config';
import { agreement, type Evaluation } from './evaluate';

/** The thresholds of a policy (what {@link judge} reads). */
export type Thresholds = Pick<
  EvaluationPolicy,
  'minAccuracy' | 'minRecall' | 'maxAccuracyDrop' | 'minAgreement'
>;

/** One threshold the challenger missed. */
export interface ThresholdFailure {
  /** The config key, e.g. `minAccuracy`. */
  readonly threshold: keyof Thresholds;
  /** One line: the threshold, its value and what was measured. */
  readonly message: string;
}

/** The verdict on a challenger. */
export interface Verdict {
  readonly passed: boolean;
  readonly failures: readonly ThresholdFailure[];
  /** Challenger accuracy minus champion accuracy (undefined without a champion). */
  readonly accuracyDelta?: number;
  /** Top-1 agreement with the champion (undefined without a champion). */
  readonly agreement?: number;
}

const pct = (v: number): string => `${(v * 100).toFixed(1)} %`;

/**
 * Applies the thresholds: `minAccuracy` and `minRecall` (every golden class) to the challenger alone;
 * `maxAccuracyDrop` and `minAgreement` against the champion, when there is one (a first promotion has none).
 */
export function judge(t: Thresholds, challenger: Evaluation, champion?: Evaluation): Verdict {
  const failures: ThresholdFailure[] = [];
  if (challenger.accuracy < t.minAccuracy) {
    failures.push({
      threshold: 'minAccuracy',
      message: `accuracy ${pct(challenger.accuracy)} is below minAccuracy ${pct(t.minAccuracy)}`,
    });
  }
  for (const c of challenger.perClass) {
    if (c.recall < t.minRecall) {
      failures.push({
        threshold: 'minRecall',
        message: `recall of '${c.label}' ${pct(c.recall)} (${c.correct}/${c.count}) is below minRecall ${pct(t.minRecall)}`,
      });
    }
  }
  if (!champion) return { passed: failures.length === 0, failures };
  const delta = challenger.accuracy - champion.accuracy;
  // A tolerance for float rounding: a drop of exactly the allowed amount passes.
  if (-delta > t.maxAccuracyDrop + 1e-9) {
    failures.push({
      threshold: 'maxAccuracyDrop',
      message:
        `accuracy drops by ${pct(-delta)} against the champion (${pct(champion.accuracy)} → ${pct(challenger.accuracy)}), ` +
        `more than maxAccuracyDrop ${pct(t.maxAccuracyDrop)}`,
    });
  }
  const agree = agreement(challenger, champion);
  if (t.minAgreement !== undefined && agree < t.minAgreement) {
    failures.push({
      threshold: 'minAgreement',
      message: `top-1 agreement with the champion ${pct(agree)} is below minAgreement ${pct(t.minAgreement)}`,
    });
  }
  return { passed: failures.length === 0, failures, accuracyDelta: delta, agreement: agree };
}
