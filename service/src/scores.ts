/** One class and its score. `index` is the class's position in the output: the identity (labels may repeat). */
export interface ClassScore {
  readonly label: string;
  readonly index: number;
  readonly score: number;
}

/** Scores of one image: the top class and the top-k list, best first. */
export interface ImageScores {
  readonly label: string;
  readonly index: number;
  readonly score: number;
  readonly topK: readonly ClassScore[];
}

/** Numerically stable softmax. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] as number);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp((logits[i] as number) - max);
    sum += out[i] as number;
  }
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / sum;
  return out;
}

/**
 * Turns one image's raw output into scores: softmax for logits, as-is for probabilities; the `k` best
 * classes, ties broken by class index so the order is deterministic.
 */
export function scoreImage(
  raw: ArrayLike<number>,
  labels: readonly string[],
  kind: 'logits' | 'probabilities',
  k: number,
): ImageScores {
  const probs = kind === 'logits' ? softmax(raw) : Float64Array.from(raw as ArrayLike<number>);
  const order = Array.from(probs.keys()).sort((a, b) => (probs[b] as number) - (probs[a] as number) || a - b);
  const topK = order
    .slice(0, Math.max(1, k))
    .map((i) => ({ label: labels[i] as string, index: i, score: probs[i] as number }));
  const best = topK[0] as ClassScore;
  return { label: best.label, index: best.index, score: best.score, topK };
}
