/**
 * The inference path every API shares (`/predict` and the Open Inference Protocol's `infer`): admission,
 * body memory, one batch through the worker pool (`InferencePool.predict`), probabilities, metrics. The
 * routes only translate their protocol to these calls and back.
 */
import type { Request, Response } from 'express';
import type { BodyBudget } from './body-budget';
import { AppError, ImageError, PredictionError } from './errors';
import type { InferenceResult } from './inference/pool';
import type { ServiceMetrics } from './metrics';
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
 * Classifies encoded images as one batch (`InferencePool.predict`: decoded on the libuv pool, run in a
 * worker); returns each image's class probabilities and counts the predictions. When there are several
 * images, an error about one starts with `<name(i)>: ` (default `image <i>`).
 */
export async function classifyImages(
  req: Request,
  model: LoadedModel,
  images: readonly Uint8Array[],
  metrics: ServiceMetrics,
  name: (i: number) => string = (i) => `image ${i}`,
): Promise<Float32Array[]> {
  checkDeadline(req);
  let result: InferenceResult;
  try {
    result = await model.engine.predict(images, req.deadline);
  } catch (err) {
    if (err instanceof ImageError && images.length > 1) {
      throw new ImageError(err.index, err.code, `${name(err.index)}: ${err.message}`);
    }
    throw err;
  }
  metrics.preprocessDuration.observe(result.preprocessSeconds);
  return probabilitiesOf(result, images.length, model, metrics);
}

/**
 * Runs `count` images already in the model's input form (concatenated in `batch`, whose buffer moves to the
 * worker) as one batch; returns each image's class probabilities and counts the predictions.
 */
export async function classifyTensor(
  req: Request,
  model: LoadedModel,
  batch: Float32Array,
  count: number,
  metrics: ServiceMetrics,
): Promise<Float32Array[]> {
  checkDeadline(req);
  return probabilitiesOf(await model.engine.run(batch, count, req.deadline), count, model, metrics);
}

/** 504 when the request's deadline has already passed. */
function checkDeadline(req: Request): void {
  if (Date.now() >= req.deadline) {
    throw new PredictionError('timeout', 'the request took longer than REQUEST_TIMEOUT_MS');
  }
}

function probabilitiesOf(
  result: InferenceResult,
  count: number,
  model: LoadedModel,
  metrics: ServiceMetrics,
): Float32Array[] {
  const { metadata } = model;
  const classes = metadata.labels.length;
  metrics.inferenceDuration.observe(result.seconds);
  metrics.batchSize.observe(count);
  return Array.from({ length: count }, (_, i) => {
    const probs = probabilities(result.scores.subarray(i * classes, (i + 1) * classes), metadata.output.kind);
    const best = topClasses(probs, metadata.labels, 1);
    metrics.predictions.inc({ label: best.label, model_version: model.version });
    return probs;
  });
}
