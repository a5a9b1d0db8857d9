import { seededRandom } from '../src/model/builders';
import { probabilities, scoreImage, softmax, topClasses } from '../src/scores';

describe('scoreImage', () => {
  test('logits get a softmax and the classes are sorted best first', () => {
    const s = scoreImage([0, Math.log(3)], ['cat', 'dog'], 'logits', 2);
    expect(s.label).toBe('dog');
    expect(s.index).toBe(1);
    expect(s.score).toBeCloseTo(0.75, 6);
    expect(s.topK.map((c) => [c.label, c.index])).toEqual([
      ['dog', 1],
      ['cat', 0],
    ]);
  });

  test('probabilities are reported as they are, ties broken by class index', () => {
    const s = scoreImage([0.2, 0.4, 0.4], ['a', 'b', 'c'], 'probabilities', 2);
    expect(s.topK).toEqual([
      { label: 'b', index: 1, score: expect.closeTo(0.4, 6) },
      { label: 'c', index: 2, score: expect.closeTo(0.4, 6) },
    ]);
  });

  test('repeated label names stay apart: each prediction carries its class index', () => {
    // ImageNet's list names 'crane' twice (134: the bird, 517: the machine).
    const labels = Array.from({ length: 1000 }, (_, i) => (i === 134 || i === 517 ? 'crane' : `c${i}`));
    const raw = new Float32Array(1000);
    raw[517] = 9;
    raw[134] = 8;
    const s = scoreImage(raw, labels, 'logits', 3);
    expect({ label: s.label, index: s.index }).toEqual({ label: 'crane', index: 517 });
    expect(s.topK.slice(0, 2).map((c) => [c.label, c.index])).toEqual([
      ['crane', 517],
      ['crane', 134],
    ]);
  });

  test('scores are float32 values, the same numbers as the probabilities tensor', () => {
    const raw = [0.3, -1.2, 2.5];
    const probs = probabilities(raw, 'logits');
    const s = scoreImage(raw, ['a', 'b', 'c'], 'logits', 3);
    for (const c of s.topK) {
      expect(c.score).toBe(probs[c.index]);
      expect(Math.fround(c.score)).toBe(c.score);
    }
  });

  test('softmax is stable for large logits', () => {
    const p = softmax([1000, 1000]);
    expect(Array.from(p)).toEqual([0.5, 0.5]);
  });
});

describe('topClasses', () => {
  /** The reference: every class sorted by score, best first, ties by class index. */
  const sorted = (probs: Float32Array): number[] =>
    Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b);

  test('picks the same classes, in the same order, as sorting them all, for every k', () => {
    const random = seededRandom(17);
    for (const classes of [1, 2, 3, 10, 1000]) {
      const labels = Array.from({ length: classes }, (_, i) => `c${i}`);
      // Few distinct values, so ties are common.
      const probs = Float32Array.from({ length: classes }, () => Math.floor(random() * 8) / 8);
      const expected = sorted(probs);
      for (const k of [1, 2, 5, 16, 17, 100, classes, classes + 3]) {
        const s = topClasses(probs, labels, k);
        const want = expected.slice(0, Math.min(k, classes));
        expect(s.topK.map((c) => c.index)).toEqual(want);
        expect(s.topK.map((c) => c.label)).toEqual(want.map((i) => `c${i}`));
        expect({ index: s.index, score: s.score }).toEqual({ index: want[0], score: probs[want[0]] });
      }
    }
  });

  test('gives at least one class when asked for none', () => {
    expect(topClasses(Float32Array.of(0.1, 0.9), ['a', 'b'], 0).topK.map((c) => c.label)).toEqual(['b']);
  });
});
