import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import './ort-telemetry'; // before onnxruntime-node: see there
import * as ort from 'onnxruntime-node';
import { METADATA_FILE, MODEL_FILE, parseModelMetadata, type ModelMetadata } from './metadata';

/** A model directory read from disk and checked: bytes, metadata and their digests. */
export interface ModelFiles {
  readonly dir: string;
  /** The bytes of model.onnx (sessions are created from these, so what was hashed is what runs). */
  readonly onnx: Uint8Array;
  readonly metadata: ModelMetadata;
  /** sha256 of model.onnx. */
  readonly sha256: string;
  /** sha256 of model.json. */
  readonly metadataSha256: string;
}

/** What the session told us about its input and output, after validation. */
export interface ModelIo {
  /** Fixed batch size of the graph, or null when the batch dimension is symbolic (any batch works). */
  readonly fixedBatch: number | null;
  /** Shape of one image in the input tensor (without the batch dimension), in the model layout. */
  readonly imageShape: readonly [number, number, number];
  /** Output width = number of classes. */
  readonly classes: number;
}

/** Start-up failure of a model: the message says what is wrong and how to fix it. */
export class ModelLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelLoadError';
  }
}

/** ONNX Runtime session settings the service exposes. */
export interface SessionSettings {
  /** Threads inside one operator. @default 1 */
  readonly intraOpNumThreads?: number;
  /** Threads across operators. @default 1 */
  readonly interOpNumThreads?: number;
}

/**
 * Reads `model.onnx` + `model.json` from `dir`, validates the metadata and, when `expectedSha256` is
 * given, the digest of model.onnx. Throws {@link ModelLoadError} naming the file and the problem.
 */
export async function readModelFiles(dir: string, expectedSha256?: string): Promise<ModelFiles> {
  const onnxPath = join(dir, MODEL_FILE);
  const metaPath = join(dir, METADATA_FILE);
  const onnx = await readOrExplain(onnxPath);
  const metaBytes = await readOrExplain(metaPath);
  let raw: unknown;
  try {
    raw = JSON.parse(metaBytes.toString('utf8'));
  } catch (err) {
    throw new ModelLoadError(
      `${metaPath}: not valid JSON (${(err as Error).message}): fix or regenerate the file`,
    );
  }
  let metadata: ModelMetadata;
  try {
    metadata = parseModelMetadata(raw, metaPath);
  } catch (err) {
    throw new ModelLoadError((err as Error).message);
  }
  const sha256 = createHash('sha256').update(onnx).digest('hex');
  if (expectedSha256 !== undefined && expectedSha256 !== sha256) {
    throw new ModelLoadError(
      `${onnxPath}: sha256 is ${sha256} but MODEL_SHA256 expects ${expectedSha256}: ` +
        'the file is not the pinned model (fetch the pinned version again or fix the pin)',
    );
  }
  const metadataSha256 = createHash('sha256').update(metaBytes).digest('hex');
  return {
    dir,
    onnx: new Uint8Array(onnx.buffer, onnx.byteOffset, onnx.byteLength),
    metadata,
    sha256,
    metadataSha256,
  };
}

async function readOrExplain(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ModelLoadError(
      `${file}: cannot read (${why}): a model directory needs ${MODEL_FILE} and ${METADATA_FILE}`,
    );
  }
}

/**
 * Checks that the service can feed the session as the metadata describes: one float32 rank-4 image input
 * with the metadata's name, 3 channels where the layout puts them, height/width equal to the metadata
 * (or symbolic); a float32 rank-2 output with the metadata's name whose width, when fixed, equals the
 * label count. Throws {@link ModelLoadError} saying what does not match.
 */
