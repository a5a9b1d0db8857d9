import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_LIMITS,
  downloadGoldenSet,
  goldenSetDigest,
  readGoldenSet,
} from '../../src/evaluation/golden-set';
import { FakeMlflow } from '../support/fake-mlflow';
import { fakeClient } from '../support/models';

describe('readGoldenSet', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'golden-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  function put(path: string, data: string | Buffer = 'x'): void {
    mkdirSync(join(tmp, path, '..'), { recursive: true });
    writeFileSync(join(tmp, path), data);
  }

  it('reads one folder per label, sorted, ignores hidden files, and digests names and contents', () => {
    put('dog/b.png', 'dog b');
    put('cat/a.png', 'cat a');
    put('cat/.DS_Store', 'junk');
    const set = readGoldenSet(tmp, 'golden');
    expect(set.folders).toEqual(['cat', 'dog']);
    expect(set.images.map((i) => i.path)).toEqual(['cat/a.png', 'dog/b.png']);
    const again = readGoldenSet(tmp, 'golden');
    expect(again.digest).toBe(set.digest);
    put('cat/a.png', 'cat A');
    expect(readGoldenSet(tmp, 'golden').digest).not.toBe(set.digest);
  });

  it('fails when a class folder is empty, naming the folder', () => {
    put('cat/a.png');
    mkdirSync(join(tmp, 'dog'));
    expect(() => readGoldenSet(tmp, 'golden')).toThrow(
      "golden set golden: folder 'dog' is empty: add images of 'dog' or remove the folder",
    );
  });

  it('fails when there is a file at the top level or a sub-folder in a class', () => {
    put('cat/a.png');
    put('dog/a.png');
    put('notes.txt');
    expect(() => readGoldenSet(tmp, 'golden')).toThrow(/'notes.txt' is a file at the top level/);
    rmSync(join(tmp, 'notes.txt'));
    put('cat/nested/b.png');
    expect(() => readGoldenSet(tmp, 'golden')).toThrow(/'cat\/nested' is not a file/);
  });

  it('fails when the directory does not exist or holds no folders', () => {
    expect(() => readGoldenSet(join(tmp, 'missing'), 'missing')).toThrow(
      /golden set missing: cannot be read \(ENOENT\)/,
    );
    expect(() => readGoldenSet(tmp, 'golden')).toThrow(/has no label folders/);
  });

  it('fails with one label folder only: a model answering that label for everything would score 100 %', () => {
    put('cat/a.png');
    put('cat/b.png');
    expect(() => readGoldenSet(tmp, 'golden')).toThrow(
      "golden set golden: has one label folder only ('cat'): a model that answers 'cat' for every image would " +
        'score 100 % on it; add a folder of images of at least one other label',
    );
    put('dog/a.png');
    expect(readGoldenSet(tmp, 'golden').folders).toEqual(['cat', 'dog']);
  });

  it('fails naming the file when an image cannot be read (a dangling link)', () => {
    put('cat/a.png');
    put('dog/a.png');
    symlinkSync(join(tmp, 'nowhere.png'), join(tmp, 'cat', 'b.png'));
    expect(() => readGoldenSet(tmp, 'g')).toThrow(/^golden set g: .*cat\/b\.png cannot be read \(ENOENT\)$/);
  });

  it('fails over each size limit, naming it', () => {
    put('cat/a.png', Buffer.alloc(100));
    put('dog/b.png', Buffer.alloc(100));
    expect(() => readGoldenSet(tmp, 'g', { ...DEFAULT_LIMITS, maxImages: 1 })).toThrow(
      /more than 1 images \(evaluation.limits.maxImages\)/,
    );
    expect(() => readGoldenSet(tmp, 'g', { ...DEFAULT_LIMITS, maxImageBytes: 99 })).toThrow(
      "golden set g: 'cat/a.png' has 100 bytes, over evaluation.limits.maxImageBytes (99): shrink or remove it",
    );
    expect(() => readGoldenSet(tmp, 'g', { ...DEFAULT_LIMITS, maxTotalBytes: 150 })).toThrow(
      /over evaluation.limits.maxTotalBytes \(150 bytes\)/,
    );
  });
  it('ignores hidden files at the top level and OS droppings, but not files merely named like them', () => {
    put('.DS_Store', 'junk');
    put('cat/Thumbs.db', 'junk');
    put('cat/desktop.ini', 'junk');
    put('cat/Thumbs.db.png', 'cat 1');
    put('cat/desktop.ini.png', 'cat 2');
    put('dog/a.png', 'dog');
    expect(readGoldenSet(tmp, 'golden').images.map((i) => i.path)).toEqual([
      'cat/Thumbs.db.png',
      'cat/desktop.ini.png',
      'dog/a.png',
    ]);
  });

  it('fails with exactly the message of the rule broken, never wrapped', () => {
    put('cat/a.png');
    mkdirSync(join(tmp, 'dog'));
    expect(() => readGoldenSet(tmp, 'golden')).toThrow(
      /^golden set golden: folder 'dog' is empty: add images of 'dog' or remove the folder$/,
    );
  });

  it('fails when the golden set is a file, or is missing, naming the config to check', () => {
    put('file.png');
    expect(() => readGoldenSet(join(tmp, 'file.png'), 'g')).toThrow(/^golden set g: is not a directory$/);
    expect(() => readGoldenSet(join(tmp, 'missing'), 'g')).toThrow(
      /^golden set g: cannot be read \(ENOENT\): check evaluation.goldenSet in the environment config or --golden$/,
    );
  });

  it('names the layout when a file is at the top level', () => {
    put('cat/a.png');
    put('notes.txt');
    expect(() => readGoldenSet(tmp, 'g')).toThrow(
      /^golden set g: 'notes.txt' is a file at the top level: a golden set holds one folder per label \(e.g. cat\/001.jpg, dog\/001.jpg\) and nothing else$/,
    );
  });

  it('accepts a golden set of exactly maxTotalBytes', () => {
    put('cat/a.png', Buffer.alloc(100));
    put('dog/b.png', Buffer.alloc(100));
    expect(
      readGoldenSet(tmp, 'g', { ...DEFAULT_LIMITS, maxTotalBytes: 200, maxImages: 2 }).images,
    ).toHaveLength(2);
  });
});

