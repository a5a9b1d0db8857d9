import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { METADATA_FILE, MODEL_FILE, sha256Hex, type ModelMetadataInput } from './format';

/** ONNX element types the builder can declare for graph inputs. */
export type ElementType = 'float32' | 'float16' | 'uint8';

const ELEMENT_TYPES: Record<ElementType, onnx.TensorProto.DataType> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  uint8: onnx.TensorProto.DataType.UINT8,
};

/** A dimension: a fixed size or a symbolic name such as `batch`. */
export type Dim = number | string;

/** Deterministic PRNG (mulberry32): the same seed always gives the same weights on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Attr = number | number[] | string;

/**
 * A minimal ONNX graph builder (opset 13): named values, float32 initializers, nodes with attributes.
 * Enough to express small CNNs and test graphs without Python.
 */
export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private counter = 0;

  /** @param random source of initializer values (use {@link seededRandom} for reproducible bytes) */
  constructor(private readonly random: () => number = seededRandom(1)) {}

  /** A fresh value name with the given prefix. */
  fresh(prefix: string): string {
    this.counter += 1;
    return `${prefix}_${this.counter}`;
  }

  /** Declares a graph input. */
  input(name: string, type: ElementType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, ELEMENT_TYPES[type], dims));
    return name;
  }

  /** Declares a graph output (float32). */
  output(name: string, dims: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, onnx.TensorProto.DataType.FLOAT, dims));
  }

  /** A float32 initializer from explicit values. */
  constant(prefix: string, dims: readonly number[], values: Float32Array): string {
    const name = this.fresh(prefix);
    let raw: Buffer;
    if (endianness() === 'LE') raw = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    else {
      raw = Buffer.alloc(values.length * 4);
      values.forEach((v, i) => raw.writeFloatLE(v, i * 4)); // ONNX raw_data is little-endian
    }
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: raw,
    });
    return name;
  }

  /** A float32 initializer with uniform random values in [-bound, bound]. */
  randomConstant(prefix: string, dims: readonly number[], bound: number): string {
    const count = dims.reduce((a, b) => a * b, 1);
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = (this.random() * 2 - 1) * bound;
    return this.constant(prefix, dims, values);
  }

  /** Adds a node and returns the name of its (single) output. */
  node(
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, Attr> = {},
    outputName?: string,
  ): string {
    const out = outputName ?? this.fresh(opType.toLowerCase());
    this.nodes.push({
      opType,
      name: this.fresh(`${opType}_node`),
      input: [...inputs],
      output: [out],
      attribute: Object.entries(attrs).map(([name, value]) => attribute(name, value)),
    });
    return out;
  }

  /** Conv with He-uniform random weights and a small random bias. */
  conv(
    x: string,
    inC: number,
    outC: number,
    kernel: number,
    opts: { stride?: number; group?: number } = {},
  ): string {
    const group = opts.group ?? 1;
    const fanIn = (inC / group) * kernel * kernel;
    const w = this.randomConstant('w', [outC, inC / group, kernel, kernel], Math.sqrt(6 / fanIn));
    const b = this.randomConstant('b', [outC], 0.05);
    const pad = Math.floor(kernel / 2);
    return this.node('Conv', [x, w, b], {
      kernel_shape: [kernel, kernel],
      pads: [pad, pad, pad, pad],
      strides: [opts.stride ?? 1, opts.stride ?? 1],
      group,
    });
  }

  /** Fully connected layer (Gemm) with He-uniform random weights. */
  dense(x: string, inF: number, outF: number, outputName?: string): string {
    const w = this.randomConstant('fc_w', [outF, inF], Math.sqrt(6 / inF));
    const b = this.randomConstant('fc_b', [outF], 0.05);
    return this.node('Gemm', [x, w, b], { transB: 1 }, outputName);
  }

  /** Serialises the graph as an ONNX model (IR 8, opset 13); bytes depend only on the graph. */
  build(graphName: string): Uint8Array {
    const model: onnx.IModelProto = {
      irVersion: 8,
      producerName: 'model-gitops',
      producerVersion: '1',
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}

function valueInfo(
  name: string,
  elemType: onnx.TensorProto.DataType,
  dims: readonly Dim[],
): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: Attr): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: Buffer.from(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  return { name, type: T.INT, i: value };
}

/** A built model: the ONNX bytes and the matching `model.json` content. */
export interface BuiltModel {
  readonly onnx: Uint8Array;
  readonly metadata: ModelMetadataInput;
}

