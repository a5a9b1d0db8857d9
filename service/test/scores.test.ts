import { scoreImage, softmax } from '../src/scores';

describe('scoreImage', () => {
  test('logits get a softmax and the classes are sorted best first', () => {
    const s = scoreImage([0, Math.log(3)], ['cat', 'dog'], 'logits', 2);
    expect(s.label).toBe('dog');
    expect(s.score).toBeCloseTo(0.75, 10);
    expect(s.topK.map((c) => c.label)).toEqual(['dog', 'cat']);
  });

  test('probabilities are reported as they are, ties broken by class index', () => {
    const s = scoreImage([0.2, 0.4, 0.4], ['a', 'b', 'c'], 'probabilities', 2);
    expect(s.topK).toEqual([
      { label: 'b', score: expect.closeTo(0.4, 6) },
      { label: 'c', score: expect.closeTo(0.4, 6) },
    ]);
  });

  test('softmax is stable for large logits', () => {
    const p = softmax([1000, 1000]);
    expect(Array.from(p)).toEqual([0.5, 0.5]);
  });
});
