/**
 * An error the client can act on: an HTTP status, a stable machine-readable code and a message that says
 * what was wrong. The error middleware turns it into `{"error":{"code","message"}}`.
 */
export class AppError extends Error {
  /**
   * @param status HTTP status (4xx for the client's mistakes, 503/504 for capacity and time)
   * @param code stable snake_case code, also the `reason` label of `inference_errors_total`
   * @param message human-readable explanation; never contains secrets or image bytes
   * @param headers extra response headers, e.g. Retry-After
   */
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/** Why a prediction could not be made, whatever protocol asked for it. */
export type PredictionErrorCode =
  /** The image has no bytes. */
  | 'image_empty'
  /** Not JPEG/PNG/WebP by its first bytes, corrupt or truncated. */
  | 'image_undecodable'
  /** More pixels than MAX_IMAGE_PIXELS (from the header, before decoding). */
  | 'image_too_large'
  /** Every worker busy and the queue full. */
  | 'queue_full'
  /** The pool is closing. */
  | 'shutting_down'
  /** No worker runs (a crashed one is being replaced, or the pool gave up). */
  | 'no_inference_worker'
  /** The deadline passed before the answer. */
  | 'timeout'
  /** The client left before a worker took the job: it was dropped from the queue. */
  | 'client_gone'
  /** The model run failed or its worker stopped. */
  | 'inference_failed';

/**
 * A prediction the engine could not make (decoding, capacity, time, the model run): a domain error with a
 * stable code, free of HTTP. The HTTP edge maps codes to statuses ({@link PREDICTION_ERROR_STATUS}).
 */
export class PredictionError extends Error {
  constructor(
    readonly code: PredictionErrorCode,
    message: string,
    /** Set when trying again soon (or elsewhere) may succeed. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'PredictionError';
  }
}

/** A {@link PredictionError} about one image of a batch: which one. */
export class ImageError extends PredictionError {
  constructor(
    /** Index of the image in its batch. */
    readonly index: number,
    code: PredictionErrorCode,
    message: string,
  ) {
    super(code, message);
    this.name = 'ImageError';
  }
}

/** The HTTP status of each prediction error: the one place the domain meets HTTP. */
export const PREDICTION_ERROR_STATUS: Readonly<Record<PredictionErrorCode, number>> = {
  image_empty: 400,
  image_undecodable: 400,
  image_too_large: 422,
  queue_full: 503,
  shutting_down: 503,
  no_inference_worker: 503,
  timeout: 504,
  // Never seen by the client, who left. The request is logged and counted with 499 by the request's close
  // handler (client-errors.ts, unansweredStatus), before this answer is written to a closed socket.
  client_gone: 499,
  inference_failed: 500,
};

/** The AppError a prediction error answers with (status from the table, Retry-After when set). */
export function predictionAppError(err: PredictionError): AppError {
  const headers: Record<string, string> =
    err.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(err.retryAfterSeconds) };
  return new AppError(PREDICTION_ERROR_STATUS[err.code], err.code, err.message, headers);
}
