import { PredictionMemory } from '../src/feedback';

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
});