describe('goldenSetDigest', () => {
  const images = [
    { path: 'cat/a.png', sha256: 'a'.repeat(64) },
    { path: 'cat-x/b.png', sha256: 'b'.repeat(64) },
    { path: 'dog/c.png', sha256: 'c'.repeat(64) },
  ];

  it('is the sha256 of "<path> <sha256>" lines sorted by path, whatever the order given, which it leaves alone', () => {
    // 'cat-x/…' sorts before 'cat/…' ('-' < '/'), unlike the folders 'cat' < 'cat-x'.
    const lines = `cat-x/b.png ${'b'.repeat(64)}\ncat/a.png ${'a'.repeat(64)}\ndog/c.png ${'c'.repeat(64)}\n`;
    const expected = createHash('sha256').update(lines).digest('hex');
    const given = [images[2]!, images[0]!, images[1]!];
    expect(goldenSetDigest(given)).toBe(expected);
    expect(goldenSetDigest(images)).toBe(expected);
    expect(given.map((i) => i.path)).toEqual(['dog/c.png', 'cat/a.png', 'cat-x/b.png']);
  });
});

describe('downloadGoldenSet (through the MLflow client, fake registry)', () => {
  let fake: FakeMlflow;
  let tmp: string;
  const base = 'mlflow-artifacts:/1/run1/artifacts/golden';
  beforeEach(async () => {
    fake = await FakeMlflow.start();
    tmp = mkdtempSync(join(tmpdir(), 'golden-dl-'));
    fake.artifacts.set('1/run1/artifacts/golden/cat/a.png', Buffer.from('cat a'));
    fake.artifacts.set('1/run1/artifacts/golden/dog/b.png', Buffer.from('dog bb'));
  });
  afterEach(async () => {
    await fake.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('lists the folders, streams every file to disk and reads the same set as from a directory', async () => {
    fake.faults.chunked = true;
    const set = await downloadGoldenSet(fakeClient(fake), base, join(tmp, 'dl'));
    expect(set.source).toBe(base);
    expect(set.images.map((i) => [i.path, i.bytes.toString()])).toEqual([
      ['cat/a.png', 'cat a'],
      ['dog/b.png', 'dog bb'],
    ]);
    expect(readFileSync(join(tmp, 'dl', 'dog', 'b.png'), 'utf8')).toBe('dog bb');
    const downloads = fake.requests.filter((r) => r.method === 'GET' && r.url.includes('/artifacts/1/'));
    expect(downloads.map((r) => r.url)).toEqual([
      '/api/2.0/mlflow-artifacts/artifacts/1/run1/artifacts/golden/cat/a.png',
      '/api/2.0/mlflow-artifacts/artifacts/1/run1/artifacts/golden/dog/b.png',
    ]);
  });

  it('refuses a file over maxImageBytes from the listing, before downloading anything', async () => {
    await expect(
      downloadGoldenSet(fakeClient(fake), base, join(tmp, 'dl'), { ...DEFAULT_LIMITS, maxImageBytes: 5 }),
    ).rejects.toThrow(
      `golden set ${base}: 'dog/b.png' has 6 bytes, over evaluation.limits.maxImageBytes (5)`,
    );
    expect(fake.requests.some((r) => r.url.includes('/artifacts/1/run1/artifacts/golden/cat/a.png'))).toBe(
      false,
    );
  });

  it('fails clearly when the location holds nothing or a class folder is empty', async () => {
    await expect(
      downloadGoldenSet(fakeClient(fake), 'mlflow-artifacts:/1/run1/artifacts/none', join(tmp, 'dl')),
    ).rejects.toThrow(/does not exist or is empty in the artifact store/);
  });
  /** The artifact downloads the fake has seen. */
  const downloads = (): string[] =>
    fake.requests.filter((r) => r.method === 'GET' && r.url.includes('/artifacts/1/')).map((r) => r.url);

  it('accepts exactly maxImages images and maxTotalBytes bytes', async () => {
    const set = await downloadGoldenSet(fakeClient(fake), base, join(tmp, 'dl'), {
      ...DEFAULT_LIMITS,
      maxImages: 2,
      maxTotalBytes: 11,
    });
    expect(set.images).toHaveLength(2);
  });

  it('refuses more than maxImages or over maxTotalBytes from the listing, before downloading anything', async () => {
    await expect(
      downloadGoldenSet(fakeClient(fake), base, join(tmp, 'dl'), { ...DEFAULT_LIMITS, maxImages: 1 }),
    ).rejects.toThrow(
      `golden set ${base}: has more than 1 images (evaluation.limits.maxImages): use a smaller set`,
    );
    await expect(
      downloadGoldenSet(fakeClient(fake), base, join(tmp, 'dl'), { ...DEFAULT_LIMITS, maxTotalBytes: 10 }),
    ).rejects.toThrow(
      `golden set ${base}: is over evaluation.limits.maxTotalBytes (10 bytes): use a smaller set`,
    );
    expect(downloads()).toEqual([]);
  });

  it('refuses a file at the top level and a sub-folder in a class, before downloading anything', async () => {
    fake.artifacts.set('1/run1/artifacts/golden/readme.txt', Buffer.from('hi'));
    await expect(downloadGoldenSet(fakeClient(fake), base, join(tmp, 'dl'))).rejects.toThrow(
      `golden set ${base}: 'readme.txt' is a file at the top level: a golden set holds one folder per label and nothing else`,
    );
    fake.artifacts.delete('1/run1/artifacts/golden/readme.txt');
    fake.artifacts.set('1/run1/artifacts/golden/dog/sub/c.png', Buffer.from('dog c'));
    await expect(downloadGoldenSet(fakeClient(fake), base, join(tmp, 'dl'))).rejects.toThrow(
      `golden set ${base}: 'dog/sub' is not a file: label folders hold image files only`,
    );
    expect(downloads()).toEqual([]);
  });

  it.each(['', '.', '..'])("refuses a listing that names an entry '%s'", async (name) => {
    fake.artifacts.set(`1/run1/artifacts/golden/${name}/c.png`, Buffer.from('c'));
    await expect(downloadGoldenSet(fakeClient(fake), base, join(tmp, 'dl'))).rejects.toThrow(
      `golden set ${base}: the listing names an entry '${name}': not a file name`,
    );
    expect(downloads()).toEqual([]);
  });
});
