/** What the service remembers about one prediction, to match feedback later. */
export interface RememberedPrediction {
  readonly predictedLabel: string;
  readonly modelVersion: string;
  /** Epoch ms when the prediction was made. */
  readonly at: number;
  /** Feedback already counted for it. */
  feedbackCounted: boolean;
}

/** Result of looking up a prediction id. */
export type Lookup =
  | { readonly status: 'unknown' }
  | { readonly status: 'expired' }
  | { readonly status: 'found'; readonly prediction: RememberedPrediction };

/** Options of {@link PredictionMemory}. */
export interface PredictionMemoryOptions {
  /** How long feedback is accepted after a prediction. */
  readonly ttlMs: number;
  /** Most predictions kept; the oldest are forgotten first (then their ids are unknown). */
  readonly maxEntries: number;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
}

/**
 * Bounded memory of recent predictions (insertion-ordered Map = oldest first). Entries older than the TTL
 * stay as "expired" until the size bound pushes them out, so feedback that comes too late gets 410 rather
 * than 404 for as long as memory allows.
 */
export class PredictionMemory {
  private readonly entries = new Map<string, RememberedPrediction>();
  private readonly now: () => number;

  constructor(private readonly opts: PredictionMemoryOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Number of predictions held (expired ones included). */
  get size(): number {
    return this.entries.size;
  }

  /** Records a prediction under its id (a re-used id replaces the older entry). */
  remember(id: string, predictedLabel: string, modelVersion: string): void {
    this.entries.delete(id);
    this.entries.set(flatCopy(id), { predictedLabel, modelVersion, at: this.now(), feedbackCounted: false });
    while (this.entries.size > this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  /** Finds a prediction by id. */
  lookup(id: string): Lookup {
    const prediction = this.entries.get(id);
    if (!prediction) return { status: 'unknown' };
    if (this.now() - prediction.at > this.opts.ttlMs) return { status: 'expired' };
    return { status: 'found', prediction };
  }
}

/**
 * `id` as one flat string. An id built by concatenation is a V8 cons string, a tree of heap objects that every
 * full garbage collection walks: `crypto.randomUUID()` joins ~20 pieces (~500 bytes of heap against ~60 flat),
 * batch ids are `${requestId}:${i}`. The memory keeps up to FEEDBACK_MAX_ENTRIES ids for an hour: 100 000
 * entries (the default) took 56 MB of heap and made a full collection take ~60 ms; with flat ids, 16 MB and
 * ~15 ms (bench/README.md). The UTF-16 round trip copies any string exactly (lone surrogates too).
 */
function flatCopy(id: string): string {
  return Buffer.from(id, 'utf16le').toString('utf16le');
}
