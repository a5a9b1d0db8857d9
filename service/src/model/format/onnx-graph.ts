import { onnx } from 'onnx-proto';
import { MODEL_DIR_FILE_NAME } from './mlmodel';

/**
 * What an ONNX file declares about its inputs and outputs, read from the protobuf itself (no ONNX Runtime):
 * `model-fetch`, `register` and `promote` resolve a model directory without loading a runtime, and the
 * service checks the same facts against its session (`loader.ts`), with the same rules (`io.ts`).
 */

/** One graph input or output. `shape` is null when the graph declares none; a dim is a size or a name. */
export interface TensorInfo {
  readonly name: string;
  /** ONNX Runtime's name of the element type (`float32`, `float16`, `uint8`, …), or `non-tensor`. */
  readonly type: string;
  readonly shape: readonly (number | string)[] | null;
}

/** The graph facts the model format uses. */
export interface OnnxGraphInfo {
  /** Real inputs (initializers listed as inputs by old exporters are left out). */
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** `metadata_props` of the model (key → value). */
  readonly metadataProps: Readonly<Record<string, string>>;
  /**
   * Operator type of the node that produces each value (e.g. `Softmax`), looking through nodes that pass their input
   * on unchanged (`Identity`, `Cast` to float): a Softmax behind an Identity reads as `Softmax`.
   */
  readonly producers: Readonly<Record<string, string>>;
  /**
   * Files beside the ONNX file that hold tensors of the graph (ONNX external data, sorted): what
   * `mlflow.onnx.log_model` writes by default (`save_as_external_data=True`: every weight of 1 KiB or more
   * goes to one file with a uuid name). The model is these bytes too, so they are read, pinned and fetched.
   */
  readonly externalData: readonly string[];
}

const T = onnx.TensorProto.DataType;
/** ONNX element type → the name ONNX Runtime's JS API uses (`Tensor.type`). */
const TYPE_NAMES: Record<number, string> = {
  [T.FLOAT]: 'float32',
  [T.UINT8]: 'uint8',
  [T.INT8]: 'int8',
  [T.UINT16]: 'uint16',
  [T.INT16]: 'int16',
  [T.INT32]: 'int32',
  [T.INT64]: 'int64',
  [T.STRING]: 'string',
  [T.BOOL]: 'bool',
  [T.FLOAT16]: 'float16',
  [T.DOUBLE]: 'float64',
  [T.UINT32]: 'uint32',
  [T.UINT64]: 'uint64',
  [T.BFLOAT16]: 'bfloat16',
};

/** Reads the graph's inputs, outputs, metadata_props and output producers; throws when it is not ONNX. */
export function readOnnxGraph(bytes: Uint8Array, where: string): OnnxGraphInfo {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new Error(`${where}: not an ONNX model (${(err as Error).message})`);
  }
  const graph = model.graph;
  if (!graph) throw new Error(`${where}: not an ONNX model (no graph)`);
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const nodeOf = new Map<string, onnx.INodeProto>();
  for (const node of graph.node ?? []) {
    for (const out of node.output ?? []) nodeOf.set(out, node);
  }
  const producers: Record<string, string> = {};
  for (const [out, node] of nodeOf) producers[out] = producerThrough(node, nodeOf).opType ?? '';
  const metadataProps: Record<string, string> = {};
  for (const entry of model.metadataProps ?? []) {
    if (entry.key) metadataProps[entry.key] = entry.value ?? '';
  }
  return {
    inputs: (graph.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map(tensorInfo),
    outputs: (graph.output ?? []).map(tensorInfo),
    metadataProps,
    producers,
    externalData: externalDataFiles(graph, where),
  };
}

/**
 * The external-data files of every tensor in the graph and its subgraphs (initializers and node attributes).
 * A location must be a plain file name beside the ONNX file: that is how MLflow and `onnx.save_model` write
 * them, and the directory the kit downloads, pins and serves is flat.
 */
function externalDataFiles(root: onnx.IGraphProto, where: string): string[] {
  const files = new Set<string>();
  const tensor = (t: onnx.ITensorProto): void => {
    if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) return;
    const location = (t.externalData ?? []).find((e) => e.key === 'location')?.value ?? '';
    if (!MODEL_DIR_FILE_NAME.test(location)) {
      throw new Error(
        `${where}: tensor '${t.name ?? ''}' keeps its data in '${location}', which is not a file name beside the ` +
          'ONNX file: save the model with its external data in one file next to it (onnx.save_model(model, path, ' +
          'save_as_external_data=True, location="model.onnx.data")) or inline (save_as_external_data=False)',
      );
    }
    files.add(location);
  };
  const graphs: onnx.IGraphProto[] = [root];
  for (let graph = graphs.pop(); graph !== undefined; graph = graphs.pop()) {
    for (const t of graph.initializer ?? []) tensor(t);
    for (const node of graph.node ?? []) {
      for (const attr of node.attribute ?? []) {
        if (attr.t) tensor(attr.t);
        for (const t of attr.tensors ?? []) tensor(t);
        if (attr.g) graphs.push(attr.g);
        graphs.push(...(attr.graphs ?? []));
      }
    }
  }
  return [...files].sort();
}

/**
 * The node behind `node` once nodes that pass their input on unchanged are looked through: `Identity`, and `Cast` to
 * float (an exporter's cast of float16 or double scores). Stops at a value no node produces and at a loop.
 */
function producerThrough(
  node: onnx.INodeProto,
  nodeOf: ReadonlyMap<string, onnx.INodeProto>,
): onnx.INodeProto {
  const seen = new Set([node]);
  let current = node;
  for (;;) {
    const passThrough =
      current.opType === 'Identity' ||
      (current.opType === 'Cast' &&
        current.attribute?.some((a) => a.name === 'to' && Number(a.i) === T.FLOAT));
    const behind = passThrough ? nodeOf.get(current.input?.[0] ?? '') : undefined;
    if (!behind || seen.has(behind)) return current;
    seen.add(behind);
    current = behind;
  }
}

function tensorInfo(value: onnx.IValueInfoProto): TensorInfo {
  const tensor = value.type?.tensorType;
  if (!tensor) return { name: value.name ?? '', type: 'non-tensor', shape: null };
  const type = TYPE_NAMES[tensor.elemType ?? 0] ?? `onnx-type-${tensor.elemType ?? 0}`;
  const dims = tensor.shape?.dim;
  const shape = dims
    ? dims.map((d) => {
        // protobufjs gives int64 as number or Long; a dim_value of 0/absent with no dim_param is unknown.
        const v = d.dimValue === undefined || d.dimValue === null ? 0 : Number(d.dimValue);
        return v > 0 ? v : d.dimParam || '?';
      })
    : null;
  return { name: value.name ?? '', type, shape };
}
