import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModelPin } from '../../../charts/src/config';
import { migratePins } from '../../src/commands/migrate-pins';

const LEGACY = {
  name: 'cats-dogs-classifier',
  version: '1',
  sha256: 'a'.repeat(64),
  metadataSha256: 'b'.repeat(64),
  source: 'mlflow-artifacts:/1/r/artifacts/model',
  runId: 'r',
};

describe('migrate-pins', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'migrate-pins-'));
    execFileSync('git', ['init', '--quiet', root]);
    mkdirSync(join(root, 'charts', 'environments'), { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const pinFile = (env: string): string => join(root, 'charts', 'environments', `${env}.model.json`);

  it('rewrites legacy pins with per-file digests (same digests) and leaves current ones alone', async () => {
    writeFileSync(pinFile('staging'), JSON.stringify(LEGACY, null, 2));
    writeFileSync(pinFile('production'), JSON.stringify(LEGACY, null, 2));
    expect(await migratePins(root, () => undefined)).toEqual([
      'charts/environments/staging.model.json',
      'charts/environments/production.model.json',
    ]);
    const text = readFileSync(pinFile('staging'), 'utf8');
    expect(JSON.parse(text)).toEqual({
      name: LEGACY.name,
      version: '1',
      sha256: LEGACY.sha256,
      files: { 'model.json': LEGACY.metadataSha256, 'model.onnx': LEGACY.sha256 },
      source: LEGACY.source,
      runId: 'r',
    });
    expect(readModelPin(pinFile('staging')).files['model.onnx']).toBe(LEGACY.sha256);
    expect(await migratePins(root, () => undefined)).toEqual([]);
    expect(readFileSync(pinFile('staging'), 'utf8')).toBe(text);
  });

  it('fails on a legacy pin without metadataSha256, saying to promote again, and changes nothing', async () => {
    const { metadataSha256: _dropped, ...noMeta } = LEGACY;
    void _dropped;
    writeFileSync(pinFile('local'), JSON.stringify(noMeta));
    await expect(migratePins(root, () => undefined)).rejects.toThrow(/promote the version again/);
    expect(JSON.parse(readFileSync(pinFile('local'), 'utf8'))).toEqual(noMeta);
  });

  it('rewrites no pin when a later one is corrupt: every pin is read before any is written', async () => {
    const legacy = JSON.stringify(LEGACY, null, 2);
    writeFileSync(pinFile('local'), legacy); // read first (ENVIRONMENTS order), fine
    writeFileSync(pinFile('staging'), '{"name": ');
    await expect(migratePins(root, () => undefined)).rejects.toThrow(/staging\.model\.json/);
    expect(readFileSync(pinFile('local'), 'utf8')).toBe(legacy);
  });
});
