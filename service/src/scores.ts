/** One class and its score. `index` is the class's position in the output: the identity (labels may repeat). */
export interface ClassScore {
  readonly label: string;
  /** Position of the class in the model's output vector (labels may repeat; the index never does). */
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
 * One image's class probabilities from its raw output: softmax (in double precision) for logits, as they
 * are for probabilities; float32, the model's own precision, so every API reports the same numbers
 * (`/predict` scores and the v2 FP32 output tensor).
 */
export function probabilities(raw: ArrayLike<number>, kind: 'logits' | 'probabilities'): Float32Array {
  return Float32Array.from(kind === 'logits' ? softmax(raw) : (raw as ArrayLike<number>));
}

/**
 * Turns one image's raw output into scores ({@link probabilities}); the `k` best classes, ties broken by
 * class index so the order is deterministic.
 */
export function scoreImage(
  raw: ArrayLike<number>,
  labels: readonly string[],
  kind: 'logits' | 'probabilities',
  k: number,
): ImageScores {
  return topClasses(probabilities(raw, kind), labels, k);
}

/** Up to this many classes are picked in one pass ({@link topClasses}); more are sorted. */
const MAX_PICKED = 16;

/** The `k` (at least 1) most probable classes of one image, best first, ties broken by class index. */
export function topClasses(probs: ArrayLike<number>, labels: readonly string[], k: number): ImageScores {
  const want = Math.min(Math.max(1, k), probs.length);
  const order = want <= MAX_PICKED ? pickBest(probs, want) : sortBest(probs).slice(0, want);
  const topK = order.map((index) => ({
    label: labels[index] as string,
    index,
    score: probs[index] as number,
  }));
  const best = topK[0] as ClassScore;
  return { label: best.label, index: best.index, score: best.score, topK };
}

/**
 * The `want` best indices, best first, ties by index: one pass over the classes keeping them in order, so
 * a 1000-class model's top 5 costs ~1000 comparisons instead of sorting all 1000 (two sorts per image:
 * bench/README.md, A/B table).
 */
function pickBest(probs: ArrayLike<number>, want: number): number[] {
  const top: number[] = [];
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] as number;
    let j = top.length;
    if (j === want) {
      // Not better than the worst kept (an equal score has a higher index): skipped.
      if (!(p > (probs[top[j - 1] as number] as number))) continue;
      j -= 1;
    }
    while (j > 0 && p > (probs[top[j - 1] as number] as number)) {
      top[j] = top[j - 1] as number;
      j -= 1;
    }
    top[j] = i;
  }
  return top;
}

/** Every index, best first, ties by index. */
function sortBest(probs: ArrayLike<number>): number[] {
  const indices = Array.from({ length: probs.length }, (_, i) => i);
  return indices.sort((a, b) => (probs[b] as number) - (probs[a] as number) || a - b);
}