export function validateModelAgainstSession(meta: ModelMetadata, session: ort.InferenceSession): ModelIo {
  const where = `model (input '${meta.input.name}', output '${meta.output.name}')`;
  const inputs = session.inputMetadata;
  const input = inputs.find((i) => i.name === meta.input.name);
  if (!input) {
    throw new ModelLoadError(
      `${where}: the graph has no input '${meta.input.name}' (inputs: ${inputs.map((i) => i.name).join(', ')}): ` +
        `set input.name in ${METADATA_FILE}`,
    );
  }
  if (inputs.length !== 1) {
    throw new ModelLoadError(
      `${where}: the graph has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); the service feeds exactly one image input`,
    );
  }
  if (!input.isTensor || input.type !== 'float32') {
    const type = input.isTensor ? input.type : 'a non-tensor value';
    throw new ModelLoadError(
      `${where}: input '${input.name}' has element type ${type}; the service feeds float32 only: ` +
        're-export the model with a float32 input (e.g. keep float16 weights but add a Cast)',
    );
  }
  const shape = input.shape;
  if (shape.length !== 4) {
    throw new ModelLoadError(
      `${where}: input '${input.name}' has rank ${shape.length} ([${shape.join(', ')}]); an image input must have rank 4`,
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
        `${where}: input '${input.name}' has shape [${shape.join(', ')}] but ${METADATA_FILE} (layout ${meta.input.layout}, ` +
          `${meta.input.height}x${meta.input.width}) needs ${dimNames[i]} = ${expected[i]}: fix input.layout/height/width`,
      );
    }
  }
  const batch = shape[0];
  const fixedBatch = typeof batch === 'number' && batch > 0 ? batch : null;
  if (fixedBatch !== null && fixedBatch !== 1) {
    throw new ModelLoadError(
      `${where}: input batch dimension is fixed at ${fixedBatch}; the service needs 1 or a symbolic batch`,
    );
  }
  const outputs = session.outputMetadata;
  const output = outputs.find((o) => o.name === meta.output.name);
  if (!output) {
    throw new ModelLoadError(
      `${where}: the graph has no output '${meta.output.name}' (outputs: ${outputs.map((o) => o.name).join(', ')}): ` +
        `set output.name in ${METADATA_FILE}`,
    );
  }
  if (!output.isTensor || output.type !== 'float32' || output.shape.length !== 2) {
    const desc = output.isTensor ? `${output.type} [${output.shape.join(', ')}]` : 'a non-tensor value';
    throw new ModelLoadError(
      `${where}: output '${output.name}' is ${desc}; the service reads a float32 [batch, classes] output`,
    );
  }
  const width = output.shape[1];
  if (typeof width === 'number' && width !== meta.labels.length) {
    throw new ModelLoadError(
      `${where}: output '${output.name}' has ${width} classes but ${METADATA_FILE} lists ${meta.labels.length} labels: ` +
        'the labels must match the output, one per class in order',
    );
  }
  return { fixedBatch, imageShape: expected, classes: meta.labels.length };
}

/** A validated, warmed-up session. */
export interface OpenModel {
  readonly session: ort.InferenceSession;
  readonly io: ModelIo;
}

/**
 * Creates a session from the model bytes, validates it against the metadata and runs one warm-up
 * inference (all-zero image), which also checks the real output width. Throws {@link ModelLoadError}.
 */
export async function createValidatedSession(
  files: Pick<ModelFiles, 'onnx' | 'metadata' | 'dir'>,
  settings: SessionSettings = {},
): Promise<OpenModel> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(files.onnx, {
      intraOpNumThreads: settings.intraOpNumThreads ?? 1,
      interOpNumThreads: settings.interOpNumThreads ?? 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (err) {
    throw new ModelLoadError(
      `${join(files.dir, MODEL_FILE)}: ONNX Runtime cannot load the model (${firstLine(err)}): ` +
        'the file is corrupt or uses operators this runtime lacks',
    );
  }
  try {
    const io = validateModelAgainstSession(files.metadata, session);
    const scores = await runBatch(
      session,
      files.metadata,
      io,
      new Float32Array(io.imageShape.reduce((a, b) => a * b)),
      1,
    );
    if (scores.length !== io.classes) {
      throw new ModelLoadError(
        `${join(files.dir, MODEL_FILE)}: the warm-up inference returned ${scores.length} scores but ${METADATA_FILE} ` +
          `lists ${io.classes} labels: the labels must match the output`,
      );
    }
    return { session, io };
  } catch (err) {
    await session.release();
    throw err;
  }
}

/** {@link readModelFiles} then {@link createValidatedSession}: the whole load-and-validate path, in process. */
export async function openModel(
  dir: string,
  opts: SessionSettings & { readonly expectedSha256?: string } = {},
): Promise<OpenModel & { readonly files: ModelFiles }> {
  const files = await readModelFiles(dir, opts.expectedSha256);
  return { files, ...(await createValidatedSession(files, opts)) };
}

/**
 * Runs `batch` preprocessed images (concatenated in `data`) and returns the raw output, batch x classes.
 * Models with a fixed batch of 1 run image by image.
 */
export async function runBatch(
  session: ort.InferenceSession,
  meta: ModelMetadata,
  io: ModelIo,
  data: Float32Array,
  batch: number,
): Promise<Float32Array> {
  const per = io.imageShape[0] * io.imageShape[1] * io.imageShape[2];
  if (data.length !== per * batch) {
    throw new Error(`runBatch: got ${data.length} values for ${batch} images of ${per}`);
  }
  if (io.fixedBatch === 1 && batch > 1) {
    const out = new Float32Array(batch * io.classes);
    for (let i = 0; i < batch; i++) {
      out.set(await runBatch(session, meta, io, data.subarray(i * per, (i + 1) * per), 1), i * io.classes);
    }
    return out;
  }
  const tensor = new ort.Tensor('float32', data, [batch, ...io.imageShape]);
  const result = await session.run({ [meta.input.name]: tensor }, [meta.output.name]);
  const output = result[meta.output.name];
  if (!output || output.type !== 'float32') {
    throw new Error(`output '${meta.output.name}' is missing or not float32`);
  }
  // A wrong width is returned as is: the warm-up run reports it as a label mismatch.
  return output.data as Float32Array;
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0] ?? 'unknown error';
}
