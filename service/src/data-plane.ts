/**
 * The inference path every API shares (`/predict` and the Open Inference Protocol's `infer`): admission,
 * body memory, preprocessing, one batch through the worker pool, probabilities, metrics. The routes only
 * translate their protocol to these calls and back.
 */
import type { Request, Response } from 'express';
import type { BodyBudget } from './body-budget';
import { AppError } from './errors';
import type { ServiceMetrics } from './metrics';
import { preprocessImage } from './preprocess';
import { probabilities, topClasses } from './scores';
import type { LoadedModel } from './state';

/** The loaded model, or 503 `not_ready` + Retry-After while it loads. */
export function requireModel(model: LoadedModel | null): LoadedModel {
  if (!model)
    throw new AppError(503, 'not_ready', 'the model is still loading: retry shortly', { 'Retry-After': '1' });
  return model;
}

/**
 * Admits the request to the inference queue (503 at once when full, before its body is read) and opens
 * its account of body memory; both are released when the response closes. Returns the `reserve` callback
 * the body reader calls per chunk.
 */
export function admitRequest(model: LoadedModel, bodies: BodyBudget, res: Response): (bytes: number) => void {
  const release = model.engine.admit();
  const account = bodies.open();
  res.on('close', () => {
    release();
    account.close();
  });
  return account.reserve;
}

/**
 * Preprocesses encoded images into model input tensors, in parallel on the libuv pool. When there are
 * several, an error message starts with `<name(i)>: ` (default `image <i>`).
 */
export async function preprocessImages(
  images: readonly Buffer[],
  model: LoadedModel,
  maxPixels: number,
  metrics: ServiceMetrics,
  name: (i: number) => string = (i) => `image ${i}`,
): Promise<Float32Array[]> {
  const started = process.hrtime.bigint();
  const tensors = await Promise.all(
    images.map((bytes, i) =>
      preprocessImage(bytes, model.metadata, { maxPixels }).catch((err: unknown) => {
        if (err instanceof AppError && images.length > 1) {
          throw new AppError(err.status, err.code, `${name(i)}: ${err.message}`, err.headers);
        }
        throw err;
      }),
    ),
  );
  metrics.preprocessDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
  return tensors;
}

/** The images' tensors one after the other, as one batch (one tensor is returned as is: no copy). */
export function concatTensors(tensors: readonly Float32Array[]): Float32Array {
  if (tensors.length === 1) return tensors[0] as Float32Array;
  const per = tensors[0]?.length ?? 0;
  const batch = new Float32Array(per * tensors.length);
  tensors.forEach((t, i) => batch.set(t, i * per));
  return batch;
}

/**
 * Runs `count` preprocessed images (concatenated in `batch`, whose buffer moves to the worker) as one
 * batch and returns each image's class probabilities; counts the predictions. 504 when the request's
 * deadline has already passed.
 */
export async function classifyBatch(
  req: Request,
  model: LoadedModel,
  batch: Float32Array,
  count: number,
  metrics: ServiceMetrics,
): Promise<Float32Array[]> {
  if (Date.now() >= req.deadline) {
    throw new AppError(504, 'timeout', 'the request took longer than REQUEST_TIMEOUT_MS');
  }
  const { metadata, engine } = model;
  const classes = metadata.labels.length;
  const result = await engine.run(batch, count, req.deadline);
  metrics.inferenceDuration.observe(result.seconds);
  metrics.batchSize.observe(count);
  return Array.from({ length: count }, (_, i) => {
    const probs = probabilities(result.scores.subarray(i * classes, (i + 1) * classes), metadata.output.kind);
    const best = topClasses(probs, metadata.labels, 1);
    metrics.predictions.inc({ label: best.label, model_version: model.version });
    return probs;
  });
}
