import { randomUUID } from 'node:crypto';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PredictionMemory, type Lookup } from '../src/feedback';
import { seededRandom } from '../src/model/builders';

/**
 * Heap bytes in use once garbage collection frees nothing more. One collection is not enough inside a Jest
 * worker: what earlier test files left behind (bytecode of functions not run lately, weak caches) is freed over
 * the next few, megabytes at a time, which read as a negative cost. Bytecode flushing is turned off for the same
 * reason.
 */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  setFlagsFromString('--no-flush-bytecode');
  const gc = runInNewContext('gc') as () => void;
  let used = Infinity;
  for (let i = 0; i < 10; i++) {
    gc();
    const now = getHeapStatistics().used_heap_size;
    if (now >= used) break;
    used = now;
  }
  return used;
}

describe('PredictionMemory', () => {
  test('finds a remembered prediction until the TTL passes, then reports it expired', () => {
    let now = 0;
    const memory = new PredictionMemory({ ttlMs: 1000, maxEntries: 10, now: () => now });
    memory.remember('a', 'cat', '3');
    expect(memory.lookup('a')).toMatchObject({
      status: 'found',
      prediction: { predictedLabel: 'cat', modelVersion: '3' },
    });
    now = 1001;
    expect(memory.lookup('a')).toEqual({ status: 'expired' });
    expect(memory.lookup('b')).toEqual({ status: 'unknown' });
  });

  test('keeps at most maxEntries, forgetting the oldest first', () => {
    const memory = new PredictionMemory({ ttlMs: 1000, maxEntries: 2 });
    memory.remember('a', 'cat', '1');
    memory.remember('b', 'dog', '1');
    memory.remember('c', 'dog', '1');
    expect(memory.size).toBe(2);
    expect(memory.lookup('a').status).toBe('unknown');
    expect(memory.lookup('c').status).toBe('found');
  });

  test('finds ids whatever their characters, lone surrogates included', () => {
    const memory = new PredictionMemory({ ttlMs: 1000, maxEntries: 10 });
    const odd = `req\ud800-${'é'.repeat(3)}:1`;
    memory.remember(odd, 'cat', '1');
    expect(memory.lookup(odd).status).toBe('found');
    expect(memory.lookup(odd.replace('\ud800', '\ufffd')).status).toBe('unknown');
  });

  test('keeps request ids flat: a remembered UUID costs the heap what the id itself does, not its pieces', () => {
    // randomUUID() returns a string built from ~20 pieces (~500 bytes of heap until flattened); the memory
    // holds up to FEEDBACK_MAX_ENTRIES of them for an hour.
    const n = 20_000;
    const heapPer = (fill: () => unknown): number => {
      const before = heapAfterGc();
      const kept = fill();
      const bytes = (heapAfterGc() - before) / n;
      expect(kept).toBeDefined();
      return bytes;
    };
    // A flat 36-character string and its slot in the array: ~60-80 bytes.
    const flatString = heapPer(() =>
      Array.from({ length: n }, () => Buffer.from(randomUUID(), 'latin1').toString('latin1')),
    );
    const memory = new PredictionMemory({ ttlMs: 1000, maxEntries: n });
    const perEntry = heapPer(() => {
      for (let i = 0; i < n; i++) memory.remember(randomUUID(), 'cat', '1');
      return memory;
    });
    expect(memory.size).toBe(n);
    // The entry adds its slot in the map to the id (~45 bytes); a record object per entry ~70 more,
    // an unflattened id ~440 more.
    expect(perEntry).toBeLessThan(flatString + 100);
  });

  test('counts feedback once per prediction', () => {
    const memory = new PredictionMemory({ ttlMs: 1000, maxEntries: 10 });
    memory.remember('a', 'cat', '1');
    expect(memory.countFeedback('a')).toBe(true);
    expect(memory.countFeedback('a')).toBe(false);
    expect(memory.lookup('a')).toMatchObject({ status: 'found', prediction: { feedbackCounted: true } });
    expect(memory.countFeedback('b')).toBe(false);
    // Remembered again under the same id: a new prediction, not counted yet.
    memory.remember('a', 'dog', '2');
    expect(memory.lookup('a')).toMatchObject({
      status: 'found',
      prediction: { predictedLabel: 'dog', modelVersion: '2', feedbackCounted: false },
    });
  });

  test('answers as a plain map of records would, through eviction, re-used ids, expiry and growth', () => {
    // The reference: one record per id in an insertion-ordered Map.
    type Entry = { predictedLabel: string; modelVersion: string; at: number; feedbackCounted: boolean };
    const random = seededRandom(5);
    for (const maxEntries of [1, 3, 1500]) {
      let now = 0;
      const ttlMs = 50;
      const memory = new PredictionMemory({ ttlMs, maxEntries, now: () => now });
      const model = new Map<string, Entry>();
      const expected = (id: string): Lookup => {
        const e = model.get(id);
        if (!e) return { status: 'unknown' };
        if (now - e.at > ttlMs) return { status: 'expired' };
        return { status: 'found', prediction: { ...e } };
      };
      const ids = Array.from({ length: maxEntries * 2 + 2 }, (_, i) => `id-${i}`);
      for (let step = 0; step < 6000; step++) {
        const id = ids[Math.floor(random() * ids.length)] as string;
        const op = random();
        now += Math.floor(random() * 3);
        if (op < 0.5) {
          const label = random() < 0.5 ? 'cat' : 'dog';
          const version = random() < 0.5 ? '1' : '2';
          memory.remember(id, label, version);
          model.delete(id);
          model.set(id, { predictedLabel: label, modelVersion: version, at: now, feedbackCounted: false });
          if (model.size > maxEntries) model.delete(model.keys().next().value as string);
        } else if (op < 0.7) {
          const e = model.get(id);
          expect(memory.countFeedback(id)).toBe(e !== undefined && !e.feedbackCounted);
          if (e) e.feedbackCounted = true;
        } else {
          expect(memory.lookup(id)).toEqual(expected(id));
        }
        expect(memory.size).toBe(model.size);
      }
    }
  });
});
