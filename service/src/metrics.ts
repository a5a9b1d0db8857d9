import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Latency buckets in seconds, 1 ms to 10 s, shared by every duration histogram. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Buckets of the images-per-inference histogram. */
export const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64];

/** The service's Prometheus metrics, registered in their own {@link Registry} (never the global one). */
export interface ServiceMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  readonly httpDuration: Histogram<'route' | 'method' | 'status'>;
  readonly inFlight: Gauge;
  readonly preprocessDuration: Histogram;
  readonly inferenceDuration: Histogram;
  readonly batchSize: Histogram;
  readonly queueDepth: Gauge;
  readonly predictions: Counter<'label' | 'model_version'>;
  readonly errors: Counter<'reason'>;
  readonly modelInfo: Gauge<'name' | 'version' | 'sha256'>;
  readonly modelLoadDuration: Gauge;
  readonly feedback: Counter<'model_version' | 'true_label' | 'predicted_label'>;
}

/**
 * Creates the registry and every metric. `defaultMetrics: false` skips prom-client's process metrics
 * (useful when many apps share one test process).
 */
export function createMetrics(opts: { readonly defaultMetrics?: boolean } = {}): ServiceMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by route, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency from arrival to response end.',
      labelNames: ['route', 'method', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    inFlight: new Gauge({ name: 'http_requests_in_flight', help: 'HTTP requests being served.', registers }),
    preprocessDuration: new Histogram({
      name: 'inference_preprocess_duration_seconds',
      help: 'Decode + resize + normalise time per request (all its images).',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    inferenceDuration: new Histogram({
      name: 'inference_duration_seconds',
      help: 'Model run time per batch, in the worker.',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    batchSize: new Histogram({
      name: 'inference_batch_size',
      help: 'Images per model run.',
      buckets: BATCH_BUCKETS,
      registers,
    }),
    queueDepth: new Gauge({
      name: 'inference_queue_depth',
      help: 'Requests waiting for an inference worker.',
      registers,
    }),
    predictions: new Counter({
      name: 'inference_predictions_total',
      help: 'Predictions by top label and model version.',
      labelNames: ['label', 'model_version'],
      registers,
    }),
    errors: new Counter({
      name: 'inference_errors_total',
      help: 'Failed requests by reason (the error code).',
      labelNames: ['reason'],
      registers,
    }),
    modelInfo: new Gauge({
      name: 'model_info',
      help: 'The loaded model (value 1).',
      labelNames: ['name', 'version', 'sha256'],
      registers,
    }),
    modelLoadDuration: new Gauge({
      name: 'model_load_duration_seconds',
      help: 'Time to read, validate and warm up the model.',
      registers,
    }),
    feedback: new Counter({
      name: 'inference_feedback_total',
      help: 'Feedback on predictions: confusion counts by true and predicted label.',
      labelNames: ['model_version', 'true_label', 'predicted_label'],
      registers,
    }),
  };
}
