/**
 * @jest-environment ./test/support/ort-environment.js
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '../../service/src/model/format';
import { buildIdentityModel } from '../../service/src/model/builders';
import { validateModelDir } from '../src/gate';
import { meanColourModel, tinyModel, writeModel } from './support/models';

describe('validateModelDir (the promotion gate)', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'gate-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  /** Edits model.json and returns the digests of the directory after the edit. */
  function editMetadata(
    dir: string,
    files: Record<string, string>,
    edit: (meta: Record<string, unknown>) => void,
  ): Record<string, string> {
    const file = join(dir, 'model.json');
    const meta = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    edit(meta);
    writeFileSync(file, JSON.stringify(meta));
    return { ...files, 'model.json': sha256Hex(readFileSync(file)) };
  }

  it('passes a servable model and reports a prediction per sample image', async () => {
    const { files, sha256 } = writeModel(tmp, tinyModel());
    const report = await validateModelDir(tmp, { files });
    expect(report.sha256).toBe(sha256);
    expect(report.samples).toBe(5);
    expect(report.predictions).toHaveLength(5);
    for (const p of report.predictions) expect(['cat', 'dog']).toContain(p);
  });

  it('fails when a file does not match the digests to be pinned', async () => {
    const { files } = writeModel(tmp, tinyModel());
    await expect(
      validateModelDir(tmp, { files: { ...files, 'model.onnx': 'f'.repeat(64) } }),
    ).rejects.toThrow(
      /^validation gate: .*do not match the pin: model.onnx has sha256 [0-9a-f]{64} but the pin expects f{64}/,
    );
  });

  it('fails when a file that influences serving would not be pinned', async () => {
    const { files } = writeModel(tmp, tinyModel());
    writeFileSync(join(tmp, 'labels.txt'), 'cat\ndog\n');
    await expect(validateModelDir(tmp, { files })).rejects.toThrow(
      /labels.txt influences serving but is not pinned/,
    );
  });

  it('fails when the input shape does not fit the metadata', async () => {
    const written = writeModel(tmp, tinyModel());
    const files = editMetadata(tmp, written.files, (m) => {
      (m.input as Record<string, number>).height = 64;
      (m.input as Record<string, number>).width = 64;
    });
    await expect(validateModelDir(tmp, { files })).rejects.toThrow(/^validation gate: .*input 'input'/);
  });

  it('fails when the label count does not match the output width', async () => {
    const written = writeModel(tmp, tinyModel());
    const files = editMetadata(tmp, written.files, (m) => {
      m.labels = ['cat', 'dog', 'bird'];
    });
    await expect(validateModelDir(tmp, { files })).rejects.toThrow(/^validation gate: .*label/);
  });

  it('fails when the input name is not in the graph', async () => {
    const written = writeModel(tmp, tinyModel());
    const files = editMetadata(tmp, written.files, (m) => {
      (m.input as Record<string, string>).name = 'image';
    });
    await expect(validateModelDir(tmp, { files })).rejects.toThrow(/the graph has no input 'image'/);
  });

  it('fails when outputs declared as probabilities do not sum to 1', async () => {
    const { files } = writeModel(tmp, buildIdentityModel({ height: 2, width: 2 }));
    await expect(validateModelDir(tmp, { files })).rejects.toThrow(
      /declared 'probabilities' but its values sum to/,
    );
  });

  it('fails when outputs declared as logits are probabilities on every sample (softmax would run twice)', async () => {
    const { files } = writeModel(tmp, meanColourModel('softmax', 'logits'));
    await expect(validateModelDir(tmp, { files })).rejects.toThrow(
      "validation gate: output 'scores' is declared 'logits' but on every sample image its values are " +
        'probabilities (in [0, 1], summing to 1): the service would apply softmax to them again',
    );
    const declared = writeModel(join(tmp, 'p'), meanColourModel('softmax', 'probabilities'));
    await expect(validateModelDir(join(tmp, 'p'), { files: declared.files })).resolves.toMatchObject({
      samples: 5,
    });
  });

  it('fails when the model is slower than the latency budget', async () => {
    const { files } = writeModel(tmp, tinyModel());
    await expect(validateModelDir(tmp, { files, latencyBudgetMs: 0 })).rejects.toThrow(
      /median time per sample image is [0-9.]+ ms, over the budget of 0 ms/,
    );
  });

  it('fails when model.onnx is not an ONNX graph', async () => {
    const { files } = writeModel(tmp, tinyModel());
    writeFileSync(join(tmp, 'model.onnx'), 'not onnx');
    await expect(
      validateModelDir(tmp, { files: { ...files, 'model.onnx': sha256Hex('not onnx') } }),
    ).rejects.toThrow(/model\.onnx: not an ONNX model/);
  });
});
