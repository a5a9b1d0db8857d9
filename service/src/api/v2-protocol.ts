/**
 * The Open Inference Protocol (KServe "v2", also spoken by Triton, MLServer and OpenVINO Model Server),
 * REST binding, as data models: the request/response schemas (which `v2-routes.ts` validates with and
 * `openapi.ts` documents), and the translation between its tensors and this service's data plane.
 * Specification: kserve/open-inference-protocol `specification/protocol/inference_rest.md`; the
 * `classification` output parameter is Triton's classification extension.
 */
import { z } from 'zod';
import { AppError } from '../errors';
import { decodeBase64, tooMany } from '../request-images';
import { topClasses } from '../scores';
import type { LoadedModel, ServedModel } from '../state';

/** Name of the output tensor: class probabilities (softmax applied for logits models). */
export const PROBABILITIES_OUTPUT = 'probabilities';
/** Name and version this server reports in `GET /v2`. */
export const SERVER_NAME = 'model-gitops';
/** Protocol extensions this server implements (none of the standard ones; see the README). */
export const SERVER_EXTENSIONS = ['classification'] as const;

/** Tensor element types of the protocol ("Tensor Data Types"). */
export const DatatypeSchema = z.enum([
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
]);

/** `$parameter`: a parameter's value, a string, number or boolean; 400 saying so for anything else. */
const ParameterValueSchema = z.union([z.string(), z.number(), z.boolean()], {
  error: (issue) =>
    `is ${describeElement(issue.input)}: a parameter value must be a string, number or boolean`,
});

/**
 * `$parameters`: key/value pairs, values string, number or boolean ("Parameters"). Optional request fields
 * also accept `null`, as clients that serialise unset fields send them.
 */
export const ParametersSchema = z.record(z.string(), ParameterValueSchema);

/** `$metadata_tensor`; -1 marks a variable-size dimension. */
export const MetadataTensorSchema = z.object({
  name: z.string(),
  datatype: DatatypeSchema,
  shape: z.array(z.number().int().min(-1)),
});

/** `$live_server_response`. */
export const ServerLiveResponseSchema = z.object({ live: z.boolean() });
export type ServerLiveResponse = z.infer<typeof ServerLiveResponseSchema>;
/** `$ready_server_response`. */
export const ServerReadyResponseSchema = z.object({ ready: z.boolean() });
export type ServerReadyResponse = z.infer<typeof ServerReadyResponseSchema>;
/** `$ready_model_response`. */
export const ModelReadyResponseSchema = z.object({ name: z.string(), ready: z.boolean() });
export type ModelReadyResponse = z.infer<typeof ModelReadyResponseSchema>;
/** `$metadata_server_response`. */
export const ServerMetadataResponseSchema = z.object({
  name: z.string(),
  version: z.string(),
  extensions: z.array(z.string()),
});
export type ServerMetadataResponse = z.infer<typeof ServerMetadataResponseSchema>;
/** `$metadata_model_response`. */
export const ModelMetadataResponseSchema = z.object({
  name: z.string(),
  versions: z.array(z.string()).optional(),
  platform: z.string(),
  inputs: z.array(MetadataTensorSchema),
  outputs: z.array(MetadataTensorSchema),
});

/**
 * `$tensor_data`: the elements in row-major order, flat or nested like the shape. Only the outer array is
 * checked by the schema; the elements are checked against `datatype` and `shape` while they are read
 * (numbers for FP32, base64 strings for BYTES), which is one pass instead of a schema walk per element.
 */
export const TensorDataSchema = z
  .array(z.unknown())
  .describe(
    'tensor elements in row-major order, flat or nested like `shape`: numbers for FP32, base64-encoded image files for BYTES',
  );

/** `$request_input`. */
export const RequestInputSchema = z.object({
  name: z.string().describe('the model input name (see the model metadata)'),
  shape: z
    .array(z.number().int().min(0))
    .min(1)
    .describe('FP32: [N, …one image] in the model layout; BYTES: [N]'),
  datatype: DatatypeSchema.describe('FP32 (preprocessed images) or BYTES (encoded images)'),
  parameters: ParametersSchema.nullish(),
  data: TensorDataSchema,
});

