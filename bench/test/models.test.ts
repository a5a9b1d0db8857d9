import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureModels } from '../src/models';

describe('ensureModels (what lets `npm run bench` run on a fresh clone)', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'bench-models-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('builds a model that is not on disk, and leaves a built one alone', () => {
    const lines: string[] = [];
    ensureModels(['default'], (l) => lines.push(l), root);
    const onnx = path.join(root, 'default', 'model.onnx');
    expect(statSync(onnx).size).toBeGreaterThan(1000);
    expect(lines).toEqual(['model default: not built yet, building it (npm run model:default)']);
    const before = statSync(onnx).mtimeMs;
    ensureModels(['default'], (l) => lines.push(l), root);
    expect(lines).toHaveLength(1);
    expect(statSync(onnx).mtimeMs).toBe(before);
  });

  it('fails naming the model when it cannot be built', () => {
    expect(() => ensureModels(['no-such-model'], () => undefined, root)).toThrow(
      /cannot build the 'no-such-model' model .*unknown model variant 'no-such-model'/,
    );
  });
});
