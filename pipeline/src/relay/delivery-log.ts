/** What the relay remembers about a delivery id. */
export type DeliveryState = 'in-progress' | 'done';

/** Result of {@link DeliveryLog.claim}. */
export type ClaimResult = 'claimed' | 'in-progress' | 'done' | 'full';

/**
 * Remembers recent `X-MLflow-Delivery-Id`s so a retried or replayed delivery is acted on once.
 *
 * Entries live for `ttlMs` (longer than the replay window, so a replay is refused either as too old or
 * as a duplicate) and at most `maxEntries` are kept. When the log is full of live entries it refuses new
 * claims instead of forgetting one early: forgetting would reopen a replay hole.
 */
export class DeliveryLog {
  private readonly entries = new Map<string, { state: DeliveryState; expiresAtMs: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Number of remembered ids (expired ones are dropped lazily). */
  get size(): number {
    return this.entries.size;
  }

  /** Marks `id` in progress unless it is already known; tells the caller what it found. */
  claim(id: string): ClaimResult {
    const now = this.now();
    this.evictExpired(now);
    const known = this.entries.get(id);
    if (known) return known.state;
    if (this.entries.size >= this.maxEntries) return 'full';
    this.entries.set(id, { state: 'in-progress', expiresAtMs: now + this.ttlMs });
    return 'claimed';
  }

  /** The delivery was handled; later deliveries with this id are duplicates until the entry expires. */
  complete(id: string): void {
    const entry = this.entries.get(id);
    if (entry) entry.state = 'done';
  }

  /** The delivery failed; forget it so MLflow's retry (same id) is processed again. */
  release(id: string): void {
    this.entries.delete(id);
  }

  private evictExpired(now: number): void {
    // Insertion order equals expiry order (constant TTL), so stop at the first live entry.
    for (const [id, entry] of this.entries) {
      if (entry.expiresAtMs > now) break;
      this.entries.delete(id);
    }
  }
}