/** Options of {@link buildSimpleCnn}. */
export interface SimpleCnnOptions {
  /** PRNG seed of the weights. @default 20240611 */
  readonly seed?: number;
  /** Square input size in pixels. @default 128 */
  readonly inputSize?: number;
  /** Class labels. @default ['cat', 'dog'] */
  readonly labels?: readonly string[];
  /** Channels of the three conv blocks. @default [32, 64, 128] */
  readonly channels?: readonly [number, number, number];
  /** Width of the hidden fully connected layer. @default 64 */
  readonly hidden?: number;
}

/**
 * The default cats-vs-dogs model: the classic "SimpleCNN" (three conv 3x3 / ReLU / max-pool 2x2 blocks,
 * flatten, dense + ReLU, dense to logits), NCHW float32 input `input` [batch, 3, S, S], output `logits`.
 * Weights are seeded random: the model is UNTRAINED; it exists so the service runs without a registry.
 */
export function buildSimpleCnn(opts: SimpleCnnOptions = {}): BuiltModel {
  const size = opts.inputSize ?? 128;
  const labels = opts.labels ?? ['cat', 'dog'];
  const channels = opts.channels ?? [32, 64, 128];
  const hidden = opts.hidden ?? 64;
  if (size % 8 !== 0) throw new Error(`inputSize (${size}) must be a multiple of 8 (three 2x2 pools)`);
  const g = new GraphBuilder(seededRandom(opts.seed ?? 20240611));
  let x = g.input('input', 'float32', ['batch', 3, size, size]);
  let inC = 3;
  for (const outC of channels) {
    x = g.node('Relu', [g.conv(x, inC, outC, 3)]);
    x = g.node('MaxPool', [x], { kernel_shape: [2, 2], strides: [2, 2] });
    inC = outC;
  }
  x = g.node('Flatten', [x], { axis: 1 });
  const flat = inC * (size / 8) * (size / 8);
  x = g.node('Relu', [g.dense(x, flat, hidden)]);
  g.dense(x, hidden, labels.length, 'logits');
  g.output('logits', ['batch', labels.length]);
  return { onnx: g.build('simple_cnn'), metadata: simpleCnnMetadata(size, labels) };
}

/**
 * How a SimpleCNN-shaped graph is served (input `input` NCHW RGB S x S squashed, scaled to -1…1; output
 * `logits`): shared by the seeded SimpleCNN and the default model's designed weights.
 */
export function simpleCnnMetadata(size: number, labels: readonly string[]): ModelMetadataInput {
  return {
    schemaVersion: 1,
    labels: [...labels],
    input: { name: 'input', layout: 'NCHW', height: size, width: size, channelOrder: 'RGB' },
    preprocessing: { resize: 'squash', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    output: { name: 'logits', kind: 'logits' },
  };
}

/** Options of {@link buildMobileNet}. */
export interface MobileNetOptions {
  /** PRNG seed of the weights. @default 20240612 */
  readonly seed?: number;
  /** Number of classes; labels are `class_0` … unless given. @default 1000 */
  readonly classes?: number;
  /** Class labels (overrides `classes`). @default - `class_<i>` for each class */
  readonly labels?: readonly string[];
}

/**
 * A MobileNetV2-class benchmark model: 224x224 NCHW input, stem conv stride 2, ten inverted-residual
 * blocks (1x1 expand / ReLU6, depthwise 3x3 / ReLU6, 1x1 project, residual add where shapes allow),
 * 1x1 head conv, global average pool, dense logits. ImageNet preprocessing (centre crop, mean/std). Untrained.
 */
export function buildMobileNet(opts: MobileNetOptions = {}): BuiltModel {
  const labels = opts.labels ?? Array.from({ length: opts.classes ?? 1000 }, (_, i) => `class_${i}`);
  const g = new GraphBuilder(seededRandom(opts.seed ?? 20240612));
  const zero = g.constant('relu6_min', [], new Float32Array([0]));
  const six = g.constant('relu6_max', [], new Float32Array([6]));
  const relu6 = (v: string): string => g.node('Clip', [v, zero, six]);
  let x = g.input('input', 'float32', ['batch', 3, 224, 224]);
  x = relu6(g.conv(x, 3, 32, 3, { stride: 2 }));
  let inC = 32;
  // [expansion, out channels, repeats, first stride] as in MobileNetV2, shortened.
  const stages: ReadonlyArray<readonly [number, number, number, number]> = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 2, 2],
    [6, 96, 1, 1],
    [6, 160, 1, 2],
  ];
  for (const [t, c, n, s] of stages) {
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      const hiddenC = inC * t;
      let y = x;
      if (t !== 1) y = relu6(g.conv(y, inC, hiddenC, 1));
      y = relu6(g.conv(y, hiddenC, hiddenC, 3, { stride, group: hiddenC }));
      y = g.conv(y, hiddenC, c, 1);
      x = stride === 1 && inC === c ? g.node('Add', [x, y]) : y;
      inC = c;
    }
  }
  x = relu6(g.conv(x, inC, 640, 1));
  x = g.node('GlobalAveragePool', [x]);
  x = g.node('Flatten', [x], { axis: 1 });
  g.dense(x, 640, labels.length, 'logits');
  g.output('logits', ['batch', labels.length]);
  return {
    onnx: g.build('mobilenet_ish'),
    metadata: {
      schemaVersion: 1,
      labels: [...labels],
      input: { name: 'input', layout: 'NCHW', height: 224, width: 224, channelOrder: 'RGB' },
      preprocessing: {
        resize: 'center-crop',
        resizeShorterSide: 256,
        scale: 1 / 255,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
      },
      output: { name: 'logits', kind: 'logits' },
    },
  };
}

