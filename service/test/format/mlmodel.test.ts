import { parse } from 'yaml';
import { formatMlmodel, parseMlmodel, pythonJson, signatureMismatches } from '../../src/model/format';
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

  test("writes the recorded MLmodel's shape: same keys, same order, same values, quoted time", () => {
    const written = formatMlmodel({
      onnxFile: 'model.onnx',
      inputs: [{ dtype: 'float32', shape: [1, 2] }],
      outputs: [{ dtype: 'float32', shape: [1, 2] }],
      runId: 'f77c2d593e9c4294ae5441b1e957b260',
      modelUuid: '88907b3ca9b54de9b2d63a3af13b5f2b',
      mlflowVersion: '3.6.1.dev0',
      created: new Date('2026-11-22T13:03:06.000Z'),
    });
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
