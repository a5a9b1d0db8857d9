import { parse } from 'yaml';
import {
  formatMlmodel,
  parseMlmodel,
  pythonJson,
  signatureMismatches,
  signatureOf,
} from '../../src/model/format';
import { fixture } from '../mlflow-fixtures';

const RECORDED = fixture('MLmodel.recorded').toString('utf8');

describe('MLmodel', () => {
  test('parses the MLmodel MLflow wrote: onnx data, signature, metadata block', () => {
    const info = parseMlmodel(fixture('MLmodel.with-metadata').toString('utf8'), 'MLmodel');
    expect(info.onnxFile).toBe('model.onnx');
    expect(info.signature).toEqual({
      inputs: [{ name: 'input', dtype: 'float32', shape: [-1, 3, 224, 224] }],
      outputs: [{ name: 'probabilities', dtype: 'float32', shape: [-1, 2] }],
    });
    expect(info.description).toMatchObject({ labels: ['cat', 'dog'], output: { kind: 'probabilities' } });
    expect(parseMlmodel(RECORDED, 'MLmodel').description).toBeUndefined();
  });

  /** The fields of the recorded MLmodel (the model the fixture server logged). */
  const RECORDED_FIELDS = {
    onnxFile: 'model.onnx',
    inputs: [{ dtype: 'float32', shape: [1, 2] }],
    outputs: [{ dtype: 'float32', shape: [1, 2] }],
    runId: 'f77c2d593e9c4294ae5441b1e957b260',
    modelUuid: '88907b3ca9b54de9b2d63a3af13b5f2b',
    mlflowVersion: '3.6.1.dev0',
    created: new Date('2026-11-22T13:03:06.000Z'),
  };

  test("writes the recorded MLmodel's shape: same keys, same order, same values, quoted time", () => {
    const written = formatMlmodel(RECORDED_FIELDS);
    const recorded = parse(RECORDED) as { flavors: Record<string, unknown> };
    // The python_function flavor is left out on purpose: it needs conda.yaml/python_env.yaml, not written.
    delete recorded.flavors.python_function;
    expect(parse(written)).toEqual(recorded);
    const keys = (text: string): string[] =>
      text
        .split('\n')
        .filter((l) => /^[a-z_]+:/.test(l))
        .map((l) => l.split(':')[0] as string);
    expect(keys(written)).toEqual(keys(RECORDED));
    expect(written).toContain("utc_time_created: '2026-11-22 13:03:06.000000'\n");
    // The signature is the JSON string MLflow writes (Python's separators), unfolded or folded alike.
    expect((parse(written) as { signature: { inputs: string } }).signature.inputs).toBe(
      (recorded as unknown as { signature: { inputs: string } }).signature.inputs,
    );
  });

  test('writes the recorded MLmodel byte for byte (without the python_function flavor it leaves out)', () => {
    const written = formatMlmodel(RECORDED_FIELDS);
    // Block sequences at the key's indentation ("- CPUExecutionProvider"), null as `null`, the quoted time.
    expect(written).toBe(RECORDED.replace(/ {2}python_function:\n(?: {4}.*\n)+/, ''));
  });

  test("writes a metadata block as MLflow's Model.save lays it out: sorted keys, unindented lists, 1/255 in full", () => {
    const mlflow = fixture('MLmodel.with-metadata').toString('utf8');
    const block = (text: string): string =>
      text.slice(text.indexOf('metadata:\n'), text.indexOf('mlflow_version:'));
    const written = formatMlmodel({
      onnxFile: 'model.onnx',
      description: {
        preprocessing: {
          std: [0.229, 0.224, 0.225],
          scale: 1 / 255,
          resizeShorterSide: 256,
          resize: 'center-crop',
          mean: [0.485, 0.456, 0.406],
          interpolation: 'bilinear',
        },
        output: { kind: 'probabilities' },
        labels: ['cat', 'dog'],
        input: { layout: 'NCHW', channelOrder: 'RGB' },
      },
      inputs: [{ name: 'input', dtype: 'float32', shape: [-1, 3, 224, 224] }],
      outputs: [{ name: 'probabilities', dtype: 'float32', shape: [-1, 2] }],
    });
    expect(block(written)).toBe(block(mlflow));
    expect(block(written)).toContain('    labels:\n    - cat\n    - dog\n');
  });

  test('pythonJson writes what json.dumps writes', () => {
    expect(pythonJson([{ name: 'x', 'tensor-spec': { shape: [-1, 3] } }])).toBe(
      '[{"name": "x", "tensor-spec": {"shape": [-1, 3]}}]',
    );
  });

  test('signature mismatches name the tensor, the signature and the graph', () => {
    expect(
      signatureMismatches(
        [{ name: 'input', dtype: 'float32', shape: [-1, 3, 224, 224] }],
        [{ name: 'input', type: 'float32', shape: ['batch', 3, 128, 128] }],
        'inputs',
      ),
    ).toEqual([
      "signature.inputs 'input' is float32 [-1, 3, 224, 224] but the graph has float32 [-1, 3, 128, 128]",
    ]);
    expect(
      signatureMismatches(
        [{ dtype: 'float32', shape: [-1, 3, 224, 224] }],
        [{ name: 'input', type: 'float32', shape: [1, 3, 224, 224] }],
        'inputs',
      ),
    ).toEqual([]);
  });

  test('fails when the text is not YAML or not an MLmodel', () => {
    expect(() => parseMlmodel('flavors: [', 'MLmodel')).toThrow(/MLmodel: not valid YAML/);
    expect(() => parseMlmodel('just: text\n', 'MLmodel')).toThrow(
      /MLmodel: not an MLflow MLmodel \('flavors'/,
    );
  });

  test('fails when the signature is not a tensor signature, saying how to log one', () => {
    const text = RECORDED.replace(/inputs: '.*'/, `inputs: '[{"type": "double", "name": "x"}]'`);
    expect(() => parseMlmodel(text, 'MLmodel')).toThrow(
      /signature\.inputs: not a tensor signature .*infer_signature/,
    );
  });
});

describe('MLmodel: each rule of reading, checking and writing', () => {
  const withFlavors = (flavors: string): string =>
    RECORDED.replace(/flavors:\n(?: {2}.*\n)+/, `flavors:\n${flavors}`);

  test('fails without an onnx flavor, listing the flavors there are and how to log an ONNX model', () => {
    const fix =
      ': the service runs ONNX models; export to ONNX and log it with mlflow.onnx.log_model(onnx_model, name="model", ...)';
    expect(() =>
      parseMlmodel(withFlavors('  sklearn:\n    pickled_model: model.pkl\n'), 'v3/MLmodel'),
    ).toThrow(`v3/MLmodel: has no 'onnx' flavor (flavors: sklearn)${fix}`);
    expect(() =>
      parseMlmodel(
        withFlavors('  sklearn:\n    pickled_model: model.pkl\n  python_function: {}\n'),
        'MLmodel',
      ),
    ).toThrow(`MLmodel: has no 'onnx' flavor (flavors: sklearn, python_function)${fix}`);
    expect(() => parseMlmodel(withFlavors('  {}\n'), 'MLmodel')).toThrow(
      `MLmodel: has no 'onnx' flavor (flavors: none)${fix}`,
    );
  });

  test('fails when flavors.onnx.data is not a file name in the model directory', () => {
    for (const data of ['../model.onnx', 'sub/model.onnx', '..', '.', '""']) {
      expect(() => parseMlmodel(withFlavors(`  onnx:\n    data: ${data}\n`), 'MLmodel')).toThrow(
        /^MLmodel: 'flavors\.onnx\.data' must be a file name in the model directory: the service runs ONNX models/,
      );
    }
    expect(
      parseMlmodel(withFlavors('  onnx:\n    data: ..model.v2_final-1.onnx\n'), 'MLmodel').onnxFile,
    ).toBe('..model.v2_final-1.onnx');
  });

  test('a data file name may be 1 to 255 of letters, digits, ".", "_" and "-", and not "." or ".."', () => {
    const data = (name: string): string =>
      parseMlmodel(withFlavors(`  onnx:\n    data: ${JSON.stringify(name)}\n`), 'MLmodel').onnxFile;
    for (const name of ['m', 'a'.repeat(255), '...', 'Model_v2-ZZ.ONNX', '0']) expect(data(name)).toBe(name);
    for (const name of ['a'.repeat(256), 'model onnx', 'model.onnx\n', 'mödel.onnx', '']) {
      expect(() => data(name)).toThrow(/'flavors\.onnx\.data' must be a file name in the model directory/);
    }
  });

  test('a tensor-spec shape holds whole numbers; type must be tensor', () => {
    const inputs = (spec: string): string => RECORDED.replace(/inputs: '.*'/, `inputs: '${spec}'`);
    expect(() =>
      parseMlmodel(
        inputs('[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [1.5, 2]}}]'),
        'MLmodel',
      ),
    ).toThrow(/^MLmodel signature\.inputs: not a tensor signature \(/);
    expect(() =>
      parseMlmodel(inputs('[{"type": "tensor", "tensor-spec": {"dtype": "float32"}}]'), 'MLmodel'),
    ).toThrow(/^MLmodel signature\.inputs: not a tensor signature \(/);
    expect(
      parseMlmodel(
        inputs('[{"name": "x", "type": "tensor", "tensor-spec": {"dtype": "int8", "shape": []}}]'),
        'MLmodel',
      ).signature?.inputs,
    ).toEqual([{ name: 'x', dtype: 'int8', shape: [] }]);
  });

  test('reads no signature when it lacks inputs or outputs, and no description without metadata', () => {
    const noOutputs = RECORDED.replace(/ {2}outputs: .*\n/, '');
    expect(parseMlmodel(noOutputs, 'MLmodel').signature).toBeUndefined();
    const noSignature = RECORDED.replace(/signature:\n(?: {2}.*\n)+/, '');
    expect(parseMlmodel(noSignature, 'MLmodel')).toEqual({
      onnxFile: 'model.onnx',
      description: undefined,
      signature: undefined,
    });
    expect(parseMlmodel(`${RECORDED}metadata: null\n`, 'MLmodel').description).toBeUndefined();
    expect(parseMlmodel(`${RECORDED}metadata:\n  other: 1\n`, 'MLmodel').description).toBeUndefined();
  });

  test('fails naming the field when the MLmodel is not a mapping or a signature side is not a JSON string', () => {
    expect(() => parseMlmodel('- flavors\n', 'MLmodel')).toThrow(
      /^MLmodel: not an MLflow MLmodel \('\(root\)' /,
    );
    const listed = RECORDED.replace(/ {2}inputs: .*\n/, '  inputs:\n  - type: tensor\n');
    expect(() => parseMlmodel(listed, 'MLmodel')).toThrow(
      /^MLmodel: not an MLflow MLmodel \('signature\.inputs' .*\): log the model with mlflow\.onnx\.log_model/,
    );
  });

  test('fails when a signature string is not JSON, naming which side', () => {
    const text = RECORDED.replace(/outputs: '.*'/, "outputs: '[{'");
    expect(() => parseMlmodel(text, 'MLmodel')).toThrow(/^MLmodel signature\.outputs: not JSON \(/);
  });

  test('signatureOf records what infer_signature would: numpy dtype names, -1 for symbolic dimensions', () => {
    expect(signatureOf({ name: 'x', type: 'float32', shape: ['batch', 3, 224, 224] })).toEqual({
      name: 'x',
      dtype: 'float32',
      shape: [-1, 3, 224, 224],
    });
    expect(signatureOf({ name: 's', type: 'string', shape: null })).toEqual({
      name: 's',
      dtype: 'str',
      shape: [],
    });
    expect(signatureOf({ name: 'b', type: 'bool', shape: [1] }).dtype).toBe('bool');
    expect(signatureOf({ name: 'q', type: 'int64', shape: [1] }).dtype).toBe('int64');
    // A type numpy has no name for is kept as ONNX Runtime names it.
    expect(signatureOf({ name: 'v', type: 'non-tensor', shape: null }).dtype).toBe('non-tensor');
  });

  test('signature mismatches: tensor counts, names the graph lacks, dtypes, ranks and fixed sizes', () => {
    const graph = [
      { name: 'a', type: 'float32', shape: ['batch', 2] },
      { name: 'b', type: 'int64', shape: [4] },
    ];
    expect(signatureMismatches([{ name: 'a', dtype: 'float32', shape: [-1, 2] }], graph, 'outputs')).toEqual([
      'signature.outputs lists 1 tensors but the graph has 2 (a, b)',
    ]);
    expect(
      signatureMismatches(
        [
          { name: 'b', dtype: 'int64', shape: [-1] },
          { name: 'c', dtype: 'float32', shape: [-1, 2] },
        ],
        graph,
        'inputs',
      ),
    ).toEqual(["signature.inputs 'c' is not a graph input (graph: a, b)"]);
    expect(
      signatureMismatches(
        [
          { dtype: 'float64', shape: [-1, 2] },
          { dtype: 'int64', shape: [4, 1] },
        ],
        graph,
        'outputs',
      ),
    ).toEqual([
      "signature.outputs '#0' is float64 [-1, 2] but the graph has float32 [-1, 2]",
      "signature.outputs '#1' is int64 [4, 1] but the graph has int64 [4]",
    ]);
    // Unnamed tensors go by position; -1 on either side matches any size; fixed sizes must be equal.
    expect(
      signatureMismatches(
        [
          { dtype: 'float32', shape: [7, -1] },
          { dtype: 'int64', shape: [4] },
        ],
        graph,
        'outputs',
      ),
    ).toEqual([]);
    expect(
      signatureMismatches(
        [
          { dtype: 'float32', shape: [7, 3] },
          { dtype: 'int64', shape: [-1] },
        ],
        graph,
        'outputs',
      ),
    ).toEqual(["signature.outputs '#0' is float32 [7, 3] but the graph has float32 [-1, 2]"]);
  });

  test('signatureOf names every ONNX Runtime element type as numpy does (str for string)', () => {
    const numpy: Record<string, string> = {
      float32: 'float32',
      float16: 'float16',
      float64: 'float64',
      uint8: 'uint8',
      int8: 'int8',
      uint16: 'uint16',
      int16: 'int16',
      int32: 'int32',
      int64: 'int64',
      uint32: 'uint32',
      uint64: 'uint64',
      bool: 'bool',
      string: 'str',
    };
    for (const [type, dtype] of Object.entries(numpy)) {
      expect(signatureOf({ name: 't', type, shape: [2] })).toEqual({ name: 't', dtype, shape: [2] });
    }
    // bfloat16 has no numpy name: kept as ONNX Runtime names it, as an unknown type is.
    expect(signatureOf({ name: 't', type: 'bfloat16', shape: [2] }).dtype).toBe('bfloat16');
  });

  test('a signature with fewer or more dimensions than the graph does not match, even when the sizes it lists agree', () => {
    const graph = [{ name: 'x', type: 'float32', shape: ['batch', 3, 224, 224] }];
    expect(signatureMismatches([{ name: 'x', dtype: 'float32', shape: [-1, 3] }], graph, 'inputs')).toEqual([
      "signature.inputs 'x' is float32 [-1, 3] but the graph has float32 [-1, 3, 224, 224]",
    ]);
    expect(signatureMismatches([{ name: 'x', dtype: 'float32', shape: [] }], graph, 'inputs')).toEqual([
      "signature.inputs 'x' is float32 [] but the graph has float32 [-1, 3, 224, 224]",
    ]);
    expect(
      signatureMismatches([{ name: 'x', dtype: 'float32', shape: [-1, 3, 224, 224, 1] }], graph, 'inputs'),
    ).toEqual([
      "signature.inputs 'x' is float32 [-1, 3, 224, 224, 1] but the graph has float32 [-1, 3, 224, 224]",
    ]);
  });

  test('pythonJson: nulls, strings, numbers and nested objects as json.dumps writes them; undefined fields left out', () => {
    expect(pythonJson({ a: null, b: 'x"y', c: 1.5, d: undefined, e: { f: [true, false] }, g: [] })).toBe(
      '{"a": null, "b": "x\\"y", "c": 1.5, "e": {"f": [true, false]}, "g": []}',
    );
  });

  test('writes the defaults: artifact_path model, the MLflow and onnx versions, a uuid4 hex, no run_id or metadata', () => {
    const before = Date.now();
    const written = parse(
      formatMlmodel({
        onnxFile: 'net.onnx',
        inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 3] }],
        outputs: [],
      }),
    ) as Record<string, unknown>;
    expect(written).toMatchObject({
      artifact_path: 'model',
      flavors: {
        onnx: { code: null, data: 'net.onnx', onnx_version: '1.12.0', providers: ['CPUExecutionProvider'] },
      },
      mlflow_version: '3.6.0',
      signature: {
        inputs: '[{"name": "x", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}]',
        outputs: '[]',
        params: null,
      },
    });
    expect(written).not.toHaveProperty('run_id');
    expect(written).not.toHaveProperty('metadata');
    expect(written.model_uuid).toMatch(/^[0-9a-f]{32}$/);
    const created = Date.parse(`${String(written.utc_time_created).replace(' ', 'T').slice(0, 23)}Z`);
    expect(created).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 1000);
    expect(created).toBeLessThanOrEqual(Date.now());
  });

  test('writes what it is given: the description as metadata.model_gitops, which parseMlmodel reads back', () => {
    const description = { labels: ['cat', 'dog'], output: { kind: 'probabilities' } };
    const text = formatMlmodel({
      onnxFile: 'model.onnx',
      description,
      inputs: [{ name: 'input', dtype: 'float32', shape: [-1, 3, 224, 224] }],
      outputs: [{ name: 'probabilities', dtype: 'float32', shape: [-1, 2] }],
      artifactPath: 'classifier',
      onnxVersion: '1.17.0',
    });
    expect(parse(text)).toMatchObject({
      artifact_path: 'classifier',
      flavors: { onnx: { onnx_version: '1.17.0' } },
      metadata: { model_gitops: description },
    });
    expect(parseMlmodel(text, 'MLmodel')).toEqual({
      onnxFile: 'model.onnx',
      description,
      signature: {
        inputs: [{ name: 'input', dtype: 'float32', shape: [-1, 3, 224, 224] }],
        outputs: [{ name: 'probabilities', dtype: 'float32', shape: [-1, 2] }],
      },
    });
  });
});
