/** What the service remembers about one prediction, to match feedback later. */
export interface RememberedPrediction {
  readonly predictedLabel: string;
  readonly modelVersion: string;
  /** Epoch ms when the prediction was made. */
  readonly at: number;
  /** Feedback already counted for it (see {@link PredictionMemory.countFeedback}). */
  readonly feedbackCounted: boolean;
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
 *
 * It holds up to FEEDBACK_MAX_ENTRIES predictions for an hour, so what each costs the garbage collector
 * counts: the map holds only the id (a flat string) and a slot number; what was predicted lives in typed
 * arrays by slot, outside the JavaScript heap. At the default bound (100 000) that is 9 MB of heap, and a full
 * collection of the main thread takes ~8 ms, against 56 MB and ~60 ms with a record object per entry and ids
 * as `randomUUID()` returns them (bench/README.md).
 */
export class PredictionMemory {
  /** Prediction id → its slot in the columns below. */
  private readonly slots = new Map<string, number>();
  /** Slots of forgotten predictions, handed out again first. */
  private readonly freeSlots: number[] = [];
  /** Columns by slot; they grow by doubling, up to maxEntries. */
  private at = new Float64Array(0);
  private outcome = new Uint32Array(0);
  private counted = new Uint8Array(0);
  /** Each distinct (predicted label, model version) once; `outcome` holds indices into it. */
  private readonly outcomes: { readonly predictedLabel: string; readonly modelVersion: string }[] = [];
  private readonly outcomeIndex = new Map<string, Map<string, number>>();
  private readonly now: () => number;

  constructor(private readonly opts: PredictionMemoryOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Number of predictions held (expired ones included). */
  get size(): number {
    return this.slots.size;
  }

  /** Records a prediction under its id (a re-used id replaces the older entry). */
  remember(id: string, predictedLabel: string, modelVersion: string): void {
    const previous = this.slots.get(id);
    if (previous !== undefined) this.forget(id, previous);
    while (this.slots.size >= this.opts.maxEntries) {
      const [oldest, slot] = this.slots.entries().next().value as [string, number];
      this.forget(oldest, slot);
    }
    const slot = this.freeSlots.pop() ?? this.newSlot();
    this.at[slot] = this.now();
    this.outcome[slot] = this.outcomeOf(predictedLabel, modelVersion);
    this.counted[slot] = 0;
    this.slots.set(flatCopy(id), slot);
  }

  /** Finds a prediction by id. */
  lookup(id: string): Lookup {
    const slot = this.slots.get(id);
    if (slot === undefined) return { status: 'unknown' };
    const at = this.at[slot] as number;
    if (this.now() - at > this.opts.ttlMs) return { status: 'expired' };
    const outcome = this.outcomes[this.outcome[slot] as number] as (typeof this.outcomes)[number];
    return { status: 'found', prediction: { ...outcome, at, feedbackCounted: this.counted[slot] === 1 } };
  }

  /** Marks the prediction's feedback as counted: true the first time, false after (or for an unknown id). */
  countFeedback(id: string): boolean {
    const slot = this.slots.get(id);
    if (slot === undefined || this.counted[slot] === 1) return false;
    this.counted[slot] = 1;
    return true;
  }

  private forget(id: string, slot: number): void {
    this.slots.delete(id);
    this.freeSlots.push(slot);
  }

  /** With no free slot, slots 0 … size − 1 are all taken: the next is `size`, at the end of the columns. */
  private newSlot(): number {
    const slot = this.slots.size;
    if (slot === this.at.length) {
      const size = Math.min(this.opts.maxEntries, Math.max(1024, this.at.length * 2));
      const at = new Float64Array(size);
      const outcome = new Uint32Array(size);
      const counted = new Uint8Array(size);
      at.set(this.at);
      outcome.set(this.outcome);
      counted.set(this.counted);
      [this.at, this.outcome, this.counted] = [at, outcome, counted];
    }
    return slot;
  }

  /** The index of (predictedLabel, modelVersion) in `outcomes`: one per label and model version. */
  private outcomeOf(predictedLabel: string, modelVersion: string): number {
    let byLabel = this.outcomeIndex.get(modelVersion);
    if (!byLabel) this.outcomeIndex.set(modelVersion, (byLabel = new Map()));
    let index = byLabel.get(predictedLabel);
    if (index === undefined) {
      index = this.outcomes.push({ predictedLabel, modelVersion }) - 1;
      byLabel.set(predictedLabel, index);
    }
    return index;
  }
}

/**
 * `id` as one flat string. An id built by concatenation is a V8 cons string, a tree of heap objects that every
 * full garbage collection walks: `crypto.randomUUID()` joins ~20 pieces (~500 bytes of heap against ~60 flat),
 * batch ids are `${requestId}:${i}`. The UTF-16 round trip copies any string exactly (lone surrogates too).
 */
function flatCopy(id: string): string {
  return Buffer.from(id, 'utf16le').toString('utf16le');
}
