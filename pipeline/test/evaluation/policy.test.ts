import type { Evaluation } from '../../src/evaluation/evaluate';
import { judge } from '../../src/evaluation/policy';

/** An evaluation of `labels.length` classes; `answers[i]` lists the predicted class index per image of class i. */
function evaluation(labels: string[], answers: number[][]): Evaluation {
  const images = answers.flatMap((preds, cls) =>
    preds.map((p, n) => ({
      path: `${labels[cls]}/${n}.png`,
      sha256: '0'.repeat(64),
      expected: cls,
      predicted: p,
      label: labels[p] as string,
      score: 0.9,
      correct: p === cls,
    })),
  );
  const perClass = labels.map((label, index) => {
    const mine = images.filter((i) => i.expected === index);
    const correct = mine.filter((i) => i.correct).length;
    return { index, indices: [index], label, count: mine.length, correct, recall: correct / mine.length };
  });
  const correct = images.filter((i) => i.correct).length;
  return {
    goldenSet: { source: 'g', digest: 'd'.repeat(64) },
    labels,
    samples: images.length,
    correct,
    accuracy: correct / images.length,
    perClass,
    confusion: labels.map((_, r) =>
      labels.map((__, c) => images.filter((i) => i.expected === r && i.predicted === c).length),
    ),
    images,
  };
}

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
});
