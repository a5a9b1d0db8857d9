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
    result = await model.engine.predict(images, req.deadline, req.gone);
  } catch (err) {
    if (err instanceof ImageError && images.length > 1) {
      throw new ImageError(err.index, err.code, `${name(err.index)}: ${err.message}`);
    }
    throw err;
  }
  metrics.preprocessDuration.observe(result.preprocessSeconds);
  const probs = probabilitiesOf(result, images.length, model);
  countPredictions(result, probs, model, metrics);
  return probs;
}

/**
 * Runs `count` images already in the model's input form (concatenated in `batch`, whose buffer moves to the
 * worker) as one batch; returns each image's class probabilities and counts the predictions. 422
 * `non_finite_output`, with nothing counted, when an output is not finite: a raw tensor far outside what
 * preprocessing produces can overflow the model (infinite logits).
 */
export async function classifyTensor(
  req: Request,
  model: LoadedModel,
  batch: Float32Array,
  count: number,
  metrics: ServiceMetrics,
): Promise<Float32Array[]> {
  checkDeadline(req);
  const result = await model.engine.run(batch, count, req.deadline, req.gone);
  const probs = probabilitiesOf(result, count, model);
  const bad = probs.findIndex((p) => p.some((v) => !Number.isFinite(v)));
  if (bad >= 0) {
    throw new AppError(
      422,
      'non_finite_output',
      `the model output for image ${bad} is not finite: its input is far outside the range preprocessing produces`,
    );
  }
  countPredictions(result, probs, model, metrics);
  return probs;
}

/** 504 when the request's deadline has already passed. */
function checkDeadline(req: Request): void {
  if (Date.now() >= req.deadline) {
    throw new PredictionError('timeout', 'the request took longer than REQUEST_TIMEOUT_MS');
  }
}

/** Each image's class probabilities from the model's raw output. */
function probabilitiesOf(result: InferenceResult, count: number, model: LoadedModel): Float32Array[] {
  const { metadata } = model;
  const classes = metadata.labels.length;
  return Array.from({ length: count }, (_, i) =>
    probabilities(result.scores.subarray(i * classes, (i + 1) * classes), metadata.output.kind),
  );
}

/** The run's duration and batch size, and each image's top class, into the metrics. */
function countPredictions(
  result: InferenceResult,
  probs: readonly Float32Array[],
  model: LoadedModel,
  metrics: ServiceMetrics,
): void {
  metrics.inferenceDuration.observe(result.seconds);
  metrics.batchSize.observe(probs.length);
  for (const p of probs) {
    const best = topClasses(p, model.metadata.labels, 1);
    metrics.predictions.inc({ label: best.label, model_version: model.version });
  }
}
