import type { ModelMetadata } from './description';
import type { TensorInfo } from './onnx-graph';

/** A model directory that cannot be served: the message says what is wrong, where, and how to fix it. */
export class ModelLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelLoadError';
  }
}

/**
 * How to serve a binary classifier exported with one sigmoid unit (Keras `Dense(1, activation="sigmoid")`): the
 * service reads one score per class, so the graph must output both.
 */
export const ONE_UNIT_FIX =
  'a binary classifier with one sigmoid unit must output both classes: export Concat([1 - p, p], axis=1) ' +
  '(probabilities) or Concat([-z, z], axis=1) of its logit z (logits), with labels for both';

/** What the graph says about its input and output, after validation. */
export interface ModelIo {
  /** Fixed batch size of the graph, or null when the batch dimension is symbolic (any batch works). */
  readonly fixedBatch: number | null;
  /** Shape of one image in the input tensor (without the batch dimension), in the model layout. */
  readonly imageShape: readonly [number, number, number];
  /** Output width = number of classes. */
  readonly classes: number;
}

/** Values in one image's tensor (channels x height x width): the stride of a batch. */
export function valuesPerImage(io: ModelIo): number {
  const [a, b, c] = io.imageShape;
  return a * b * c;
}

/** Inputs and outputs as the protobuf (`readOnnxGraph`) or an ONNX Runtime session declares them. */
export interface GraphIo {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
}

/**
 * Why a graph with more than one real input cannot be served (undefined when it has at most one): the service
 * feeds one image, and naming the image input does not change that.
 */
export function severalInputsProblem(inputs: readonly TensorInfo[]): string | undefined {
  if (inputs.length <= 1) return undefined;
  return (
    `the graph has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); the service feeds exactly one ` +
    'image input: export the model with the image as its only input (the other inputs fixed as constants, e.g. ' +
    'torch.onnx.export of a wrapper module that passes them itself)'
  );
}

/**
 * The one set of rules for "the service can feed this graph as the description says": one float32 rank-4
 * image input with the description's name, 3 channels where the layout puts them, height/width equal to the
 * description (or symbolic), batch 1 or symbolic; a float32 rank-2 output with the description's name whose
 * width, when fixed, equals the label count. Throws {@link ModelLoadError} saying what does not match.
 */
export function checkModelIo(meta: ModelMetadata, graph: GraphIo, where: string): ModelIo {
  const at = `${where} (input '${meta.input.name}', output '${meta.output.name}')`;
  const { inputs, outputs } = graph;
  const several = severalInputsProblem(inputs);
  if (several) throw new ModelLoadError(`${at}: ${several}`);
  const input = inputs.find((i) => i.name === meta.input.name);
  if (!input) {
    throw new ModelLoadError(
      `${at}: the graph has no input '${meta.input.name}' (inputs: ${inputs.map((i) => i.name).join(', ')}): ` +
        'set input.name in the model_gitops metadata',
    );
  }
  if (input.type !== 'float32') {
    throw new ModelLoadError(
      `${at}: input '${input.name}' has element type ${input.type}; the service feeds float32 only: ` +
        (input.type === 'uint8'
          ? 're-export the model with a float32 input (a Cast to uint8 inside the graph if it needs one), and set ' +
            'preprocessing.scale to 1 so it gets pixel values 0-255 as it did'
          : 're-export the model with a float32 input (e.g. keep float16 weights but add a Cast)'),
    );
  }
  const shape = input.shape ?? [];
  if (shape.length !== 4) {
    throw new ModelLoadError(
      `${at}: input '${input.name}' has rank ${shape.length} ([${shape.join(', ')}]); an image input must have rank 4`,
    );
  }
  const expected: readonly [number, number, number] =
    meta.input.layout === 'NCHW'
      ? [3, meta.input.height, meta.input.width]
      : [meta.input.height, meta.input.width, 3];
  const dimNames =
    meta.input.layout === 'NCHW' ? ['channels', 'height', 'width'] : ['height', 'width', 'channels'];
  for (let i = 0; i < 3; i++) {
    const dim = shape[i + 1];
    if (typeof dim === 'number' && dim !== expected[i]) {
      throw new ModelLoadError(
        `${at}: input '${input.name}' has shape [${shape.join(', ')}] but the description (layout ${meta.input.layout}, ` +
          `${meta.input.height}x${meta.input.width}) needs ${dimNames[i]} = ${expected[i]}: fix input.layout/height/width`,
      );
    }
  }
  const batch = shape[0];
  const fixedBatch = typeof batch === 'number' && batch > 0 ? batch : null;
  if (fixedBatch !== null && fixedBatch !== 1) {
    throw new ModelLoadError(
      `${at}: input batch dimension is fixed at ${fixedBatch}; the service needs 1 or a symbolic batch`,
    );
  }
  const output = outputs.find((o) => o.name === meta.output.name);
  if (!output) {
    throw new ModelLoadError(
      `${at}: the graph has no output '${meta.output.name}' (outputs: ${outputs.map((o) => o.name).join(', ')}): ` +
        'set output.name in the model_gitops metadata',
    );
  }
  if (output.type !== 'float32' || output.shape?.length !== 2) {
    const desc =
      output.type === 'non-tensor'
        ? 'a non-tensor value'
        : `${output.type} [${(output.shape ?? []).join(', ')}]`;
    throw new ModelLoadError(
      `${at}: output '${output.name}' is ${desc}; the service reads a float32 [batch, classes] output`,
    );
  }
  const width = output.shape[1];
  if (typeof width === 'number' && width !== meta.labels.length) {
    throw new ModelLoadError(
      `${at}: output '${output.name}' has ${width} classes but the description lists ${meta.labels.length} labels: ` +
        (width === 1 ? ONE_UNIT_FIX : 'the labels must match the output, one per class in order'),
    );
  }
  return { fixedBatch, imageShape: expected, classes: meta.labels.length };
}
