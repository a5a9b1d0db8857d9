import type { Verdict } from '../../src/evaluation/policy';
import {
  classTable,
  commitLines,
  describeGoldenSet,
  jsonReport,
  markdownReport,
  textReport,
} from '../../src/evaluation/report';
import { evaluation, GOLDEN_DIGEST } from '../support/evaluations';

const D = GOLDEN_DIGEST;
/** cat 3/4, dog 2/2: accuracy 5/6. */
const challenger = evaluation(
  ['cat', 'dog'],
  [
    [0, 0, 0, 1],
    [1, 1],
  ],
);
/** cat 4/4, dog 0/2: accuracy 4/6; agrees with the challenger on 3 of 6 images. */
const champion = evaluation(
  ['cat', 'dog'],
  [
    [0, 0, 0, 0],
    [0, 0],
  ],
);
/** A challenger that adds the class 'fox', which the champion's golden rows do not have. */
const wider = evaluation(['cat', 'dog', 'fox'], [[0], [1], [2]]);

const failed: Verdict = {
  passed: false,
  failures: [
    { threshold: 'minRecall', message: "recall of 'cat' 75.0 % (3/4) is below minRecall 80.0 %" },
    {
      threshold: 'minAgreement',
      message: 'top-1 agreement with the champion 50.0 % is below minAgreement 90.0 %',
    },
  ],
  accuracyDelta: 1 / 6,
  agreement: 0.5,
};
const passedAlone: Verdict = { passed: true, failures: [] };

describe('classTable', () => {
  it('aligns one model: label (#index), image count, recall (correct/count), then the accuracy row', () => {
    expect(classTable(challenger)).toEqual([
      'class     images  recall',
      'cat (#0)  4       75.0 % (3/4)',
      'dog (#1)  2       100.0 % (2/2)',
      'accuracy  6       83.3 % (5/6)',
    ]);
  });

  it('puts the champion recall beside the challenger recall', () => {
    expect(classTable(challenger, champion)).toEqual([
      'class     images  challenger recall  champion recall',
      'cat (#0)  4       75.0 % (3/4)       100.0 % (4/4)',
      'dog (#1)  2       100.0 % (2/2)      0.0 % (0/2)',
      'accuracy  6       83.3 % (5/6)       66.7 % (4/6)',
    ]);
  });

  it('shows — for a class the champion has no row for', () => {
    expect(classTable(wider, champion)).toEqual([
      'class     images  challenger recall  champion recall',
      'cat (#0)  1       100.0 % (1/1)      100.0 % (4/4)',
      'dog (#1)  1       100.0 % (1/1)      0.0 % (0/2)',
      'fox (#2)  1       100.0 % (1/1)      —',
      'accuracy  3       100.0 % (3/3)      66.7 % (4/6)',
    ]);
  });
});

describe('describeGoldenSet', () => {
  it('names the source, the digest and the image count', () => {
    expect(describeGoldenSet(challenger)).toBe(`golden set g (sha256 ${D}, 6 images)`);
  });
});

describe('textReport (what `evaluate` prints and a refused promotion shows)', () => {
  it('is the golden set and the indented table of one model, without a verdict', () => {
    expect(textReport(challenger)).toBe(
      `golden set g (sha256 ${D}, 6 images)\n` +
        '  class     images  recall\n' +
        '  cat (#0)  4       75.0 % (3/4)\n' +
        '  dog (#1)  2       100.0 % (2/2)\n' +
        '  accuracy  6       83.3 % (5/6)\n',
    );
  });

  it('adds the agreement with the champion, the verdict and one line per failed threshold', () => {
    expect(textReport(challenger, champion, failed)).toBe(
      `golden set g (sha256 ${D}, 6 images)\n` +
        '  class     images  challenger recall  champion recall\n' +
        '  cat (#0)  4       75.0 % (3/4)       100.0 % (4/4)\n' +
        '  dog (#1)  2       100.0 % (2/2)      0.0 % (0/2)\n' +
        '  accuracy  6       83.3 % (5/6)       66.7 % (4/6)\n' +
        'top-1 agreement with the champion: 50.0 %\n' +
        'verdict: failed\n' +
        "  - recall of 'cat' 75.0 % (3/4) is below minRecall 80.0 %\n" +
        '  - top-1 agreement with the champion 50.0 % is below minAgreement 90.0 %\n',
    );
  });

  it('says passed, and shows an agreement of 0 % rather than leaving it out', () => {
    const text = textReport(challenger, champion, { passed: true, failures: [], agreement: 0 });
    expect(text.split('\n').slice(-3)).toEqual([
      'top-1 agreement with the champion: 0.0 %',
      'verdict: passed',
      '',
    ]);
  });

  it('has no agreement line without a champion', () => {
    expect(textReport(challenger, undefined, passedAlone).split('\n').slice(-3)).toEqual([
      '  accuracy  6       83.3 % (5/6)',
      'verdict: passed',
      '',
    ]);
  });
});

