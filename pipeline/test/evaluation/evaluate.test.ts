/**
 * @jest-environment ./test/support/ort-environment.js
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agreement, evaluateModelDir, mapFoldersToClasses } from '../../src/evaluation/evaluate';
import { readGoldenSet } from '../../src/evaluation/golden-set';
import { evaluation } from '../support/evaluations';
import { REPO_ROOT } from '../support/repo';
import { meanColourModel, tinyModel, withMetadata, writeModel } from '../support/models';

const GOLDEN = join(REPO_ROOT, 'charts', 'golden-sets', 'default');

describe('evaluateModelDir (the service Classifier on a golden set)', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'evaluate-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('scores a model of known behaviour: accuracy, per-class recall, confusion matrix, per-image answers', async () => {
    const { sha256 } = writeModel(join(tmp, 'm'), tinyModel(1));
    const e = await evaluateModelDir(join(tmp, 'm'), readGoldenSet(GOLDEN, 'default'), {
      expectedSha256: sha256,
    });
    expect(e).toMatchObject({ samples: 16, correct: 16, accuracy: 1, labels: ['cat', 'dog'] });
    expect(e.perClass.map((c) => [c.index, c.label, c.count, c.recall])).toEqual([
      [0, 'cat', 8, 1],
      [1, 'dog', 8, 1],
    ]);
    expect(e.confusion).toEqual([
      [8, 0],
      [0, 8],
    ]);
    expect(e.images[0]).toMatchObject({ path: 'cat/cat-01.png', expected: 0, predicted: 0, label: 'cat' });
    for (const i of e.images) expect(i.score).toBeGreaterThan(0.8);
  });

  it('keys classes by index: a model whose labels are swapped gets every image wrong', async () => {
    writeModel(join(tmp, 'm'), tinyModel(1, { labels: ['dog', 'cat'] }));
    const e = await evaluateModelDir(join(tmp, 'm'), readGoldenSet(GOLDEN, 'default'));
    expect(e.accuracy).toBe(0);
    expect(e.perClass.map((c) => [c.label, c.index, c.recall])).toEqual([
      ['cat', 1, 0],
      ['dog', 0, 0],
    ]);
  });

  it('fails naming the file when a golden image cannot be decoded', async () => {
    writeModel(join(tmp, 'm'), tinyModel(1));
    cpSync(GOLDEN, join(tmp, 'g'), { recursive: true });
    writeFileSync(join(tmp, 'g', 'dog', 'broken.png'), Buffer.from('\x89PNG\r\n\x1a\nnot really'));
    await expect(evaluateModelDir(join(tmp, 'm'), readGoldenSet(join(tmp, 'g'), 'g'))).rejects.toThrow(
      /^golden set g: 'dog\/broken.png' cannot be used: .*: replace it with a JPEG, PNG or WebP image or remove it$/,
    );
  });

  it('fails naming the image when the model scores it NaN, which would otherwise read as class 0, correct for cat', async () => {
    writeModel(join(tmp, 'm'), meanColourModel('nan'));
    await expect(evaluateModelDir(join(tmp, 'm'), readGoldenSet(GOLDEN, 'default'))).rejects.toThrow(
      /^golden set default: the model's scores for 'cat\/cat-01.png' are not all numbers \(NaN, NaN\): a model that cannot score an image cannot be served/,
    );
  });

  it('fails naming the folder and the labels when a folder is not a label of the model', async () => {
    writeModel(join(tmp, 'm'), tinyModel(1, { labels: ['cat', 'fox'] }));
    await expect(evaluateModelDir(join(tmp, 'm'), readGoldenSet(GOLDEN, 'default'))).rejects.toThrow(
      "golden set default: folder 'dog' is not a label of the model (labels: cat, fox): " +
        'rename the folder to the label it holds, or remove it',
    );
  });

  it('counts a folder the champion has no label for as a class it never predicts (the challenger adds a class)', async () => {
    writeModel(join(tmp, 'm'), tinyModel(1, { labels: ['cat', 'fox'] }));
    const e = await evaluateModelDir(join(tmp, 'm'), readGoldenSet(GOLDEN, 'default'), {
      unknownFolders: 'miss',
    });
    expect(e.perClass.map((c) => [c.label, c.index, c.recall])).toEqual([
      ['cat', 0, 1],
      ['dog', -1, 0],
    ]);
    expect(e.accuracy).toBe(0.5);
  });

  it('counts each folder the model has no label for on its own row, not pooled under their shared index -1', async () => {
    writeModel(join(tmp, 'm'), tinyModel(1));
    cpSync(GOLDEN, join(tmp, 'g'), { recursive: true });
    for (const [folder, n] of [
      ['bird', 2],
      ['fish', 3],
    ] as const) {
      mkdirSync(join(tmp, 'g', folder));
      for (let i = 1; i <= n; i++) {
        cpSync(join(GOLDEN, 'dog', `dog-0${i}.png`), join(tmp, 'g', folder, `${folder}-${i}.png`));
      }
    }
    const e = await evaluateModelDir(join(tmp, 'm'), readGoldenSet(join(tmp, 'g'), 'g'), {
      unknownFolders: 'miss',
    });
    expect(e.perClass.map((c) => [c.label, c.index, c.count, c.correct])).toEqual([
      ['bird', -1, 2, 0],
      ['cat', 0, 8, 8],
      ['dog', 1, 8, 8],
      ['fish', -1, 3, 0],
    ]);
  });

  it('fails naming the role when the ONNX file does not have the expected sha256', async () => {
    writeModel(join(tmp, 'm'), tinyModel(1));
    await expect(
      evaluateModelDir(join(tmp, 'm'), readGoldenSet(GOLDEN, 'default'), { expectedSha256: 'f'.repeat(64) }),
    ).rejects.toThrow(/^evaluation: the model cannot be loaded: .*f{64}/);
  });

  it('fails clearly when the model cannot be loaded', async () => {
    writeModel(
      join(tmp, 'm'),
      withMetadata(tinyModel(1), (m) => ((m.input as { name: string }).name = 'nope')),
    );
    await expect(
      evaluateModelDir(join(tmp, 'm'), readGoldenSet(GOLDEN, 'default'), { role: 'challenger' }),
    ).rejects.toThrow(/^evaluation: the challenger cannot be loaded: .*no input 'nope'/);
  });
});

describe('mapFoldersToClasses', () => {
  it('maps a folder to the indices of its label; a repeated label stands for all its indices, keyed by the first', () => {
    const map = mapFoldersToClasses(['cat', 'dog'], ['dog', 'cat', 'dog'], 'g');
    expect(map.get('cat')).toEqual({ index: 1, indices: [1], label: 'cat' });
    expect(map.get('dog')).toEqual({ index: 0, indices: [0, 2], label: 'dog' });
  });

  it('maps a folder that is no label to a class of no index when missing classes are allowed', () => {
    expect(mapFoldersToClasses(['cat', 'fox'], ['cat'], 'g', 'miss').get('fox')).toEqual({
      index: -1,
      indices: [],
      label: 'fox',
    });
  });

  it('fails listing at most 20 of the labels', () => {
    const labels = Array.from({ length: 21 }, (_, i) => `l${i}`);
    const first20 = labels.slice(0, 20).join(', ');
    expect(() => mapFoldersToClasses(['fox'], labels, 'g')).toThrow(
      `golden set g: folder 'fox' is not a label of the model (labels: ${first20}, …): `,
    );
    expect(() => mapFoldersToClasses(['fox'], labels.slice(0, 20), 'g')).toThrow(
      `golden set g: folder 'fox' is not a label of the model (labels: ${first20}): `,
    );
  });
});

describe('agreement', () => {
  it('is the share of golden images with the same top label', () => {
    const a = evaluation(['cat', 'dog'], [[0, 0, 1, 1], [1]]);
    const b = evaluation(['cat', 'dog'], [[0, 1, 1, 0], [0]]);
    expect(agreement(a, b)).toBe(0.4);
  });

  it('refuses evaluations of different golden sets', () => {
    const a = evaluation(['cat', 'dog'], [[0], [1]]);
    const other = { ...a, goldenSet: { ...a.goldenSet, digest: 'e'.repeat(64) } };
    expect(() => agreement(a, other)).toThrow('agreement needs two evaluations of the same golden set');
  });
});
