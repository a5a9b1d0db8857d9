import { join } from 'node:path';
import './ort-telemetry'; // before onnxruntime-node: see there
import * as ort from 'onnxruntime-node';
import type { ModelFiles, ModelMetadata, TensorInfo } from './format';
// Not the format's index: this module is all an inference worker loads, and the index's parsers (zod, yaml,
// protobufjs) would cost each worker ~0.2 s of CPU at start-up (bench/README.md, cold start).
import { checkModelIo, ModelLoadError, valuesPerImage, type ModelIo } from './format/io';

/** ONNX Runtime session settings the service exposes. */
export interface SessionSettings {
  /** Threads inside one operator. @default 1 */
  readonly intraOpNumThreads?: number;
  /** Threads across operators. @default 1 */
  readonly interOpNumThreads?: number;
}

/**
 * Checks the session's inputs and outputs against the description with the format's rules
 * ({@link checkModelIo}): what ONNX Runtime reports, not only what the file declares.
 */
export function validateModelAgainstSession(meta: ModelMetadata, session: ort.InferenceSession): ModelIo {
  const info = (m: ort.InferenceSession.ValueMetadata): TensorInfo =>
    m.isTensor
      ? { name: m.name, type: m.type, shape: m.shape }
      : { name: m.name, type: 'non-tensor', shape: null };
  return checkModelIo(
    meta,
    { inputs: session.inputMetadata.map(info), outputs: session.outputMetadata.map(info) },
    'model',
  );
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
  files: Pick<ModelFiles, 'onnx' | 'externalData' | 'metadata' | 'dir' | 'onnxFile'>,
  settings: SessionSettings = {},
): Promise<OpenModel> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(files.onnx, {
      intraOpNumThreads: settings.intraOpNumThreads ?? 1,
      interOpNumThreads: settings.interOpNumThreads ?? 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // The graph's external-data files, from the bytes that were hashed (not reread from disk).
      externalData: files.externalData,
    });
  } catch (err) {
    throw new ModelLoadError(
      `${join(files.dir, files.onnxFile)}: ONNX Runtime cannot load the model (${firstLine(err)}): ` +
        'the file is corrupt or uses operators this runtime lacks',
    );
  }
  try {
    const io = validateModelAgainstSession(files.metadata, session);
    const scores = await runBatch(session, files.metadata, io, new Float32Array(valuesPerImage(io)), 1);
    if (scores.length !== io.classes) {
      throw new ModelLoadError(
        `${join(files.dir, files.onnxFile)}: the warm-up inference returned ${scores.length} scores but the description ` +
          `lists ${io.classes} labels: the labels must match the output`,
      );
    }
    return { session, io };
  } catch (err) {
    await session.release();
    throw err;
  }
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
  const per = valuesPerImage(io);
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
