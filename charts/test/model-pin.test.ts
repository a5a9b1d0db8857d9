import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatModelPin, isLegacyPin, ModelPin, readModelPin, writeModelPin } from '../src/config/model-pin';

const pin: ModelPin = {
  name: 'cats-dogs-classifier',
  version: '3',
  sha256: 'a'.repeat(64),
  files: { 'model.onnx': 'a'.repeat(64), MLmodel: 'b'.repeat(64), 'labels.json': 'c'.repeat(64) },
  source: 'mlflow-artifacts:/1/abc/artifacts/model',
  runId: 'abc',
};

function tempFile(name: string): string {
  return join(mkdtempSync(join(tmpdir(), 'pin-')), name);
}

describe('model pin', () => {
  it('round-trips through a file with a fixed key order, files sorted, and no temp files left', () => {
    const file = tempFile('staging.model.json');
    writeModelPin(file, { runId: 'abc', ...pin });
    expect(readModelPin(file)).toEqual(pin);
    const written = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(written)).toEqual(['name', 'version', 'sha256', 'files', 'source', 'runId']);
    expect(Object.keys(written.files as object)).toEqual(['MLmodel', 'labels.json', 'model.onnx']);
    expect(readdirSync(join(file, '..'))).toEqual(['staging.model.json']);
  });

  it('reads a legacy pin (sha256 + metadataSha256) as the same pin over model.onnx and model.json', () => {
    const file = tempFile('production.model.json');
    const legacy = {
      name: 'cats-dogs-classifier',
      version: '1',
      sha256: 'a'.repeat(64),
      metadataSha256: 'd'.repeat(64),
      source: 'mlflow-artifacts:/1/abc/artifacts/model',
    };
    writeFileSync(file, JSON.stringify(legacy));
    expect(isLegacyPin(legacy)).toBe(true);
    expect(readModelPin(file)).toEqual({
      name: legacy.name,
      version: '1',
      sha256: legacy.sha256,
      files: { 'model.onnx': legacy.sha256, 'model.json': legacy.metadataSha256 },
      source: legacy.source,
    });
    expect(isLegacyPin(JSON.parse(formatModelPin(readModelPin(file))))).toBe(false);
  });

  it('fails when a legacy pin has no metadataSha256, saying to promote again', () => {
    const file = tempFile('local.model.json');
    writeFileSync(file, JSON.stringify({ ...pin, files: undefined }));
    expect(() => readModelPin(file)).toThrow(
      /'files' must name MLmodel or model\.json.*promote the version again/,
    );
  });

  it('fails when the version is a number, naming the file and the field', () => {
    const file = tempFile('production.model.json');
    writeFileSync(file, JSON.stringify({ ...pin, version: 3 }));
    expect(() => readModelPin(file)).toThrow(/production\.model\.json: invalid model pin: 'version'/);
  });

  it('fails when a digest is not 64 hex characters', () => {
    expect(() => formatModelPin({ ...pin, sha256: 'xyz' })).toThrow(/'sha256' must be 64 lower-case hex/);
    expect(() => formatModelPin({ ...pin, files: { ...pin.files, MLmodel: 'xyz' } })).toThrow(
      /'files\.MLmodel' must be 64 lower-case hex/,
    );
  });

  it('fails when sha256 is not the digest of a pinned file', () => {
    expect(() => formatModelPin({ ...pin, sha256: 'e'.repeat(64) })).toThrow(
      /'sha256' must be the digest of one of 'files'/,
    );
  });

  it('fails when a pinned file name is a path', () => {
    expect(() => formatModelPin({ ...pin, files: { ...pin.files, '../x': 'a'.repeat(64) } })).toThrow(
      /must be a file name in the model directory/,
    );
  });

  it('fails on unknown fields', () => {
    const file = tempFile('local.model.json');
    writeFileSync(file, JSON.stringify({ ...pin, stage: 'Production' }));
    expect(() => readModelPin(file)).toThrow(/Unrecognized key/);
  });
});
