import { onnx } from 'onnx-proto';
import { readOnnxGraph } from '../../src/model/format';
import { fixture } from '../mlflow-fixtures';

const T = onnx.TensorProto.DataType;

type DimSpec = number | string | null | { value: number | string; param: string };

function valueInfo(name: string, elemType: number | null, dims?: readonly DimSpec[]): onnx.IValueInfoProto {
  if (elemType === null) return { name, type: { sequenceType: { elemType: {} } } };
  const shape =
    dims === undefined
      ? undefined
      : {
          dim: dims.map((d) => {
            if (d === null) return {};
            if (typeof d === 'object')
              return { dimValue: d.value, dimParam: d.param } as onnx.TensorShapeProto.IDimension;
            return typeof d === 'number' ? { dimValue: d } : { dimParam: d };
          }),
        };
  return { name, type: { tensorType: { elemType, ...(shape ? { shape } : {}) } } };
}

function model(graph: onnx.IGraphProto, props: onnx.IStringStringEntryProto[] = []): Uint8Array {
  return onnx.ModelProto.encode({ irVersion: 8, graph, metadataProps: props }).finish();
}

describe('readOnnxGraph: what the protobuf declares, without a runtime', () => {
  test('the recorded model.onnx: input [1, 2], a Softmax producing probabilities, no metadata_props', () => {
    expect(readOnnxGraph(fixture('model.recorded.onnx'), 'model.onnx')).toEqual({
      inputs: [{ name: 'input', type: 'float32', shape: [1, 2] }],
      outputs: [{ name: 'probabilities', type: 'float32', shape: [1, 2] }],
      metadataProps: {},
      producers: { probabilities: 'Softmax' },
      externalData: [],
    });
  });

  test('lists the external-data files of initializers, node attributes and subgraphs, each once, sorted', () => {
    const external = (name: string, location: string): onnx.ITensorProto => ({
      name,
      dataType: T.FLOAT,
      dims: [1],
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: location },
        { key: 'offset', value: '0' },
        { key: 'length', value: '4' },
      ],
    });
    const inline: onnx.ITensorProto = { name: 'bias', dataType: T.FLOAT, dims: [1], floatData: [0] };
    const branch: onnx.IGraphProto = { name: 'then', initializer: [external('w3', 'c.bin')] };
    const graph: onnx.IGraphProto = {
      initializer: [external('w1', 'b.bin'), external('w2', 'b.bin'), inline],
      node: [
        { opType: 'Constant', output: ['k'], attribute: [{ name: 'value', t: external('k', 'a.bin') }] },
        { opType: 'If', input: ['cond'], output: ['y'], attribute: [{ name: 'then_branch', g: branch }] },
      ],
    };
    expect(readOnnxGraph(model(graph), 'model.onnx').externalData).toEqual(['a.bin', 'b.bin', 'c.bin']);
  });

  test('names each ONNX element type as ONNX Runtime does; an unknown one by its number', () => {
    const types: [number, string][] = [
      [T.FLOAT, 'float32'],
      [T.UINT8, 'uint8'],
      [T.INT8, 'int8'],
      [T.UINT16, 'uint16'],
      [T.INT16, 'int16'],
      [T.INT32, 'int32'],
      [T.INT64, 'int64'],
      [T.STRING, 'string'],
      [T.BOOL, 'bool'],
      [T.FLOAT16, 'float16'],
      [T.DOUBLE, 'float64'],
      [T.UINT32, 'uint32'],
      [T.UINT64, 'uint64'],
      [T.BFLOAT16, 'bfloat16'],
      [T.COMPLEX64, `onnx-type-${T.COMPLEX64}`],
      [T.UNDEFINED, 'onnx-type-0'],
    ];
    const bytes = model({ input: types.map(([t], i) => valueInfo(`x${i}`, t, [1])), output: [] });
    expect(readOnnxGraph(bytes, 'm.onnx').inputs.map((i) => i.type)).toEqual(types.map(([, name]) => name));
  });

  test('dims: a size, a name, a name beside a zero size, "?" when neither; no shape is null; a non-tensor or untyped value has none', () => {
    const bytes = model({
      input: [
        valueInfo('image', T.FLOAT, ['batch', 3, null, { value: 0, param: 'w' }]),
        valueInfo('unshaped', T.FLOAT),
        valueInfo('scalar', T.FLOAT, []),
        valueInfo('seq', null),
        { name: 'untyped' },
      ],
      output: [valueInfo('out', T.FLOAT, [{ value: 7, param: 'ignored' }, 2])],
    });
    const info = readOnnxGraph(bytes, 'm.onnx');
    expect(info.inputs).toEqual([
      { name: 'image', type: 'float32', shape: ['batch', 3, '?', 'w'] },
      { name: 'unshaped', type: 'float32', shape: null },
      { name: 'scalar', type: 'float32', shape: [] },
      { name: 'seq', type: 'non-tensor', shape: null },
      { name: 'untyped', type: 'non-tensor', shape: null },
    ]);
    expect(info.outputs).toEqual([{ name: 'out', type: 'float32', shape: [7, 2] }]);
  });

  test('leaves out initializers an old exporter lists as inputs; records each output producer and metadata_props', () => {
    const bytes = model(
      {
        input: [valueInfo('x', T.FLOAT, [1, 4]), valueInfo('W', T.FLOAT, [4, 2])],
        initializer: [{ name: 'W', dataType: T.FLOAT, dims: [4, 2], floatData: Array(8).fill(0.5) }],
        node: [
          { opType: 'MatMul', input: ['x', 'W'], output: ['logits'] },
          { opType: 'Softmax', input: ['logits'], output: ['probabilities', 'unused'] },
          { input: ['logits'], output: ['mystery'] },
        ],
        output: [valueInfo('logits', T.FLOAT, [1, 2]), valueInfo('probabilities', T.FLOAT, [1, 2])],
      },
      [
        { key: 'model_gitops', value: '{"labels": ["a", "b"]}' },
        { key: 'empty', value: '' },
        { key: 'novalue' },
        { key: '', value: 'no key: left out' },
      ],
    );
    const info = readOnnxGraph(bytes, 'm.onnx');
    expect(info.inputs.map((i) => i.name)).toEqual(['x']);
    expect(info.producers).toEqual({
      logits: 'MatMul',
      probabilities: 'Softmax',
      unused: 'Softmax',
      mystery: '',
    });
    expect(info.metadataProps).toEqual({ model_gitops: '{"labels": ["a", "b"]}', empty: '', novalue: '' });
  });

  test('looks through Identity and Cast to float to the producer behind them; not through another Cast, nor round a loop', () => {
    const toFloat = { name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: T.FLOAT };
    const toDouble = { name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: T.DOUBLE };
    const bytes = model({
      input: [valueInfo('x', T.FLOAT, [1, 2])],
      node: [
        { opType: 'Softmax', input: ['x'], output: ['p'] },
        { opType: 'Identity', input: ['p'], output: ['same'] },
        { opType: 'Cast', input: ['same'], output: ['scores'], attribute: [toFloat] },
        { opType: 'Cast', input: ['p'], output: ['double'], attribute: [toDouble] },
        { opType: 'Identity', input: ['x'], output: ['copy'] },
        { opType: 'Identity', input: ['b'], output: ['a'] },
        { opType: 'Identity', input: ['a'], output: ['b'] },
      ],
      output: [valueInfo('scores', T.FLOAT, [1, 2])],
    });
    expect(readOnnxGraph(bytes, 'm.onnx').producers).toEqual({
      p: 'Softmax',
      same: 'Softmax',
      scores: 'Softmax',
      double: 'Cast',
      copy: 'Identity',
      a: 'Identity',
      b: 'Identity',
    });
  });

  test('an input or output without a name reads as the empty name', () => {
    const bytes = model({ input: [{ type: valueInfo('', T.FLOAT, [1]).type }], output: [] });
    expect(readOnnxGraph(bytes, 'm.onnx').inputs).toEqual([{ name: '', type: 'float32', shape: [1] }]);
  });

  test('fails naming the file when the bytes are not ONNX or hold no graph', () => {
    expect(() => readOnnxGraph(Buffer.from('not a protobuf at all \xff\xff\xff'), 'v1/model.onnx')).toThrow(
      /^v1\/model\.onnx: not an ONNX model \(/,
    );
    expect(() => readOnnxGraph(onnx.ModelProto.encode({ irVersion: 8 }).finish(), 'v1/model.onnx')).toThrow(
      'v1/model.onnx: not an ONNX model (no graph)',
    );
  });
});
