/**
 * @jest-environment ./test/support/ort-environment.js
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildIdentityModel } from '../../service/src/model/onnx-builder';
import { validateModelDir } from '../src/gate';
import { sha256Of, tinyModel, writeModel } from './support/models';

describe('validateModelDir (the promotion gate)', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'gate-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  function editMetadata(dir: string, edit: (meta: Record<string, unknown>) => void): void {
    const file = join(dir, 'model.json');
    const meta = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    edit(meta);
    writeFileSync(file, JSON.stringify(meta));
  }

  it('passes a servable model and reports a prediction per sample image', async () => {
    const { sha256 } = writeModel(tmp, tinyModel());
    const report = await validateModelDir(tmp, { sha256 });
    expect(report.samples).toBe(5);
    expect(report.predictions).toHaveLength(5);
    for (const p of report.predictions) expect(['cat', 'dog']).toContain(p);
  });

  it('fails when model.onnx does not match the sha256', async () => {
    writeModel(tmp, tinyModel());
    await expect(validateModelDir(tmp, { sha256: 'f'.repeat(64) })).rejects.toThrow(
      /^validation gate: .*model.onnx: sha256 is [0-9a-f]{64} but MODEL_SHA256 expects f{64}/,
    );
  });

  it('fails when the input shape does not fit the metadata', async () => {
    const { sha256 } = writeModel(tmp, tinyModel());
    editMetadata(tmp, (m) => {
      (m.input as Record<string, number>).height = 64;
      (m.input as Record<string, number>).width = 64;
    });
    await expect(validateModelDir(tmp, { sha256 })).rejects.toThrow(/^validation gate: .*input 'input'/);
  });

  it('fails when the label count does not match the output width', async () => {
    const { sha256 } = writeModel(tmp, tinyModel());
    editMetadata(tmp, (m) => {
      m.labels = ['cat', 'dog', 'bird'];
    });
    await expect(validateModelDir(tmp, { sha256 })).rejects.toThrow(/^validation gate: .*label/);
  });

  it('fails when the input name is not in the graph', async () => {
    const { sha256 } = writeModel(tmp, tinyModel());
    editMetadata(tmp, (m) => {
      (m.input as Record<string, string>).name = 'image';
    });
    await expect(validateModelDir(tmp, { sha256 })).rejects.toThrow(/the graph has no input 'image'/);
  });

  it('fails when outputs declared as probabilities do not sum to 1', async () => {
    const { sha256 } = writeModel(tmp, buildIdentityModel({ height: 2, width: 2 }));
    await expect(validateModelDir(tmp, { sha256 })).rejects.toThrow(
      /declared 'probabilities' but its values sum to/,
    );
  });

  it('fails when the model is slower than the latency budget', async () => {
    const { sha256 } = writeModel(tmp, tinyModel());
    await expect(validateModelDir(tmp, { sha256, latencyBudgetMs: 0 })).rejects.toThrow(
      /median time per sample image is [0-9.]+ ms, over the budget of 0 ms/,
    );
  });

  it('fails when model.onnx is not an ONNX graph', async () => {
    const { sha256 } = writeModel(tmp, tinyModel());
    writeFileSync(join(tmp, 'model.onnx'), 'not onnx');
    const sha = sha256Of(Buffer.from('not onnx'));
    expect(sha).not.toBe(sha256);
    await expect(validateModelDir(tmp, { sha256: sha })).rejects.toThrow(
      /ONNX Runtime cannot load the model/,
    );
  });
});
