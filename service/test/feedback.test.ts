import { randomUUID } from 'node:crypto';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PredictionMemory } from '../src/feedback';

/** Heap bytes in use after a full garbage collection. */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return getHeapStatistics().used_heap_size;
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
    // A flat 36-character string: ~56-64 bytes.
    const flatString = heapPer(() =>
      Array.from({ length: n }, () => Buffer.from(randomUUID(), 'latin1').toString('latin1')),
    );
    const memory = new PredictionMemory({ ttlMs: 1000, maxEntries: n });
    const perEntry = heapPer(() => {
      for (let i = 0; i < n; i++) memory.remember(randomUUID(), 'cat', '1');
      return memory;
    });
    expect(memory.size).toBe(n);
    // The entry adds its record and its slot in the map to the id (~115 bytes); unflattened, ~540 more.
    expect(perEntry).toBeLessThan(flatString + 200);
  });
});