/** `$request_output`; `parameters.classification` = k asks for the top-k classes instead of the scores. */
export const RequestOutputSchema = z.object({
  name: z.string(),
  parameters: ParametersSchema.nullish().describe(
    '`classification`: k (≥ 1) returns the k best classes per image as BYTES strings `<score>:<index>:<label>`',
  ),
});

/** `$inference_request`. */
export const InferenceRequestSchema = z.object({
  id: z.string().optional().describe('echoed in the response'),
  parameters: ParametersSchema.nullish(),
  inputs: z.array(RequestInputSchema).min(1),
  outputs: z
    .array(RequestOutputSchema)
    .nullish()
    .describe('default: every output, as FP32; each output at most once (400 otherwise)'),
});
export type InferenceRequest = z.infer<typeof InferenceRequestSchema>;

/** `$response_output`. */
export const ResponseOutputSchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int().min(0)),
  datatype: DatatypeSchema,
  parameters: ParametersSchema.optional(),
  data: z.array(z.union([z.number(), z.string()])).describe('row-major, flat'),
});
export type ResponseOutput = z.infer<typeof ResponseOutputSchema>;

/** `$inference_response`. */
export const InferenceResponseSchema = z.object({
  model_name: z.string(),
  model_version: z.string().optional(),
  id: z.string().optional().describe("the request's `id`, when it had one"),
  parameters: ParametersSchema.optional(),
  outputs: z.array(ResponseOutputSchema),
});
export type InferenceResponse = z.infer<typeof InferenceResponseSchema>;

/** The protocol's error body, for every status. */
export const ErrorResponseSchema = z.object({ error: z.string().describe('what was wrong') });

/** `GET /v2/models/{name}` for the loaded model. */
export function modelMetadata(model: LoadedModel): z.infer<typeof ModelMetadataResponseSchema> {
  const { engine, metadata } = model;
  return {
    name: model.name,
    versions: [model.version],
    platform: 'onnxruntime_onnx',
    inputs: [
      {
        name: metadata.input.name,
        datatype: 'FP32',
        shape: [engine.io.fixedBatch ?? -1, ...engine.io.imageShape],
      },
    ],
    outputs: [
      {
        name: PROBABILITIES_OUTPUT,
        datatype: 'FP32',
        shape: [engine.io.fixedBatch ?? -1, engine.io.classes],
      },
    ],
  };
}

/**
 * 404 unless `name` (and `version`, when given) name the served model, loaded or not; the message names
 * what is served.
 */
export function checkModelPath(model: ServedModel, name: string, version: string | undefined): void {
  if (name !== model.name) {
    throw new AppError(404, 'model_not_found', `unknown model '${name}': this server serves '${model.name}'`);
  }
  if (version !== undefined && version !== model.version) {
    throw new AppError(
      404,
      'model_version_not_found',
      `model '${name}' has no version '${version}' here: the served version is '${model.version}'`,
    );
  }
}

/** A validated inference request, translated for the data plane. */
export type DecodedInput =
  /** Preprocessed images: `count` tensors concatenated in `batch`. */
  | { readonly kind: 'tensor'; readonly batch: Float32Array; readonly count: number }
  /** Encoded image files, to preprocess like /predict does. */
  | { readonly kind: 'images'; readonly images: Buffer[] };

/** The requested outputs: FP32 probabilities, or the top-k classes when `classification` is set. */
export interface OutputRequest {
  /** Classes per image for the classification output; null for the FP32 probabilities. */
  readonly classification: number | null;
}

function invalid(message: string): AppError {
  return new AppError(400, 'invalid_request', message);
}