/** Options of {@link buildIdentityModel}. */
export interface IdentityModelOptions {
  /** Input height. @default 2 */
  readonly height?: number;
  /** Input width. @default 2 */
  readonly width?: number;
  /** Input layout. @default 'NCHW' */
  readonly layout?: 'NCHW' | 'NHWC';
  /** Declared input element type; non-float32 inputs are cast to float32 inside the graph. @default 'float32' */
  readonly inputType?: ElementType;
  /** Batch dimension: a fixed size or symbolic. @default 'batch' */
  readonly batch?: Dim;
}

/**
 * A test model whose output is its input, flattened: output[i] = input tensor element i. Labels are
 * `v<i>`, output kind `probabilities`, so every preprocessed value can be read back exactly.
 */
export function buildIdentityModel(opts: IdentityModelOptions = {}): BuiltModel {
  const h = opts.height ?? 2;
  const w = opts.width ?? 2;
  const layout = opts.layout ?? 'NCHW';
  const batch = opts.batch ?? 'batch';
  const width = 3 * h * w;
  const g = new GraphBuilder();
  const dims: Dim[] = layout === 'NCHW' ? [batch, 3, h, w] : [batch, h, w, 3];
  let x = g.input('pixels', opts.inputType ?? 'float32', dims);
  if ((opts.inputType ?? 'float32') !== 'float32') {
    x = g.node('Cast', [x], { to: onnx.TensorProto.DataType.FLOAT });
  }
  g.node('Flatten', [x], { axis: 1 }, 'values');
  g.output('values', [batch, width]);
  return {
    onnx: g.build('identity'),
    metadata: {
      schemaVersion: 1,
      labels: Array.from({ length: width }, (_, i) => `v${i}`),
      input: { name: 'pixels', layout, height: h, width: w, channelOrder: 'RGB' },
      preprocessing: { resize: 'squash', scale: 1 / 255 },
      output: { name: 'values', kind: 'probabilities' },
    },
  };
}

/**
 * Writes `model.onnx` and `model.json` (the kit's format before MLflow directories; `writeMlflowModelDir`
 * writes an MLflow directory) into `dir` (created if needed), each atomically, and returns the sha256 of
 * model.onnx.
 */
export function writeModelDir(dir: string, model: BuiltModel): string {
  mkdirSync(dir, { recursive: true });
  atomicWrite(join(dir, MODEL_FILE), model.onnx);
  atomicWrite(join(dir, METADATA_FILE), `${JSON.stringify(model.metadata, null, 2)}\n`);
  return sha256Hex(model.onnx);
}

function atomicWrite(file: string, data: Uint8Array | string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/**
 * The model as `onnx.save_model(model, path, save_as_external_data=True, location=location)` saves it, which
 * is what `mlflow.onnx.log_model` does by default: the raw data of every initializer of `threshold` bytes or
 * more moves to one file (`data`, to be written as `location` beside the ONNX file), each tensor naming its
 * offset and length there.
 */
export function withExternalData(
  model: Uint8Array,
  location: string,
  threshold = 1024,
): { onnx: Uint8Array; data: Uint8Array } {
  const proto = onnx.ModelProto.decode(model);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const tensor of proto.graph?.initializer ?? []) {
    const raw = tensor.rawData;
    if (!raw || raw.length < threshold) continue;
    chunks.push(raw);
    tensor.externalData = [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.length) },
    ].map((e) => onnx.StringStringEntryProto.create(e));
    tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    tensor.rawData = new Uint8Array(0);
    offset += raw.length;
  }
  return { onnx: onnx.ModelProto.encode(proto).finish(), data: Buffer.concat(chunks) };
}
