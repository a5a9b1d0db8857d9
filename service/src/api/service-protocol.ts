/**
 * The service's own HTTP API (`/health`, `/ready`, `/predict`, `/model`, `/feedback`) as data models: the
 * routes in `app.ts` validate with these schemas and `openapi.ts` generates the OpenAPI document from the
 * very same ones. Model-specific parts (the labels) are parameters, so the document names the loaded
 * model's labels while validation stays as lenient as the error codes promise.
 */
import { z } from 'zod';
import { ModelMetadataSchema } from '../model/format';

/** Liveness body. */
export const HealthResponseSchema = z.object({ status: z.literal('ok') });

/** Readiness body: 200 ready, or 503 with the reason. */
export const ReadyResponseSchema = z.object({ status: z.literal('ready') });
export const NotReadyResponseSchema = z.object({
  status: z.literal('not_ready'),
  reason: z.enum(['model_loading', 'draining', 'no_inference_worker']),
});

/** `POST /predict` with `application/json`: base64 images. */
export const PredictJsonRequestSchema = z
  .object({
    instances: z
      .array(
        z
          .object({
            b64: z
              .string()
              .min(1, 'must not be empty')
              .describe('the image file (JPEG, PNG or WebP), base64 encoded'),
          })
          .strict(),
      )
      .min(1, 'must hold at least one image')
      .describe('the images, at most MAX_IMAGES_PER_REQUEST'),
  })
  .strict();

/** `?top_k=`: a whole number (1 … classes; larger values mean every class). */
export const TopKQuerySchema = z
  .string()
  .regex(/^[0-9]{1,6}$/, 'must be a whole number')
  .transform(Number)
  .describe('classes per prediction in `topK` (default: every class when the model has at most 10, else 5)');

/** A class label: any string, or in the document the loaded model's labels. */
export function labelSchema(labels?: readonly string[]): z.ZodType<string> {
  return labels ? z.enum([...new Set(labels)] as [string, ...string[]]) : z.string();
}

/** One class and its probability. */
export function classScoreSchema(labels?: readonly string[]) {
  return z.object({
    label: labelSchema(labels),
    index: z
      .number()
      .int()
      .min(0)
      .max(labels ? labels.length - 1 : Number.MAX_SAFE_INTEGER)
      .describe("the class's position in the model output (labels may repeat)"),
    score: z.number().min(0).max(1).describe('probability (float32; softmax applied for logits models)'),
  });
}

/**
 * An incoming X-Request-Id the service keeps (any other gets a new UUID). No `:`: it separates a batch's
 * prediction ids, `<requestId>:<index>`, so a kept id can never equal another request's prediction id.
 */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** `POST /predict` answer. */
export function predictResponseSchema(labels?: readonly string[]) {
  const score = classScoreSchema(labels);
  return z.object({
    requestId: z.string().describe('the X-Request-Id of this request'),
    model: z.object({ name: z.string(), version: z.string() }),
    predictions: z
      .array(
        z.object({
          id: z
            .string()
            .describe('id for POST /feedback: the request id, or `<requestId>:<index>` for several images'),
          ...score.shape,
          topK: z.array(score).min(1).describe('the best classes, best first (ties: lower index first)'),
        }),
      )
      .describe('one per image, in request order'),
  });
}
export type PredictResponse = z.infer<ReturnType<typeof predictResponseSchema>>;

/** `GET /model` answer. */
export function modelResponseSchema(labels?: readonly string[]) {
  return z.object({
    name: z.string(),
    version: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    metadataSha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .describe('sha256 of the resolved serving description (canonical JSON)'),
    files: z
      .record(z.string(), z.string().regex(/^[0-9a-f]{64}$/))
      .describe('sha256 of every file the service read, by file name: what the pin lists'),
    input: z.object({
      name: z.string(),
      shape: z
        .array(z.union([z.number().int(), z.literal('batch')]))
        .describe('[batch, …image] in the model layout; `batch` when any batch size works'),
      type: z.literal('float32'),
      layout: z.enum(['NCHW', 'NHWC']),
      channelOrder: z.enum(['RGB', 'BGR']),
    }),
    output: z.object({
      name: z.string(),
      kind: z.enum(['logits', 'probabilities']),
      classes: z.number().int().min(1),
    }),
    labels: z.array(labelSchema(labels)).describe('class labels in output order'),
    preprocessing: ModelMetadataSchema.shape.preprocessing,
    loadedAt: z.iso.datetime(),
    loadSeconds: z.number().min(0),
  });
}
export type ModelResponse = z.infer<ReturnType<typeof modelResponseSchema>>;

/** `POST /feedback` body; labels are checked against the model by the route (400 `unknown_label`). */
export function feedbackRequestSchema(labels?: readonly string[]) {
  const label = labels ? labelSchema(labels) : z.string().min(1).max(200);
  return z
    .object({
      requestId: z.string().min(1).max(200).describe('a prediction id from /predict'),
      label: label.describe('the true label'),
      predictedLabel: label.optional().describe('if given, must be what was predicted (409 otherwise)'),
    })
    .strict();
}

/** `POST /feedback` answer. */
export function feedbackResponseSchema(labels?: readonly string[]) {
  return z.object({
    requestId: z.string(),
    label: labelSchema(labels),
    predictedLabel: labelSchema(labels),
    counted: z.boolean().describe('false when feedback for this id was already counted'),
  });
}

/** The service's error body (the Open Inference Protocol routes use their own, see `v2-protocol.ts`). */
export function errorBodySchema(codes: readonly string[]) {
  return z.object({
    error: z.object({
      code: z.enum(codes as [string, ...string[]]),
      message: z.string().describe('what was wrong and how to fix it (5xx other than 503/504: generic)'),
    }),
  });
}

/** HTTP status → error codes, as a route documents them. */
export type ErrorCatalog = Readonly<Record<number, readonly string[]>>;

/** 503 codes of every route that needs the model or the inference workers. */
const CAPACITY_503 = ['not_ready', 'queue_full', 'overloaded', 'shutting_down', 'no_inference_worker'];

/** Errors of `POST /predict`. */
export const PREDICT_ERRORS: ErrorCatalog = {
  400: [
    'image_empty',
    'image_undecodable',
    'invalid_json',
    'invalid_base64',
    'invalid_request',
    'invalid_multipart',
    'invalid_top_k',
    'client_aborted',
  ],
  413: ['body_too_large', 'too_many_images', 'too_many_parts'],
  415: ['unsupported_media_type'],
  422: ['image_too_large'],
  500: ['internal_error', 'inference_failed'],
  503: CAPACITY_503,
  504: ['timeout'],
};

/** Errors of `POST /feedback`. */
export const FEEDBACK_ERRORS: ErrorCatalog = {
  400: ['invalid_json', 'invalid_request', 'unknown_label', 'client_aborted'],
  404: ['prediction_not_found'],
  409: ['prediction_mismatch'],
  410: ['prediction_expired'],
  413: ['body_too_large'],
  415: ['unsupported_media_type'],
  503: ['not_ready'],
};

/** Errors of the GET routes that need the model (`/model`, `/openapi.json`). */
export const MODEL_ERRORS: ErrorCatalog = { 503: ['not_ready'] };