describe('commitLines (the commit message of a passed evaluation)', () => {
  it('gives golden set, accuracy against the champion, both recalls and the agreement', () => {
    expect(commitLines(challenger, champion, { passed: true, failures: [], agreement: 0.5 })).toEqual([
      `Golden set: g (sha256 ${D}, 6 images)`,
      'Accuracy: 83.3 % (champion 66.7 %)',
      'Recall: cat 75.0 %, dog 100.0 %',
      'Champion recall: cat 100.0 %, dog 0.0 %',
      'Agreement with champion: 50.0 %',
    ]);
  });

  it('says "no champion" on a first promotion and keeps the agreement of 0 %', () => {
    expect(commitLines(challenger, undefined, passedAlone)).toEqual([
      `Golden set: g (sha256 ${D}, 6 images)`,
      'Accuracy: 83.3 % (no champion)',
      'Recall: cat 75.0 %, dog 100.0 %',
    ]);
    expect(commitLines(challenger, champion, { passed: true, failures: [], agreement: 0 })).toContain(
      'Agreement with champion: 0.0 %',
    );
  });
});

describe('markdownReport (the pull request section)', () => {
  const matrix = [
    '<details><summary>Confusion matrix (challenger)</summary>',
    '',
    '| golden \\ predicted | cat (#0) | dog (#1) |',
    '|---|---:|---:|',
    '| cat | 3 | 1 |',
    '| dog | 0 | 2 |',
    '</details>',
  ];

  it('shows a failed verdict, the agreement, both recalls and the confusion matrix', () => {
    expect(markdownReport(challenger, champion, failed)).toEqual([
      '### Evaluation: failed',
      '',
      `Golden set \`g\`, sha256 \`${D}\`, 6 images.`,
      'Top-1 agreement with the champion: 50.0 %.',
      '',
      '| class | images | challenger recall | champion recall |',
      '|---|---:|---:|---:|',
      '| cat (#0) | 4 | 75.0 % (3/4) | 100.0 % (4/4) |',
      '| dog (#1) | 2 | 100.0 % (2/2) | 0.0 % (0/2) |',
      '| **accuracy** | 6 | **83.3 %** | 66.7 % |',
      '',
      ...matrix,
    ]);
  });

  it('has one recall column and no agreement on a first promotion', () => {
    expect(markdownReport(challenger, undefined, passedAlone)).toEqual([
      '### Evaluation: passed',
      '',
      `Golden set \`g\`, sha256 \`${D}\`, 6 images.`,
      '',
      '| class | images | recall |',
      '|---|---:|---:|',
      '| cat (#0) | 4 | 75.0 % (3/4) |',
      '| dog (#1) | 2 | 100.0 % (2/2) |',
      '| **accuracy** | 6 | **83.3 %** |',
      '',
      ...matrix,
    ]);
  });

  it('shows — for a class the champion has no row for, and an agreement of 0 %', () => {
    const md = markdownReport(wider, champion, { passed: true, failures: [], agreement: 0 });
    expect(md).toContain('| fox (#2) | 1 | 100.0 % (1/1) | — |');
    expect(md).toContain('Top-1 agreement with the champion: 0.0 %.');
    expect(md).toContain('| golden \\ predicted | cat (#0) | dog (#1) | fox (#2) |');
    expect(md).toContain('|---|---:|---:|---:|');
  });
});

describe('jsonReport (evaluate --json)', () => {
  const numbers = {
    accuracy: 5 / 6,
    samples: 6,
    correct: 5,
    perClass: [
      { index: 0, label: 'cat', count: 4, correct: 3, recall: 0.75 },
      { index: 1, label: 'dog', count: 2, correct: 2, recall: 1 },
    ],
    confusion: [
      [3, 1],
      [0, 2],
    ],
  };

  it('gives the golden set, the labels and the numbers of one model, nothing else', () => {
    expect(jsonReport(challenger)).toStrictEqual({
      goldenSet: { source: 'g', digest: D, images: 6 },
      labels: ['cat', 'dog'],
      ...numbers,
    });
  });

  it('adds the champion numbers and the verdict with its failures and agreement', () => {
    expect(jsonReport(challenger, champion, failed)).toStrictEqual({
      goldenSet: { source: 'g', digest: D, images: 6 },
      labels: ['cat', 'dog'],
      ...numbers,
      champion: {
        accuracy: 4 / 6,
        samples: 6,
        correct: 4,
        perClass: [
          { index: 0, label: 'cat', count: 4, correct: 4, recall: 1 },
          { index: 1, label: 'dog', count: 2, correct: 0, recall: 0 },
        ],
        confusion: [
          [4, 0],
          [2, 0],
        ],
      },
      verdict: { passed: false, failures: failed.failures, agreement: 0.5 },
    });
  });

  it('leaves the agreement out of a verdict without a champion, keeps an agreement of 0', () => {
    expect((jsonReport(challenger, undefined, passedAlone) as { verdict: unknown }).verdict).toStrictEqual({
      passed: true,
      failures: [],
    });
    expect(
      (jsonReport(challenger, champion, { passed: true, failures: [], agreement: 0 }) as { verdict: unknown })
        .verdict,
    ).toStrictEqual({ passed: true, failures: [], agreement: 0 });
  });
});
