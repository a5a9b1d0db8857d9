import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { readModelFiles, sha256Hex } from '../../src/model/format';
import { tempDir } from '../helpers';
import { fixture, mlmodelWithBlock, softmaxClassifier, writeDir } from '../mlflow-fixtures';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir('format-');
});
afterEach(() => tmp.cleanup());

const PREPROCESSING_BLOCK = [
  '    preprocessing:',
  '      interpolation: bilinear',
  '      mean: [0.485, 0.456, 0.406]',
  '      resize: center-crop',
  '      std: [0.229, 0.224, 0.225]',
  '',
].join('\n');

describe('resolving an MLflow model directory', () => {
  test('the MLmodel MLflow wrote with a metadata block is served: description from it, the rest from the graph', async () => {
    const onnx = softmaxClassifier();
    writeDir(tmp.dir, { MLmodel: { fixture: 'MLmodel.with-metadata' }, 'model.onnx': onnx });
    const files = await readModelFiles(tmp.dir);
    expect(files.format).toBe('mlflow');
    expect(files.onnxFile).toBe('model.onnx');
    expect(files.metadata).toEqual({
      schemaVersion: 1,
      labels: ['cat', 'dog'],
      input: { name: 'input', layout: 'NCHW', height: 224, width: 224, channelOrder: 'RGB' },
      preprocessing: {
        resize: 'center-crop',
        resizeShorterSide: 256,
        interpolation: 'bilinear',
        scale: 1 / 255,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
        background: '#ffffff',
      },
      output: { name: 'probabilities', kind: 'probabilities' },
    });
    expect(files.sources).toMatchObject({
      labels: 'MLmodel metadata.model_gitops',
      'input.name': 'the ONNX graph',
      'input.height': 'the ONNX graph',
      'output.name': 'the ONNX graph',
      'output.kind': 'MLmodel metadata.model_gitops',
    });
    expect(files.files).toEqual({
      MLmodel: sha256Hex(fixture('MLmodel.with-metadata')),
      'model.onnx': sha256Hex(onnx),
    });
    expect(files.sha256).toBe(sha256Hex(onnx));
    expect(files.io).toEqual({ fixedBatch: null, imageShape: [3, 224, 224], classes: 2 });
  });

  test('labels from labels.json beside a metadata block without labels; a Softmax output reads as probabilities', async () => {
    const onnx = softmaxClassifier();
    writeDir(tmp.dir, {
      MLmodel: mlmodelWithBlock(PREPROCESSING_BLOCK),
      'model.onnx': onnx,
      'labels.json': { fixture: 'labels.json' },
    });
    const files = await readModelFiles(tmp.dir);
    expect(files.metadata.labels).toEqual(['cat', 'dog']);
    expect(files.metadata.output.kind).toBe('probabilities');
    expect(files.sources.labels).toBe('labels.json');
    expect(files.sources['output.kind']).toMatch(/Softmax/);
    expect(Object.keys(files.files)).toEqual(['MLmodel', 'labels.json', 'model.onnx']);
  });

  test('labels.txt: one per line, CRLF and no trailing newline; names may repeat', async () => {
    writeDir(tmp.dir, {
      MLmodel: mlmodelWithBlock(PREPROCESSING_BLOCK),
      'model.onnx': softmaxClassifier({ classes: 3 }).slice(),
      'labels.txt': 'crane\r\nmaillot\r\ncrane',
    });
    // The recorded signature says 2 outputs; this graph has 3, so the signature cross-check must object.
    await expect(readModelFiles(tmp.dir)).rejects.toThrow(
      /signature does not match model\.onnx: signature\.outputs 'probabilities' is float32 \[-1, 2\] but the graph has float32 \[-1, 3\]/,
    );
    writeFileSync(
      join(tmp.dir, 'MLmodel'),
      mlmodelWithBlock(PREPROCESSING_BLOCK).replace(/signature:[\s\S]*?params: null\n/, ''),
    );
    const files = await readModelFiles(tmp.dir);
    expect(files.metadata.labels).toEqual(['crane', 'maillot', 'crane']);
  });

  test('model.json overrides the MLmodel metadata field by field', async () => {
    writeDir(tmp.dir, {
      MLmodel: { fixture: 'MLmodel.with-metadata' },
      'model.onnx': softmaxClassifier(),
      'model.json': JSON.stringify({ preprocessing: { interpolation: 'bicubic' } }),
    });
    const files = await readModelFiles(tmp.dir);
    expect(files.metadata.preprocessing).toMatchObject({ interpolation: 'bicubic', resize: 'center-crop' });
    expect(files.sources['preprocessing.interpolation']).toBe('model.json');
    expect(Object.keys(files.files)).toEqual(['MLmodel', 'model.json', 'model.onnx']);
  });

  test('the ONNX file is whatever flavors.onnx.data names', async () => {
    writeDir(tmp.dir, {
      MLmodel: fixture('MLmodel.with-metadata')
        .toString()
        .replace(/data: model\.onnx/g, 'data: classifier.onnx'),
      'classifier.onnx': softmaxClassifier(),
    });
    const files = await readModelFiles(tmp.dir);
    expect(files.onnxFile).toBe('classifier.onnx');
    expect(Object.keys(files.files)).toEqual(['MLmodel', 'classifier.onnx']);
  });

  test('an NHWC (Keras) graph: layout and size come from the graph', async () => {
    writeDir(tmp.dir, {
      MLmodel: mlmodelWithBlock(PREPROCESSING_BLOCK).replace(/signature:[\s\S]*?params: null\n/, ''),
      'model.onnx': softmaxClassifier({ input: ['batch', 96, 128, 3] }),
      'labels.json': '["cat", "dog"]',
    });
    const files = await readModelFiles(tmp.dir);
    expect(files.metadata.input).toMatchObject({ layout: 'NHWC', height: 96, width: 128 });
  });

  test("the ONNX graph's metadata_props 'model_gitops' is a source too (below labels files and MLmodel)", async () => {
    const model = onnx.ModelProto.decode(softmaxClassifier());
    model.metadataProps = [
      onnx.StringStringEntryProto.create({
        key: 'model_gitops',
        value: JSON.stringify({ labels: ['a', 'b'], preprocessing: { resize: 'center-crop' } }),
      }),
    ];
    const bytes = onnx.ModelProto.encode(model).finish();
    writeDir(tmp.dir, { MLmodel: mlmodelWithBlock(null), 'model.onnx': bytes });
    const files = await readModelFiles(tmp.dir);
    expect(files.metadata.labels).toEqual(['a', 'b']);
    expect(files.metadata.preprocessing.resize).toBe('center-crop');
    expect(files.sources.labels).toBe("model.onnx metadata_props 'model_gitops'");
    writeFileSync(join(tmp.dir, 'labels.txt'), 'cat\ndog\n');
    await expect(readModelFiles(tmp.dir)).rejects.toThrow(
      /the labels in labels\.txt \(2\) differ from those in model\.onnx metadata_props/,
    );
  });

  test('the recorded directory (MLmodel + labels.json + a [1, 2] Softmax graph) resolves up to the image check', async () => {
    writeDir(tmp.dir, {
      MLmodel: { fixture: 'MLmodel.recorded' },
      'model.onnx': { fixture: 'model.recorded.onnx' },
      'labels.json': { fixture: 'labels.json' },
    });
    // Its signature matches its graph; its input is not an image, which is what stops it.
    await expect(readModelFiles(tmp.dir)).rejects.toThrow(
      /input 'input' has rank 2 \(\[1, 2\]\); an image input must have rank 4/,
    );
  });
});

