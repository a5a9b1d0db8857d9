import type { Evaluation } from '../../src/evaluation/evaluate';

/** The golden-set digest of every {@link evaluation}: two of them are of the same golden set. */
export const GOLDEN_DIGEST = 'd'.repeat(64);

/**
 * A hand-made evaluation of a model with `labels` on a golden set with one folder per entry of `answers`:
 * `answers[i]` lists the predicted class index per image of folder `folders[i]` (by default `labels[i]`).
 * Images are `<folder>/<n>.png`, scored 0.9.
 */
export function evaluation(
  labels: readonly string[],
  answers: readonly (readonly number[])[],
  folders: readonly string[] = labels,
): Evaluation {
  const images = answers.flatMap((preds, cls) =>
    preds.map((p, n) => ({
      path: `${folders[cls]}/${n}.png`,
      sha256: String(n % 10).repeat(64),
      expected: cls,
      predicted: p,
      label: labels[p] as string,
      score: 0.9,
      correct: p === cls,
    })),
  );
  const perClass = answers.map((_, index) => {
    const mine = images.filter((i) => i.expected === index);
    const correct = mine.filter((i) => i.correct).length;
    const label = folders[index] as string;
    return { index, indices: [index], label, count: mine.length, correct, recall: correct / mine.length };
  });
  const correct = images.filter((i) => i.correct).length;
  return {
    goldenSet: { source: 'g', digest: GOLDEN_DIGEST },
    labels,
    samples: images.length,
    correct,
    accuracy: correct / images.length,
    perClass,
    confusion: answers.map((_, r) =>
      labels.map((__, c) => images.filter((i) => i.expected === r && i.predicted === c).length),
    ),
    images,
  };
}
