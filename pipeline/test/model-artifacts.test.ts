import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeStaleTempDirs, replaceDir, siblingTempDir, ttyProgress } from '../src/model-artifacts';

describe('model directory helpers', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'artifacts-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  function dirWith(name: string, content: string): string {
    const dir = join(tmp, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'model.onnx'), content);
    return dir;
  }

  it('replaces an existing directory by renames, leaving no temp directory', () => {
    dirWith('current', 'old');
    const fresh = dirWith('fresh', 'new');
    replaceDir(fresh, join(tmp, 'current'));
    expect(readFileSync(join(tmp, 'current', 'model.onnx'), 'utf8')).toBe('new');
    expect(readdirSync(tmp)).toEqual(['current']);
  });

  it('moves a directory into place when the destination does not exist yet', () => {
    const fresh = dirWith('fresh', 'new');
    replaceDir(fresh, join(tmp, 'current'));
    expect(readdirSync(tmp)).toEqual(['current']);
  });

  it('removes only the temp directories it names', () => {
    const dest = join(tmp, 'current');
    mkdirSync(siblingTempDir(dest, 'fetch'));
    mkdirSync(siblingTempDir(dest, 'old'));
    mkdirSync(join(tmp, '.current.keep-me'));
    mkdirSync(join(tmp, 'other'));
    removeStaleTempDirs(dest);
    expect(readdirSync(tmp).sort()).toEqual(['.current.keep-me', 'other']);
  });

  it('finds nothing stale when the parent directory does not exist yet', () => {
    expect(() => removeStaleTempDirs(join(tmp, 'missing', 'current'))).not.toThrow();
  });

  it('fails when the parent of the destination cannot be listed, instead of skipping the cleanup', () => {
    writeFileSync(join(tmp, 'models'), 'a file, not a directory');
    expect(() => removeStaleTempDirs(join(tmp, 'models', 'current'))).toThrow(
      `${join(tmp, 'models', 'current')}: its parent ${join(tmp, 'models')} cannot be listed (ENOTDIR): ` +
        'the destination must be a path inside a directory this process can read and write',
    );
  });
});

describe('ttyProgress', () => {
  it('is off when the stream is not a terminal', () => {
    expect(ttyProgress({ isTTY: false } as NodeJS.WriteStream)).toBeUndefined();
  });

  it('rewrites one line per file on a terminal and ends it when the file is complete', () => {
    const written: string[] = [];
    const stream = { isTTY: true, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
    const progress = ttyProgress(stream);
    progress?.('model.onnx', 1_048_576, 2_097_152);
    progress?.('model.onnx', 2_097_152, 2_097_152);
    expect(written).toEqual([
      '\rmodel.onnx: 1.0 MiB / 2.0 MiB (50%)\x1b[K',
      '\rmodel.onnx: 2.0 MiB / 2.0 MiB (100%)\x1b[K\n',
    ]);
  });
});
