import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  parseMlmodel,
  readModelFiles,
  sha256Hex,
  writeFileAtomic,
  writeMlflowModelDir,
} from '../../src/model/format';
import { buildSimpleCnn } from '../../src/model/onnx-builder';
import { tempDir } from '../helpers';

describe('writeMlflowModelDir', () => {
  test('writes MLmodel + model.onnx that resolve to the built description, byte-identical with a fixed uuid and date', async () => {
    const a = tempDir('write-a-');
    const b = tempDir('write-b-');
    try {
      const model = buildSimpleCnn({ inputSize: 32, channels: [4, 4, 4], hidden: 8 });
      const fixed = { modelUuid: '0'.repeat(32), created: new Date('2024-06-11T00:00:00Z') };
      writeFileSync(join(a.dir, 'model.json'), '{}'); // a stale override from an older write is removed
      writeMlflowModelDir(a.dir, model, fixed);
      writeMlflowModelDir(b.dir, model, fixed);
      expect(readdirSync(a.dir).sort()).toEqual(['MLmodel', 'model.onnx']);
      expect(readFileSync(join(a.dir, 'MLmodel'))).toEqual(readFileSync(join(b.dir, 'MLmodel')));
      const files = await readModelFiles(a.dir);
      expect(files.format).toBe('mlflow');
      expect(files.metadata).toMatchObject({ ...model.metadata, schemaVersion: 1 });
    } finally {
      a.cleanup();
      b.cleanup();
    }
  });

  test('returns the ONNX sha256, removes stale labels files too, and writes the signature and the given uuid and date', async () => {
    const { dir, cleanup } = tempDir('write-');
    try {
      const model = buildSimpleCnn({ inputSize: 32, channels: [4, 4, 4], hidden: 8 });
      writeFileSync(join(dir, 'labels.json'), '["x", "y"]');
      writeFileSync(join(dir, 'labels.txt'), 'x\ny\n');
      const sha = writeMlflowModelDir(join(dir, 'new', 'v1'), model);
      expect(sha).toBe(sha256Hex(model.onnx));
      expect(writeMlflowModelDir(dir, model, { modelUuid: 'ab'.repeat(16), created: new Date(0) })).toBe(sha);
      expect(readdirSync(dir).sort()).toEqual(['MLmodel', 'model.onnx', 'new']);
      expect(readFileSync(join(dir, 'model.onnx'))).toEqual(Buffer.from(model.onnx));
      const mlmodel = readFileSync(join(dir, 'MLmodel'), 'utf8');
      expect(mlmodel).toContain(`model_uuid: ${'ab'.repeat(16)}\n`);
      expect(mlmodel).toContain("utc_time_created: '1970-01-01 00:00:00.000000'\n");
      expect(parseMlmodel(mlmodel, 'MLmodel').signature).toEqual({
        inputs: [{ name: 'input', dtype: 'float32', shape: [-1, 3, 32, 32] }],
        outputs: [{ name: 'logits', dtype: 'float32', shape: [-1, 2] }],
      });
      expect((await readModelFiles(dir)).sources.labels).toBe('MLmodel metadata.model_gitops');
    } finally {
      cleanup();
    }
  });

  test('refuses bytes that are not ONNX before writing anything', () => {
    const { dir, cleanup } = tempDir('write-');
    try {
      const model = buildSimpleCnn({ inputSize: 32, channels: [4, 4, 4], hidden: 8 });
      expect(() => writeMlflowModelDir(join(dir, 'v1'), { ...model, onnx: Buffer.from('not onnx') })).toThrow(
        /v1\/model\.onnx: not an ONNX model/,
      );
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      cleanup();
    }
  });
});

describe('writeFileAtomic', () => {
  test('replaces the file whole and leaves no temp file, also when the rename fails', () => {
    const { dir, cleanup } = tempDir('atomic-');
    try {
      const file = join(dir, 'MLmodel');
      writeFileAtomic(file, 'old');
      writeFileAtomic(file, Buffer.from('new'));
      expect(readFileSync(file, 'utf8')).toBe('new');
      expect(readdirSync(dir)).toEqual(['MLmodel']);
      // A directory where the file should go: the rename fails, the temp file is removed.
      mkdirSync(join(dir, 'taken'));
      writeFileSync(join(dir, 'taken', 'inside'), 'x');
      expect(() => writeFileAtomic(join(dir, 'taken'), 'data')).toThrow();
      expect(readdirSync(dir).sort()).toEqual(['MLmodel', 'taken']);
    } finally {
      cleanup();
    }
  });
});