/** Parses the request body (already JSON-decoded) with the protocol's schema; 400 naming the field. */
export function parseInferenceRequest(raw: unknown): InferenceRequest {
  const parsed = InferenceRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // A parameter value's message says what is allowed; anything else is told the request's shape.
    const expected =
      issue?.path.at(-2) === 'parameters'
        ? ''
        : ': expected {"inputs":[{"name","shape","datatype","data"}],"outputs"?:[{"name"}]}';
    throw invalid(`'${issue?.path.join('.') || '(root)'}' ${issue?.message}${expected}`);
  }
  for (const [where, params] of [
    ['parameters', parsed.data.parameters],
    ...parsed.data.inputs.map((input, i) => [`inputs.${i}.parameters`, input.parameters] as const),
    ...(parsed.data.outputs ?? []).map((out, i) => [`outputs.${i}.parameters`, out.parameters] as const),
  ] as const) {
    for (const key of ['binary_data', 'binary_data_output', 'binary_data_size', 'shared_memory_region']) {
      if (params?.[key] !== undefined && params[key] !== false) {
        throw invalid(
          `'${where}.${key}': the binary tensor and shared-memory extensions are not supported: send JSON tensor data`,
        );
      }
    }
  }
  return parsed.data;
}

/**
 * The request's one input as images for the data plane: an FP32 tensor `[N, …image]` in the model
 * layout (data flat or nested, row-major), or a BYTES tensor `[N]` of base64 image files.
 */
export function decodeInput(request: InferenceRequest, model: LoadedModel, maxImages: number): DecodedInput {
  const expectedName = model.metadata.input.name;
  if (request.inputs.length !== 1) {
    throw invalid(`the model has one input, '${expectedName}'; the request has ${request.inputs.length}`);
  }
  const input = request.inputs[0] as InferenceRequest['inputs'][number];
  if (input.name !== expectedName) {
    throw invalid(`'inputs.0.name' '${input.name}' is not an input of the model: use '${expectedName}'`);
  }
  const imageShape = model.engine.io.imageShape;
  const count = input.shape[0] as number;
  if (input.datatype === 'BYTES') {
    if (input.shape.length !== 1) {
      throw invalid(
        `'inputs.0.shape' [${input.shape.join(',')}]: a BYTES input has shape [N], one image file per element`,
      );
    }
    checkCount(count, maxImages);
    const elements = flatten(input.data, input.shape, 'BYTES');
    return {
      kind: 'images',
      images: elements.map((e, i) => decodeBase64(e as string, `inputs.0.data.${i}`)),
    };
  }
  if (input.datatype === 'FP32') {
    const want = [count, ...imageShape];
    if (input.shape.length !== want.length || input.shape.some((d, i) => d !== want[i])) {
      throw invalid(
        `'inputs.0.shape' [${input.shape.join(',')}] is not the model input shape [N,${imageShape.join(',')}] ` +
          `(${model.metadata.input.layout}, preprocessed as GET /v2/models/${model.name} describes)`,
      );
    }
    checkCount(count, maxImages);
    const elements = flatten(input.data, input.shape, 'FP32');
    return { kind: 'tensor', batch: Float32Array.from(elements as number[]), count };
  }
  throw invalid(
    `'inputs.0.datatype' ${input.datatype} is not accepted: send FP32 (preprocessed images, shape ` +
      `[N,${imageShape.join(',')}]) or BYTES (base64 image files, shape [N])`,
  );
}

function checkCount(count: number, maxImages: number): void {
  if (count < 1) throw invalid("'inputs.0.shape' has 0 images: send at least one");
  if (count > maxImages) throw tooMany(maxImages);
}

/**
 * The elements of `data`, flat: either already flat with product(shape) elements, or nested exactly like
 * `shape`. Each element must be a finite number (FP32) or a string (BYTES); 400 naming the first bad one.
 * A bad element is described in a few words, never stringified whole: a client can nest arrays or objects
 * thousands of levels deep in a few KB, deeper than JSON.stringify's call stack goes.
 */
