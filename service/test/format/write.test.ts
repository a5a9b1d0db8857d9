import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readModelFiles, writeMlflowModelDir } from '../../src/model/format';
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
});
