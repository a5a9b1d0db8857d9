import { DeliveryLog } from '../src/relay/delivery-log';

describe('DeliveryLog', () => {
  let nowMs = 0;
  const clock = () => nowMs;
  beforeEach(() => {
    nowMs = 1_000_000;
  });

  test('a completed id is a duplicate until its TTL passes, then it is forgotten', () => {
    const log = new DeliveryLog(600_000, 10, clock);
    expect(log.claim('a')).toBe('claimed');
    log.complete('a');
    nowMs += 599_999;
    expect(log.claim('a')).toBe('done');
    nowMs += 1;
    expect(log.claim('a')).toBe('claimed');
  });

  test('an id being processed is reported in progress; releasing it allows a retry', () => {
    const log = new DeliveryLog(600_000, 10, clock);
    expect(log.claim('a')).toBe('claimed');
    expect(log.claim('a')).toBe('in-progress');
    log.release('a');
    expect(log.claim('a')).toBe('claimed');
  });

  test('when full of live ids it refuses new ones instead of forgetting an id early', () => {
    const log = new DeliveryLog(1000, 3, clock);
    for (const id of ['a', 'b', 'c']) {
      expect(log.claim(id)).toBe('claimed');
      log.complete(id);
    }
    expect(log.claim('d')).toBe('full');
    expect(log.claim('a')).toBe('done');
    nowMs += 1000;
    expect(log.claim('d')).toBe('claimed');
    expect(log.size).toBe(1);
  });

  test('completing or releasing an id it no longer remembers does nothing (a dispatch outlasting the TTL)', () => {
    const log = new DeliveryLog(1000, 10, clock);
    expect(log.claim('slow')).toBe('claimed');
    nowMs += 1000;
    expect(log.claim('next')).toBe('claimed'); // drops the expired 'slow'
    expect(() => log.complete('slow')).not.toThrow();
    expect(() => log.release('never-claimed')).not.toThrow();
    expect(log.size).toBe(1);
    expect(log.claim('slow')).toBe('claimed');
  });

  test('memory stays bounded under a long stream of distinct ids', () => {
    const log = new DeliveryLog(1000, 100, clock);
    for (let i = 0; i < 10_000; i++) {
      nowMs += 20; // 50 ids per TTL, below the bound
      expect(log.claim(`id-${i}`)).toBe('claimed');
      log.complete(`id-${i}`);
    }
    expect(log.size).toBeLessThanOrEqual(51);
  });
});
