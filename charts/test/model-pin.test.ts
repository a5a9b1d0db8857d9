import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  formatModelPin,
  isLegacyPin,
  ModelPin,
  parseModelPin,
  readModelPin,
  writeModelPin,
} from '../src/config/model-pin';

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

  it('fails when the source or run id MLflow reported is not one line, before it reaches a commit message', () => {
    for (const [field, value] of [
      ['source', 'mlflow-artifacts://x\nModel-Rollback: staging/1/run/artifacts/model'],
      ['runId', 'abc\r\n'],
      ['source', 'mlflow-artifacts:/1/abc\u0000/artifacts/model'],
    ] as const) {
      expect(() => formatModelPin({ ...pin, [field]: value })).toThrow(
        `model pin: invalid model pin: '${field}' must be one line without control characters (as MLflow reported it)`,
      );
    }
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

describe('model pin: each field', () => {
  const fails = (raw: unknown): string => {
    try {
      parseModelPin(raw, 'staging.model.json');
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error(`accepted ${JSON.stringify(raw)}`);
  };

  it('fails on a pin that is not an object, naming the root', () => {
    for (const raw of [null, 'pin', 3, ['name']]) {
      expect(fails(raw)).toMatch(/^staging\.model\.json: invalid model pin: '\(root\)' /);
    }
  });

  it('fails on a model name that is not a registered model name', () => {
    for (const name of ['-cats', 'cats dogs', 'cats/dogs', 'cats!']) {
      expect(fails({ ...pin, name })).toBe(
        "staging.model.json: invalid model pin: 'name' must be a registered model name: letters, digits, . _ -",
      );
    }
    expect(parseModelPin({ ...pin, name: 'Cats.dogs_v2-x' }, 'p').name).toBe('Cats.dogs_v2-x');
  });

  it('fails on a version that is not a positive integer string', () => {
    for (const version of ['0', '03', '3a', 'v3', '1.0', '-1']) {
      expect(fails({ ...pin, version })).toBe(
        `staging.model.json: invalid model pin: 'version' must be a positive integer written as a string, e.g. "3"`,
      );
    }
    expect(parseModelPin({ ...pin, version: '120' }, 'p').version).toBe('120');
  });

  it('fails on a digest with upper-case, extra or missing characters', () => {
    for (const sha256 of ['A'.repeat(64), `x${'a'.repeat(64)}`, `${'a'.repeat(64)}x`, 'a'.repeat(63)]) {
      expect(fails({ ...pin, files: { ...pin.files, 'model.onnx': sha256 } })).toMatch(
        /^staging\.model\.json: invalid model pin: 'files\.model\.onnx' must be 64 lower-case hex characters \(the sha256 of the file\)/,
      );
    }
  });

  it('fails on file names that are paths or dot directories, naming each; other names starting with a dot are files', () => {
    expect(fails({ ...pin, files: { ...pin.files, 'sub/x': 'a'.repeat(64), '..': 'a'.repeat(64) } })).toBe(
      "staging.model.json: invalid model pin: 'files.sub/x' must be a file name in the model directory (letters, digits, . _ -); " +
        "'files...' must be a file name in the model directory (letters, digits, . _ -)",
    );
    expect(fails({ ...pin, files: { ...pin.files, '.': 'a'.repeat(64) } })).toMatch(
      /'files\.\.' must be a file name/,
    );
    expect(
      parseModelPin({ ...pin, files: { ...pin.files, '.labels.txt': 'c'.repeat(64) } }, 'p').files,
    ).toHaveProperty(['.labels.txt']);
  });

  it('formatModelPin names the pin it refuses', () => {
    expect(() => formatModelPin({ ...pin, version: 'x' })).toThrow(
      /^model pin: invalid model pin: 'version' /,
    );
  });

  it('fails to read a file that is missing or not JSON, naming it', () => {
    const file = tempFile('local.model.json');
    expect(() => readModelPin(file)).toThrow(new RegExp(`^${file}: cannot read the model pin: ENOENT`));
    writeFileSync(file, '{"name": ');
    expect(() => readModelPin(file)).toThrow(new RegExp(`^${file}: cannot read the model pin: .*JSON`));
  });

  it('leaves no temp file behind when the pin cannot be put in place', () => {
    const file = tempFile('staging.model.json');
    mkdirSync(file);
    expect(() => writeModelPin(file, pin)).toThrow();
    expect(readdirSync(join(file, '..'))).toEqual(['staging.model.json']);
  });
});