function flatten(data: readonly unknown[], shape: readonly number[], datatype: 'FP32' | 'BYTES'): unknown[] {
  const total = shape.reduce((a, b) => a * b, 1);
  const out: unknown[] = [];
  const check = (value: unknown, path: string): void => {
    const ok =
      datatype === 'FP32'
        ? typeof value === 'number' && Number.isFinite(Math.fround(value)) // as the tensor will hold it
        : typeof value === 'string';
    if (!ok) {
      throw invalid(
        `'inputs.0.data${path}' is ${describeElement(value)}: ` +
          (datatype === 'FP32'
            ? 'FP32 elements must be numbers within the float32 range'
            : 'BYTES elements must be base64 strings'),
      );
    }
    out.push(value);
  };
  const flat = !Array.isArray(data[0]);
  if (flat || shape.length === 1) {
    if (data.length !== total) {
      throw invalid(`'inputs.0.data' has ${data.length} elements; shape [${shape.join(',')}] needs ${total}`);
    }
    data.forEach((v, i) => check(v, `.${i}`));
    return out;
  }
  // The recursion is as deep as the shape's rank (checked before): nesting deeper is a bad element.
  const walk = (level: readonly unknown[], depth: number, path: string): void => {
    if (level.length !== shape[depth]) {
      throw invalid(
        `'inputs.0.data${path}' has ${level.length} elements; dimension ${depth} of shape [${shape.join(',')}] is ${shape[depth]}`,
      );
    }
    const last = depth === shape.length - 1;
    level.forEach((v, i) => {
      if (last) check(v, `${path}.${i}`);
      else if (Array.isArray(v)) walk(v, depth + 1, `${path}.${i}`);
      else throw invalid(`'inputs.0.data${path}.${i}' must be an array: nested data follows the shape`);
    });
  };
  walk(data, 0, '');
  return out;
}

/** A bad tensor element in a few words: its value when short, else its kind (never the whole of it). */
function describeElement(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return String(value);
}

/**
 * Which outputs the request asks for (all, when it names none); 400 for unknown names, a name asked for
 * twice (the response would hold two tensors of that name) or a bad k.
 */
export function decodeOutputs(request: InferenceRequest, classes: number): OutputRequest[] {
  if (!request.outputs || request.outputs.length === 0) return [{ classification: null }];
  return request.outputs.map((output, i) => {
    if (output.name !== PROBABILITIES_OUTPUT) {
      throw invalid(
        `'outputs.${i}.name' '${output.name}' is not an output of the model: use '${PROBABILITIES_OUTPUT}'`,
      );
    }
    // The model has one output, so every entry after the first names it again.
    if (i > 0) {
      throw invalid(
        `'outputs.${i}.name' '${output.name}' is requested twice (also 'outputs.0.name'): request each output once`,
      );
    }
    const k = output.parameters?.classification;
    if (k === undefined) return { classification: null };
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) {
      throw invalid(`'outputs.${i}.parameters.classification' must be a whole number from 1 to ${classes}`);
    }
    return { classification: Math.min(k, classes) };
  });
}

/**
 * The response tensors for each requested output: FP32 `[N, classes]` probabilities (the numbers /predict
 * reports), or BYTES `[N, k]` strings `<score>:<index>:<label>`, best first (classification extension).
 */
export function encodeOutputs(
  probs: readonly Float32Array[],
  outputs: readonly OutputRequest[],
  labels: readonly string[],
): ResponseOutput[] {
  const classes = labels.length;
  return outputs.map(({ classification }) => {
    if (classification === null) {
      const data: number[] = [];
      for (const p of probs) for (const v of p) data.push(v);
      return { name: PROBABILITIES_OUTPUT, datatype: 'FP32', shape: [probs.length, classes], data };
    }
    const data = probs.flatMap((p) =>
      topClasses(p, labels, classification).topK.map((c) => `${c.score}:${c.index}:${c.label}`),
    );
    return { name: PROBABILITIES_OUTPUT, datatype: 'BYTES', shape: [probs.length, classification], data };
  });
}
