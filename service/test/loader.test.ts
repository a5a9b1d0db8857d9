/**
 * @jest-environment ./test/support/ort-environment.js
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Classifier } from '../src/classifier';
import { InferencePool } from '../src/inference/pool';
import { readModelFiles, sha256Hex } from '../src/model/format';
import { runBatch } from '../src/model/loader';
import { openModel } from '../src/model/open-model';
import { buildIdentityModel, buildMobileNet, buildSimpleCnn, writeModelDir } from '../src/model/onnx-builder';
import { noisyJpeg, tempDir, writeTinyCnn } from './helpers';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

async function openFails(dir: string, message: RegExp, expectedSha256?: string): Promise<void> {
  await expect(Classifier.open(dir, { expectedSha256 })).rejects.toThrow(message);
}

describe('model loading', () => {
  test('a valid model opens, reports its digests and classifies an image', async () => {
    const sha = writeTinyCnn(tmp.dir);
    const classifier = await Classifier.open(tmp.dir, { expectedSha256: sha });
    try {
      expect(classifier.files.sha256).toBe(sha);
      expect(classifier.files.metadataSha256).toMatch(/^[0-9a-f]{64}$/);
      const result = await classifier.classify(await noisyJpeg(64, 48));
      expect(['cat', 'dog']).toContain(result.label);
      expect(result.topK.map((c) => c.score).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    } finally {
      await classifier.close();
    }
  });

  test('openModel loads, validates and runs in-process (the promotion gate path)', async () => {
    writeModelDir(tmp.dir, buildIdentityModel());
    const model = await openModel(tmp.dir);
    try {
      expect(model.io).toEqual({ fixedBatch: null, imageShape: [3, 2, 2], classes: 12 });
      const input = Float32Array.from({ length: 24 }, (_, i) => i);
      const out = await runBatch(model.session, model.files.metadata, model.io, input, 2);
      expect(Array.from(out)).toEqual(Array.from(input));
    } finally {
      await model.session.release();
    }
  });

  test('an ImageNet-style model (224x224, centre crop, 1000 logits) is served from its metadata alone', async () => {
    writeModelDir(tmp.dir, buildMobileNet());
    const classifier = await Classifier.open(tmp.dir);
    try {
      expect(classifier.files.metadata.preprocessing.resize).toBe('center-crop');
      const result = await classifier.classify(await noisyJpeg(640, 480), 5);
      expect(result.topK).toHaveLength(5);
      expect(result.topK[0]?.label).toMatch(/^class_\d+$/);
      expect((await classifier.rawScores(await noisyJpeg(300, 500))).length).toBe(1000);
    } finally {
      await classifier.close();
    }
  });

  test('fails when the directory holds no model, saying how to log one', async () => {
    await openFails(
      tmp.dir,
      /not a model directory: no MLmodel \(nor model\.json\) among nothing: log the model with mlflow\.onnx\.log_model/,
    );
  });

  test('fails when model.json names no model.onnx beside it', async () => {
    writeTinyCnn(tmp.dir);
    rmSync(join(tmp.dir, 'model.onnx'));
    await openFails(tmp.dir, /model\.onnx: file not found .*found: model\.json/);
  });

  test('fails when model.onnx is corrupt', async () => {
    writeTinyCnn(tmp.dir);
    writeFileSync(join(tmp.dir, 'model.onnx'), 'this is not a protobuf');
    await openFails(tmp.dir, /model\.onnx: not an ONNX model .*: the file is corrupt/);
  });

  test('fails when model.json is not JSON', async () => {
    writeTinyCnn(tmp.dir);
    writeFileSync(join(tmp.dir, 'model.json'), '{ nope');
    await openFails(tmp.dir, /model\.json: not valid JSON/);
  });

  test('fails when model.json misses what the graph cannot say, naming it and the Python fix', async () => {
    writeTinyCnn(tmp.dir);
    writeFileSync(
      join(tmp.dir, 'model.json'),
      JSON.stringify({ labels: ['cat', 'dog'], output: { name: 'logits' } }),
    );
    await openFails(
      tmp.dir,
      /missing preprocessing \(graph inputs: input \[batch, 3, 32, 32\].*"preprocessing": \{"resize"/s,
    );
  });

  test('fails when model.json has an unknown field, naming it', async () => {
    writeTinyCnn(tmp.dir, { extra: 1 } as never);
    await openFails(tmp.dir, /model\.json: invalid model description: .*Unrecognized key.*extra/);
  });

  test('fails when the sha256 does not match MODEL_SHA256', async () => {
    writeTinyCnn(tmp.dir);
    await openFails(tmp.dir, /sha256 is [0-9a-f]{64} but MODEL_SHA256 expects 0{64}/, '0'.repeat(64));
  });

  test('fails when the label count differs from the output width', async () => {
    writeTinyCnn(tmp.dir, { labels: ['cat', 'dog', 'bird'] });
    await openFails(tmp.dir, /output 'logits' has 2 classes but the description lists 3 labels/);
  });

  test('fails when the input name is not in the graph', async () => {
    const model = buildSimpleCnn({ inputSize: 32, channels: [4, 8, 8], hidden: 8 });
    writeModelDir(tmp.dir, {
      ...model,
      metadata: { ...model.metadata, input: { ...model.metadata.input, name: 'image' } },
    });
    await openFails(tmp.dir, /the graph has no input 'image' \(inputs: input\)/);
  });

  test('fails when the input size differs from the metadata', async () => {
    writeTinyCnn(tmp.dir, { input: { name: 'input', layout: 'NCHW', height: 64, width: 64 } });
    await openFails(tmp.dir, /needs height = 64/);
  });

  test('fails when the layout is wrong (NHWC declared for an NCHW graph)', async () => {
    writeTinyCnn(tmp.dir, { input: { name: 'input', layout: 'NHWC', height: 32, width: 32 } });
    await openFails(tmp.dir, /layout NHWC/);
  });

  test('fails when the input is float16, saying the service feeds float32 only', async () => {
    writeModelDir(tmp.dir, buildIdentityModel({ inputType: 'float16' }));
    await openFails(tmp.dir, /input 'pixels' has element type float16; the service feeds float32 only/);
  });

  test('a model with a fixed batch of 1 runs multi-image batches image by image', async () => {
    writeModelDir(tmp.dir, buildIdentityModel({ batch: 1 }));
    const pool = await InferencePool.start({ files: await readModelFiles(tmp.dir), workers: 1, queueMax: 1 });
    try {
      const input = Float32Array.from({ length: 24 }, (_, i) => i / 24);
      const expected = Array.from(input);
      const out = await pool.run(input, 2, Infinity);
      expect(Array.from(out.scores)).toEqual(expected);
    } finally {
      await pool.close();
    }
  });
});

describe('model builder', () => {
  test('the seed changes the weights', () => {
    const small = { inputSize: 32, channels: [4, 8, 8] as const, hidden: 8 };
    expect(sha256Hex(buildSimpleCnn({ ...small, seed: 1 }).onnx)).not.toBe(
      sha256Hex(buildSimpleCnn({ ...small, seed: 2 }).onnx),
    );
  });
});