describe('resolving fails with the missing piece, where it was looked for, and the Python to add', () => {
  test('fails when no labels are anywhere, naming labels', async () => {
    writeDir(tmp.dir, { MLmodel: mlmodelWithBlock(PREPROCESSING_BLOCK), 'model.onnx': softmaxClassifier() });
    const err = await readModelFiles(tmp.dir).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toMatch(
      /cannot tell how to serve this model: missing labels \(graph inputs: input \[batch, 3, 224, 224\]/,
    );
    expect(message).toContain(
      "labels: looked in MLmodel metadata.model_gitops.labels, model.json, the ONNX metadata_props 'model_gitops', labels.json, labels.txt",
    );
    expect(message).toContain('mlflow.onnx.log_model(');
    expect(message).toContain('metadata={"model_gitops": {');
    expect(message).toContain('"labels": class_names,');
  });

  test('fails when only labels.json is given: the preprocessing cannot be defaulted for an image input', async () => {
    writeDir(tmp.dir, {
      MLmodel: mlmodelWithBlock(null),
      'model.onnx': softmaxClassifier(),
      'labels.json': { fixture: 'labels.json' },
    });
    await expect(readModelFiles(tmp.dir)).rejects.toThrow(
      /missing preprocessing [\s\S]*scale, mean and std cannot be read from the graph[\s\S]*"preprocessing": \{"resize": "center-crop"/,
    );
  });

  test('fails when the layout is ambiguous and the size symbolic, naming input.layout/height/width', async () => {
    writeDir(tmp.dir, {
      MLmodel: mlmodelWithBlock(PREPROCESSING_BLOCK).replace(/signature:[\s\S]*?params: null\n/, ''),
      'model.onnx': softmaxClassifier({ input: ['batch', 3, 'h', 3] }),
      'labels.json': '["cat", "dog"]',
    });
    await expect(readModelFiles(tmp.dir)).rejects.toThrow(
      /missing input\.layout, input\.height, input\.width [\s\S]*"input": \{"layout": "NCHW", "height": 224, "width": 224\}, {2}# or "NHWC"/,
    );
  });

  test('fails when labels.json and the metadata block disagree', async () => {
    writeDir(tmp.dir, {
      MLmodel: { fixture: 'MLmodel.with-metadata' },
      'model.onnx': softmaxClassifier(),
      'labels.json': '["dog", "cat"]',
    });
    await expect(readModelFiles(tmp.dir)).rejects.toThrow(
      /the labels in MLmodel metadata\.model_gitops \(2\) differ from those in labels\.json \(2\)/,
    );
  });

  test('fails when the MLmodel has no onnx flavor, naming the flavors it has', async () => {
    writeDir(tmp.dir, {
      MLmodel: 'flavors:\n  sklearn:\n    pickled_model: model.pkl\n',
      'model.onnx': softmaxClassifier(),
    });
    await expect(readModelFiles(tmp.dir)).rejects.toThrow(
      /MLmodel: has no 'onnx' flavor \(flavors: sklearn\): .*mlflow\.onnx\.log_model/,
    );
  });

  test('fails when flavors.onnx.data leaves the directory', async () => {
    writeDir(tmp.dir, {
      MLmodel: fixture('MLmodel.with-metadata')
        .toString()
        .replace('data: model.onnx', 'data: ../../etc/passwd'),
      'model.onnx': softmaxClassifier(),
    });
    await expect(readModelFiles(tmp.dir)).rejects.toThrow(
      /'flavors\.onnx\.data' must be a file name in the model directory/,
    );
  });

  test('fails when the ONNX file the MLmodel names is missing', async () => {
    writeDir(tmp.dir, { MLmodel: { fixture: 'MLmodel.with-metadata' }, 'model.onnx': softmaxClassifier() });
    rmSync(join(tmp.dir, 'model.onnx'));
    await expect(readModelFiles(tmp.dir)).rejects.toThrow(
      /model\.onnx: file not found \(MLmodel flavors\.onnx\.data names it; found: MLmodel\)/,
    );
  });

  test('fails when the metadata block has an unknown field, naming it', async () => {
    writeDir(tmp.dir, {
      MLmodel: mlmodelWithBlock(`${PREPROCESSING_BLOCK}    labelz: [cat, dog]\n`),
      'model.onnx': softmaxClassifier(),
    });
    await expect(readModelFiles(tmp.dir)).rejects.toThrow(
      /MLmodel metadata\.model_gitops: invalid model description: .*labelz/,
    );
  });

  test('fails when the files do not match the expected digests (a pin)', async () => {
    writeDir(tmp.dir, { MLmodel: { fixture: 'MLmodel.with-metadata' }, 'model.onnx': softmaxClassifier() });
    const pinned = { 'model.onnx': sha256Hex(softmaxClassifier()) };
    await expect(readModelFiles(tmp.dir, { files: pinned })).rejects.toThrow(
      /the files do not match the pin: MLmodel influences serving but is not pinned/,
    );
  });
});
