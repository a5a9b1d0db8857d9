import { judge } from '../../src/evaluation/policy';
import { evaluation } from '../support/evaluations';

const T = { minAccuracy: 0.8, minRecall: 0.7, maxAccuracyDrop: 0.05, minAgreement: 0.8 };
const perfect = evaluation(
  ['cat', 'dog'],
  [
    [0, 0, 0, 0, 0],
    [1, 1, 1, 1, 1],
  ],
);

describe('judge', () => {
  it('passes a challenger that meets every threshold, reporting delta and agreement', () => {
    expect(judge(T, perfect, perfect)).toEqual({
      passed: true,
      failures: [],
      accuracyDelta: 0,
      agreement: 1,
    });
  });

  it('applies only the absolute thresholds on a first promotion', () => {
    const weak = evaluation(
      ['cat', 'dog'],
      [
        [0, 0, 0, 0, 1],
        [1, 1, 1, 1, 1],
      ],
    );
    expect(judge(T, weak)).toEqual({ passed: true, failures: [] });
  });

  it('fails when accuracy or a class recall is below its minimum, naming both and the class', () => {
    const bad = evaluation(
      ['cat', 'dog'],
      [
        [1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1],
      ],
    );
    const v = judge(T, bad);
    expect(v.passed).toBe(false);
    expect(v.failures.map((f) => f.message)).toEqual([
      'accuracy 70.0 % is below minAccuracy 80.0 %',
      "recall of 'cat' 40.0 % (2/5) is below minRecall 70.0 %",
    ]);
  });

  it('fails when the drop against the champion is over maxAccuracyDrop and agreement under minAgreement', () => {
    const worse = evaluation(
      ['cat', 'dog'],
      [
        [0, 0, 0, 0, 1],
        [1, 1, 1, 1, 0],
      ],
    );
    const v = judge({ ...T, minAgreement: 0.9 }, worse, perfect);
    expect(v.failures.map((f) => f.threshold)).toEqual(['maxAccuracyDrop', 'minAgreement']);
    expect(v.failures[0]?.message).toBe(
      'accuracy drops by 20.0 % against the champion (100.0 % → 80.0 %), more than maxAccuracyDrop 5.0 %',
    );
    expect(v.accuracyDelta).toBeCloseTo(-0.2);
  });

  it('accepts a drop of exactly the allowed amount', () => {
    const ten = evaluation(['a', 'b'], [Array(10).fill(0), [...Array(9).fill(1), 0]]);
    const perfectTen = evaluation(['a', 'b'], [Array(10).fill(0), Array(10).fill(1)]);
    expect(judge({ ...T, maxAccuracyDrop: 0.05, minAgreement: undefined }, ten, perfectTen).passed).toBe(
      true,
    );
  });
  it('names the threshold of each failure: minAccuracy, then minRecall once per class under it', () => {
    const bad = evaluation(
      ['cat', 'dog'],
      [
        [1, 1, 1, 1, 0],
        [0, 0, 0, 1, 1],
      ],
    );
    expect(judge(T, bad).failures.map((f) => f.threshold)).toEqual(['minAccuracy', 'minRecall', 'minRecall']);
  });

  it('passes a recall, an accuracy and an agreement exactly at their minimum', () => {
    // cat 4/5 = 80 %, dog 5/5: accuracy 90 %, agreement with the perfect champion 90 %.
    const edge = evaluation(
      ['cat', 'dog'],
      [
        [0, 0, 0, 0, 1],
        [1, 1, 1, 1, 1],
      ],
    );
    const t = { minAccuracy: 0.9, minRecall: 0.8, maxAccuracyDrop: 0.1, minAgreement: 0.9 };
    expect(judge(t, edge, perfect)).toEqual({
      passed: true,
      failures: [],
      accuracyDelta: 0.9 - 1,
      agreement: 0.9,
    });
  });

  it('fails on a champion-relative threshold alone, with the agreement message', () => {
    // Right on every image, but with swapped labels the champion's answers never agree.
    const v = judge(
      { ...T, maxAccuracyDrop: 1 },
      perfect,
      evaluation(
        ['cat', 'dog'],
        [
          [1, 1, 1, 1, 1],
          [0, 0, 0, 0, 0],
        ],
      ),
    );
    expect(v).toEqual({
      passed: false,
      failures: [
        {
          threshold: 'minAgreement',
          message: 'top-1 agreement with the champion 0.0 % is below minAgreement 80.0 %',
        },
      ],
      accuracyDelta: 1,
      agreement: 0,
    });
  });

  it('accepts a drop over maxAccuracyDrop by no more than the 1e-9 float tolerance', () => {
    const half = evaluation(['a', 'b'], [Array(4).fill(0), [1, 1, 0, 0]]);
    const threeQuarters = evaluation(['a', 'b'], [Array(4).fill(0), [1, 1, 1, 1]]);
    // A drop of 0.25 (0.75 → 0.5) against 0.249999999 allowed: exactly at the tolerance.
    expect(
      judge(
        { ...T, minAccuracy: 0, minRecall: 0, maxAccuracyDrop: 0.249999999, minAgreement: undefined },
        half,
        threeQuarters,
      ).passed,
    ).toBe(true);
  });
});
