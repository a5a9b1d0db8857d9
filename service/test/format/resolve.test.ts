import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import {
  fileDigestMismatches,
  ModelLoadError,
  onnxFileOf,
  readModelFiles,
  sha256Hex,
} from '../../src/model/format';
import { GraphBuilder, seededRandom, withExternalData } from '../../src/model/onnx-builder';
import { tempDir, writeTinyCnn } from '../helpers';
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

  test('an output a Softmax produces behind a Cast to float and an Identity reads as probabilities', async () => {
    const g = new GraphBuilder(seededRandom(3));
    const x = g.input('input', 'float32', ['batch', 3, 224, 224]);
    const pooled = g.node('Flatten', [g.node('GlobalAveragePool', [x])], { axis: 1 });
    const softmax = g.node('Softmax', [g.dense(pooled, 3, 2)], { axis: 1 });
    const cast = g.node('Cast', [softmax], { to: onnx.TensorProto.DataType.FLOAT });
    g.node('Identity', [cast], {}, 'probabilities');
    g.output('probabilities', ['batch', 2]);
    writeDir(tmp.dir, {
      MLmodel: mlmodelWithBlock(blockWith()),
      'model.onnx': g.build('softmax_then_identity'),
    });
    const files = await readModelFiles(tmp.dir);
    expect(files.metadata.output).toEqual({ name: 'probabilities', kind: 'probabilities' });
    expect(files.sources['output.kind']).toBe('the ONNX graph (probabilities is a Softmax output)');
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

  test.each([
    ['in order', '["dog", "cat"]'],
    ['in one label', '["cat", "bird"]'],
  ])('fails when labels.json and the metadata block disagree %s', async (_, labels) => {
    writeDir(tmp.dir, {
      MLmodel: { fixture: 'MLmodel.with-metadata' },
      'model.onnx': softmaxClassifier(),
      'labels.json': labels,
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

/** The recorded MLmodel with this metadata block and no signature (for graphs other than its 224x224 one). */
const unsigned = (block: string | null): string =>
  mlmodelWithBlock(block).replace(/signature:[\s\S]*?params: null\n/, '');

/** The model_gitops block with labels cat/dog and the preprocessing, plus `extra` lines. */
const blockWith = (extra = ''): string => `${PREPROCESSING_BLOCK}    labels: [cat, dog]\n${extra}`;

/** A graph of two float32 image inputs `a` and `b` added, two outputs `sum` and `prob` (a Softmax). */
/** A graph of one or two image inputs (`a`, `b`: summed) and two outputs (`sum` logits, `prob` its Softmax). */
function twoOutputs(inputs: 1 | 2): Uint8Array {
  const g = new GraphBuilder(seededRandom(1));
  const a = g.input('a', 'float32', ['batch', 3, 8, 8]);
  const sum = inputs === 2 ? g.node('Add', [a, g.input('b', 'float32', ['batch', 3, 8, 8])]) : a;
  const pooled = g.node('Flatten', [g.node('GlobalAveragePool', [sum])], { axis: 1 });
  const logits = g.dense(pooled, 3, 2, 'sum');
  g.node('Softmax', [logits], { axis: 1 }, 'prob');
  g.output('sum', ['batch', 2]);
  g.output('prob', ['batch', 2]);
  return g.build('two_outputs');
}

/** The error readModelFiles rejects with (a ModelLoadError, always). */
async function loadError(dir: string, expected = {}): Promise<string> {
  const err = await readModelFiles(dir, expected).then(
    () => new Error('resolved'),
    (e: Error) => e,
  );
  expect(err).toBeInstanceOf(ModelLoadError);
  expect(err.name).toBe('ModelLoadError');
  return err.message;
}

describe('resolving: each rule of reading a directory', () => {
  test('a directory with neither MLmodel nor model.json is not a model directory, listing what it holds', async () => {
    const fix =
      'log the model with mlflow.onnx.log_model(onnx_model, name="model", metadata={"model_gitops": {...}}) ' +
      'and register that version, or use the directory MLflow downloads for it';
    expect(await loadError(tmp.dir)).toBe(
      `${tmp.dir}: not a model directory: no MLmodel (nor model.json) among nothing: ${fix}`,
    );
    writeDir(tmp.dir, { 'model.onnx': softmaxClassifier(), 'b.txt': '', 'a.txt': '' });
    expect(await loadError(tmp.dir)).toBe(
      `${tmp.dir}: not a model directory: no MLmodel (nor model.json) among a.txt, b.txt, model.onnx: ${fix}`,
    );
  });

  test('a directory that cannot be read, or an MLmodel that cannot, is named with the reason', async () => {
    const missing = join(tmp.dir, 'nope');
    expect(await loadError(missing)).toMatch(
      new RegExp(`^${missing}: cannot read the model directory \\(ENOENT`),
    );
    mkdirSync(join(tmp.dir, 'MLmodel'));
    expect(await loadError(tmp.dir)).toMatch(
      new RegExp(`^${join(tmp.dir, 'MLmodel')}: cannot read \\(EISDIR`),
    );
  });

  test("the kit's model.json directory: model.json and model.onnx, format model.json", async () => {
    const sha = writeTinyCnn(tmp.dir);
    const files = await readModelFiles(tmp.dir);
    expect(files.format).toBe('model.json');
    expect(files.onnxFile).toBe('model.onnx');
    expect(files.sha256).toBe(sha);
    expect(Buffer.from(files.onnx)).toEqual(readFileSync(join(tmp.dir, 'model.onnx')));
    expect(Object.keys(files.files)).toEqual(['model.json', 'model.onnx']);
    expect(files.sources).toMatchObject({ labels: 'model.json', 'input.name': 'model.json' });
    rmSync(join(tmp.dir, 'model.onnx'));
    expect(await loadError(tmp.dir)).toBe(
      `${join(tmp.dir, 'model.onnx')}: file not found (a directory with model.json and no MLmodel holds model.onnx; found: model.json)`,
    );
  });

  test('a corrupt ONNX file, metadata_props that are not JSON or not a description, model.json that is not JSON', async () => {
    writeDir(tmp.dir, { MLmodel: unsigned(blockWith()), 'model.onnx': 'not onnx at all' });
    expect(await loadError(tmp.dir)).toMatch(
      new RegExp(
        `^${join(tmp.dir, 'model.onnx')}: not an ONNX model \\(.*\\): the file is corrupt or not the exported model$`,
      ),
    );
    const withProps = (value: string): Uint8Array => {
      const model = onnx.ModelProto.decode(softmaxClassifier());
      model.metadataProps = [onnx.StringStringEntryProto.create({ key: 'model_gitops', value })];
      return onnx.ModelProto.encode(model).finish();
    };
    writeDir(tmp.dir, { 'model.onnx': withProps('{labels') });
    expect(await loadError(tmp.dir)).toMatch(
      new RegExp(`^${join(tmp.dir, 'model.onnx')} metadata_props 'model_gitops': not JSON \\(`),
    );
    writeDir(tmp.dir, { 'model.onnx': withProps('{"labels": []}') });
    expect(await loadError(tmp.dir)).toMatch(
      new RegExp(
        `^${join(tmp.dir, 'model.onnx')} metadata_props 'model_gitops': invalid model description: 'labels' `,
      ),
    );
    writeDir(tmp.dir, { 'model.onnx': softmaxClassifier(), 'model.json': '{"labels": [' });
    expect(await loadError(tmp.dir)).toMatch(
      new RegExp(`^${join(tmp.dir, 'model.json')}: not valid JSON \\(.*\\): fix or regenerate the file$`),
    );
  });

  test('labels.json and labels.txt together are refused; a bad labels file or MLmodel fails as a ModelLoadError', async () => {
    writeDir(tmp.dir, {
      MLmodel: unsigned(PREPROCESSING_BLOCK),
      'model.onnx': softmaxClassifier(),
      'labels.json': '["cat", "dog"]',
      'labels.txt': 'cat\ndog\n',
    });
    expect(await loadError(tmp.dir)).toBe(
      `${tmp.dir}: has both labels.json and labels.txt: keep one (or put the labels in MLmodel metadata)`,
    );
    rmSync(join(tmp.dir, 'labels.txt'));
    writeFileSync(join(tmp.dir, 'labels.json'), '{"cat": 0}');
    expect(await loadError(tmp.dir)).toMatch(/^labels\.json: /);
    writeFileSync(join(tmp.dir, 'MLmodel'), 'flavors: [');
    expect(await loadError(tmp.dir)).toMatch(new RegExp(`^${join(tmp.dir, 'MLmodel')}: not valid YAML`));
  });

  test('a description that is invalid only once merged names every source it came from', async () => {
    writeDir(tmp.dir, {
      MLmodel: unsigned(`${PREPROCESSING_BLOCK}    input:\n      height: 200\n`),
      'model.onnx': softmaxClassifier({ input: ['batch', 3, 'h', 'w'] }),
      'labels.txt': 'cat\ndog\n',
      'model.json': '{"preprocessing": {"resizeShorterSide": 199}, "input": {"width": 180}}',
    });
    expect(await loadError(tmp.dir)).toBe(
      `${tmp.dir}: invalid model description (from labels.txt, MLmodel metadata.model_gitops, model.json): ` +
        "'preprocessing.resizeShorterSide' must be ≥ the larger input side (200) to crop from",
    );
  });

  test('the ONNX sha256 must equal the expected one', async () => {
    writeDir(tmp.dir, { MLmodel: { fixture: 'MLmodel.with-metadata' }, 'model.onnx': softmaxClassifier() });
    const sha = sha256Hex(softmaxClassifier());
    expect((await readModelFiles(tmp.dir, { sha256: sha })).sha256).toBe(sha);
    expect(await loadError(tmp.dir, { sha256: '0'.repeat(64) })).toBe(
      `${join(tmp.dir, 'model.onnx')}: sha256 is ${sha} but MODEL_SHA256 expects ${'0'.repeat(64)}: ` +
        'the file is not the pinned model (fetch the pinned version again or fix the pin)',
    );
    const files = { MLmodel: sha256Hex(fixture('MLmodel.with-metadata')), 'model.onnx': sha };
    expect((await readModelFiles(tmp.dir, { files })).files).toEqual(files);
    expect(await loadError(tmp.dir, { files: { ...files, MLmodel: sha } })).toBe(
      `${tmp.dir}: the files do not match the pin: MLmodel has sha256 ${files.MLmodel} but the pin expects ${sha}`,
    );
  });

  test('fileDigestMismatches: a pinned file not read, a digest that differs, a read file not pinned', () => {
    expect(fileDigestMismatches({ a: '1', b: '2' }, { a: '1', b: '2' })).toEqual([]);
    expect(fileDigestMismatches({ a: '1', c: '3' }, { a: '9', b: '2' })).toEqual([
      'a has sha256 1 but the pin expects 9',
      'b is pinned but not part of the model directory',
      'c influences serving but is not pinned',
    ]);
  });

  test('onnxFileOf: model.onnx without an MLmodel, else what flavors.onnx.data names', () => {
    expect(onnxFileOf(undefined, 'MLmodel')).toBe('model.onnx');
    const text = fixture('MLmodel.recorded')
      .toString()
      .replace(/data: model\.onnx/g, 'data: net.onnx');
    expect(onnxFileOf(text, 'MLmodel')).toBe('net.onnx');
    expect(() => onnxFileOf('flavors: {}', 'v2/MLmodel')).toThrow(/^v2\/MLmodel: has no 'onnx' flavor/);
  });

  test('metadataSha256 is the sha256 of the description as canonical JSON (keys sorted, no spaces)', async () => {
    writeDir(tmp.dir, { MLmodel: { fixture: 'MLmodel.with-metadata' }, 'model.onnx': softmaxClassifier() });
    const canonical =
      '{"input":{"channelOrder":"RGB","height":224,"layout":"NCHW","name":"input","width":224},' +
      '"labels":["cat","dog"],"output":{"kind":"probabilities","name":"probabilities"},' +
      '"preprocessing":{"background":"#ffffff","interpolation":"bilinear","mean":[0.485,0.456,0.406],' +
      '"resize":"center-crop","resizeShorterSide":256,"scale":0.00392156862745098,"std":[0.229,0.224,0.225]},' +
      '"schemaVersion":1}';
    expect((await readModelFiles(tmp.dir)).metadataSha256).toBe(sha256Hex(canonical));
  });
});

describe("resolving a graph with external data (mlflow.onnx.log_model's default)", () => {
  const LOCATION = '3f2938cc-1b2a-11f0-9c1e-0242ac120002';
  const external = (threshold = 1): ReturnType<typeof withExternalData> =>
    withExternalData(softmaxClassifier(), LOCATION, threshold);
  /** The model directory as mlflow.onnx.log_model leaves it: MLmodel, model.onnx and its data file. */
  const writeExternalModel = (): { graph: Uint8Array; data: Uint8Array } => {
    const { onnx: graph, data } = external();
    writeDir(tmp.dir, {
      MLmodel: { fixture: 'MLmodel.with-metadata' },
      'model.onnx': graph,
      [LOCATION]: data,
    });
    return { graph, data };
  };

  test('the data file is read and pinned beside the ONNX file, and handed on under the name the graph uses', async () => {
    const { graph, data } = writeExternalModel();
    const files = await readModelFiles(tmp.dir);
    expect(files.files).toEqual({
      MLmodel: sha256Hex(fixture('MLmodel.with-metadata')),
      'model.onnx': sha256Hex(graph),
      [LOCATION]: sha256Hex(data),
    });
    expect(files.externalData).toEqual([{ path: LOCATION, data: new Uint8Array(data) }]);
    // The same description as the graph with its weights inline.
    writeDir(join(tmp.dir, 'inline'), {
      MLmodel: { fixture: 'MLmodel.with-metadata' },
      'model.onnx': softmaxClassifier(),
    });
    const inline = await readModelFiles(join(tmp.dir, 'inline'));
    expect(inline.externalData).toEqual([]);
    expect(files.metadata).toEqual(inline.metadata);
  });

  test('a data file that differs from the pin is refused like any other pinned file', async () => {
    const { data } = writeExternalModel();
    const pinned = (await readModelFiles(tmp.dir)).files;
    writeFileSync(join(tmp.dir, LOCATION), Buffer.concat([data, Buffer.from([0])]));
    expect(await loadError(tmp.dir, { files: pinned })).toMatch(
      new RegExp(
        `the files do not match the pin: ${LOCATION} has sha256 [0-9a-f]{64} but the pin expects ${pinned[LOCATION]}`,
      ),
    );
  });

  test('a missing data file is named, with where MLflow put it and the fix', async () => {
    writeDir(tmp.dir, { MLmodel: { fixture: 'MLmodel.with-metadata' }, 'model.onnx': external().onnx });
    expect(await loadError(tmp.dir)).toBe(
      `${join(tmp.dir, 'model.onnx')}: the graph keeps tensors in '${LOCATION}' (ONNX external data, what ` +
        'mlflow.onnx.log_model writes by default) but the directory has no such file (found: MLmodel, model.onnx): ' +
        'log the model again with mlflow.onnx.log_model, which uploads that file beside model.onnx, or save it ' +
        'with save_as_external_data=False',
    );
  });

  test.each([
    ['a path into a subdirectory', 'weights/data.bin'],
    ['a path out of the directory', '../data.bin'],
    ['an absolute path', '/etc/passwd'],
  ])('a location that is %s is refused, naming the tensor', async (_, location) => {
    writeDir(tmp.dir, {
      MLmodel: { fixture: 'MLmodel.with-metadata' },
      'model.onnx': withExternalData(softmaxClassifier(), location, 1).onnx,
    });
    expect(await loadError(tmp.dir)).toMatch(
      new RegExp(
        `^${join(tmp.dir, 'model.onnx')}: tensor '\\w+' keeps its data in '${location.replace(/\./g, '\\.')}', which is not a file name beside the ONNX file`,
      ),
    );
  });

  test('a location that is a file the directory uses for something else is refused', async () => {
    const { onnx: graph, data } = withExternalData(softmaxClassifier(), 'labels.json', 1);
    writeDir(tmp.dir, {
      MLmodel: { fixture: 'MLmodel.with-metadata' },
      'model.onnx': graph,
      'labels.json': data,
    });
    expect(await loadError(tmp.dir)).toMatch(
      /its external data is stored in 'labels\.json', a file the model directory uses/,
    );
  });
});

describe('resolving: what the graph says and what it cannot', () => {
  test('layout, height and width from an NCHW graph, each source named', async () => {
    writeDir(tmp.dir, { MLmodel: mlmodelWithBlock(blockWith()), 'model.onnx': softmaxClassifier() });
    const files = await readModelFiles(tmp.dir);
    expect(files.sources).toEqual({
      labels: 'MLmodel metadata.model_gitops',
      'preprocessing.interpolation': 'MLmodel metadata.model_gitops',
      'preprocessing.mean': 'MLmodel metadata.model_gitops',
      'preprocessing.resize': 'MLmodel metadata.model_gitops',
      'preprocessing.std': 'MLmodel metadata.model_gitops',
      'input.name': 'the ONNX graph',
      'input.layout': 'the ONNX graph (shape [batch, 3, 224, 224])',
      'input.height': 'the ONNX graph',
      'input.width': 'the ONNX graph',
      'output.name': 'the ONNX graph',
      'output.kind': 'the ONNX graph (probabilities is a Softmax output)',
    });
  });

  test('a logits output is not taken for probabilities; a given layout picks height and width from the graph', async () => {
    writeDir(tmp.dir, {
      MLmodel: unsigned(blockWith('    input:\n      layout: NHWC\n')),
      'model.onnx': softmaxClassifier({ input: ['batch', 3, 96, 3], softmax: false }),
    });
    const files = await readModelFiles(tmp.dir);
    expect(files.metadata.input).toMatchObject({ layout: 'NHWC', height: 3, width: 96 });
    expect(files.metadata.output).toEqual({ name: 'logits', kind: 'logits' });
    expect(files.sources['output.kind']).toBeUndefined();
    expect(files.sources['input.layout']).toBe('MLmodel metadata.model_gitops');
  });

  test('a graph with two inputs is refused at once, named or not: no field makes the service feed two', async () => {
    const refusal =
      `${join(tmp.dir, 'model.onnx')}: the graph has 2 inputs (a, b); the service feeds exactly one image input: ` +
      'export the model with the image as its only input (the other inputs fixed as constants, e.g. ' +
      'torch.onnx.export of a wrapper module that passes them itself)';
    writeDir(tmp.dir, { MLmodel: unsigned(blockWith()), 'model.onnx': twoOutputs(2) });
    expect(await loadError(tmp.dir)).toBe(refusal);
    writeFileSync(
      join(tmp.dir, 'MLmodel'),
      unsigned(blockWith('    input:\n      name: b\n    output:\n      name: prob\n')),
    );
    expect(await loadError(tmp.dir)).toBe(refusal);
  });

  test('with two outputs the output name must be given, and the Python says how', async () => {
    writeDir(tmp.dir, { MLmodel: unsigned(blockWith()), 'model.onnx': twoOutputs(1) });
    const message = await loadError(tmp.dir);
    expect(message).toContain(
      `${tmp.dir}: cannot tell how to serve this model: missing output.name ` +
        '(graph inputs: a [batch, 3, 8, 8]; outputs: sum [batch, 2], prob [batch, 2]).\n',
    );
    expect(message).toContain(
      "\n  output.name: looked in MLmodel metadata.model_gitops.output.name, model.json, the ONNX metadata_props 'model_gitops', the ONNX graph\n",
    );
    expect(message).toContain('\n          "output": {"name": "<the scores output>"},\n      }},\n  )');
    writeFileSync(join(tmp.dir, 'MLmodel'), unsigned(blockWith('    output:\n      name: prob\n')));
    // Named, the rest comes from the graph: layout, size, and prob's Softmax.
    expect((await readModelFiles(tmp.dir)).metadata.output).toEqual({ name: 'prob', kind: 'probabilities' });
  });

  test('a graph with no inputs or outputs says "none" where it would list them', async () => {
    writeDir(tmp.dir, {
      MLmodel: unsigned(blockWith()),
      'model.onnx': new GraphBuilder(seededRandom(1)).build('empty'),
    });
    expect(await loadError(tmp.dir)).toContain('(graph inputs: none; outputs: none).\n');
    writeFileSync(join(tmp.dir, 'MLmodel'), unsigned(blockWith('    input:\n      name: image\n')));
    expect(await loadError(tmp.dir)).toContain(": the graph has no input 'image' (inputs: none)");
  });

  test('symbolic sizes with a known layout ask for height and width only; missing preprocessing shows its Python on two lines', async () => {
    writeDir(tmp.dir, {
      MLmodel: unsigned(null),
      'model.onnx': softmaxClassifier({ input: ['batch', 3, 'h', 'w'] }),
      'labels.json': '["cat", "dog"]',
    });
    const message = await loadError(tmp.dir);
    expect(message).toContain(
      ': cannot tell how to serve this model: missing preprocessing, input.height, input.width (',
    );
    expect(message).toContain('\n          "input": {"height": 224, "width": 224},\n      }},');
    expect(message).toContain(
      '\n          "preprocessing": {"resize": "center-crop", "resizeShorterSide": 256, "interpolation": "bilinear",\n' +
        '                            "scale": 1 / 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},\n',
    );
    expect(message).not.toContain('output.name');
    expect(message).not.toContain('labels:');
  });

  test('the whole message for a missing piece: what, where it was looked for, and the log_model call to add', async () => {
    writeDir(tmp.dir, { MLmodel: unsigned(PREPROCESSING_BLOCK), 'model.onnx': softmaxClassifier() });
    expect(await loadError(tmp.dir)).toBe(
      [
        `${tmp.dir}: cannot tell how to serve this model: missing labels (graph inputs: input [batch, 3, 224, 224]; outputs: probabilities [batch, 2]).`,
        "  labels: looked in MLmodel metadata.model_gitops.labels, model.json, the ONNX metadata_props 'model_gitops', labels.json, labels.txt",
        'Add it when logging the model (Python), then register the new version:',
        '  mlflow.onnx.log_model(',
        '      onnx_model,',
        '      name="model",',
        '      signature=signature,',
        '      metadata={"model_gitops": {',
        '          "labels": class_names,  # list of str, one per output class, in output order',
        '      }},',
        '  )',
      ].join('\n'),
    );
  });

  test('a signature that does not match the graph on both sides names each mismatch and the fix', async () => {
    writeDir(tmp.dir, {
      MLmodel: mlmodelWithBlock(blockWith()),
      'model.onnx': softmaxClassifier({ input: ['batch', 3, 200, 224], classes: 3 }),
    });
    expect(await loadError(tmp.dir)).toBe(
      `${join(tmp.dir, 'MLmodel')}: the signature does not match model.onnx: ` +
        "signature.inputs 'input' is float32 [-1, 3, 224, 224] but the graph has float32 [-1, 3, 200, 224]; " +
        "signature.outputs 'probabilities' is float32 [-1, 2] but the graph has float32 [-1, 3]: " +
        'log the model again with the exported graph and signature=mlflow.models.infer_signature(x, y) from it',
    );
  });

  test('equal labels in two sources are fine; the later source is named', async () => {
    writeDir(tmp.dir, {
      MLmodel: { fixture: 'MLmodel.with-metadata' },
      'model.onnx': softmaxClassifier(),
      'labels.json': '["cat", "dog"]',
    });
    const files = await readModelFiles(tmp.dir);
    expect(files.metadata.labels).toEqual(['cat', 'dog']);
    expect(files.sources.labels).toBe('MLmodel metadata.model_gitops');
  });

  test('labels lists of different lengths differ even where one is a prefix of the other', async () => {
    writeDir(tmp.dir, {
      MLmodel: unsigned(`${PREPROCESSING_BLOCK}    labels: [cat, dog, bird]\n`),
      'model.onnx': softmaxClassifier(),
      'labels.json': '["cat", "dog"]',
    });
    expect(await loadError(tmp.dir)).toBe(
      'the labels in MLmodel metadata.model_gitops (3) differ from those in labels.json (2): keep one list, or make them equal',
    );
  });

  test('an input name the graph lacks, or an input that is not rank 4, is refused naming where it came from', async () => {
    writeDir(tmp.dir, {
      MLmodel: unsigned(blockWith('    input:\n      name: image\n')),
      'model.onnx': softmaxClassifier(),
    });
    expect(await loadError(tmp.dir)).toBe(
      `${tmp.dir}: the graph has no input 'image' (inputs: input): fix input.name in MLmodel metadata.model_gitops`,
    );
    writeDir(tmp.dir, {
      MLmodel: unsigned(blockWith()),
      'model.onnx': softmaxClassifier({ input: ['batch', 3, 8] }),
    });
    expect(await loadError(tmp.dir)).toBe(
      `${tmp.dir}: input 'input' has rank 3 ([batch, 3, 8]); an image input must have rank 4 ` +
        '(batch, channels, height, width or batch, height, width, channels)',
    );
  });
});
