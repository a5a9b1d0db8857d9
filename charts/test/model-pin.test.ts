import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatModelPin, ModelPin, readModelPin, writeModelPin } from '../src/config/model-pin';

const pin: ModelPin = {
  name: 'cats-dogs-classifier',
  version: '3',
  sha256: 'a'.repeat(64),
  source: 'mlflow-artifacts:/1/abc/artifacts/model',
  runId: 'abc',
};

describe('model pin', () => {
  it('round-trips through a file with a fixed key order and no temp files left', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pin-'));
    const file = join(dir, 'staging.model.json');
    writeModelPin(file, { runId: 'abc', ...pin });
    expect(readModelPin(file)).toEqual(pin);
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')))).toEqual([
      'name',
      'version',
      'sha256',
      'source',
      'runId',
    ]);
    expect(readdirSync(dir)).toEqual(['staging.model.json']);
  });

  it('fails when the version is a number, naming the file and the field', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pin-')), 'production.model.json');
    writeFileSync(file, JSON.stringify({ ...pin, version: 3 }));
    expect(() => readModelPin(file)).toThrow(/production\.model\.json: invalid model pin: 'version'/);
  });

  it('fails when the sha256 is not 64 hex characters', () => {
    expect(() => formatModelPin({ ...pin, sha256: 'xyz' })).toThrow(/64 lower-case hex/);
  });

  it('fails on unknown fields', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pin-')), 'local.model.json');
    writeFileSync(file, JSON.stringify({ ...pin, stage: 'Production' }));
    expect(() => readModelPin(file)).toThrow(/Unrecognized key/);
  });
});
