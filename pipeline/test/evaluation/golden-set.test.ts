import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LIMITS, downloadGoldenSet, readGoldenSet } from '../../src/evaluation/golden-set';
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

  it('fails naming the file when an image cannot be read (a dangling link)', () => {
    put('cat/a.png');
    symlinkSync(join(tmp, 'nowhere.png'), join(tmp, 'cat', 'b.png'));
    expect(() => readGoldenSet(tmp, 'g')).toThrow(/^golden set g: .*cat\/b\.png cannot be read \(ENOENT\)$/);
  });

  it('fails over each size limit, naming it', () => {
    put('cat/a.png', Buffer.alloc(100));
    put('cat/b.png', Buffer.alloc(100));
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
});
