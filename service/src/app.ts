import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import pino, { type Logger } from 'pino';
import { registerDocsRoutes } from './api/docs';
import { openApiDocument, type Json } from './api/openapi';
import {
  REQUEST_ID_PATTERN,
  TopKQuerySchema,
  feedbackRequestSchema,
  type ModelResponse,
  type PredictResponse,
} from './api/service-protocol';
import { V2_PROTOCOL, registerV2Routes } from './api/v2-routes';
import { BodyBudget } from './body-budget';
import { unansweredStatus } from './client-errors';
import { defaultConfig, defaultMaxBufferedBodyBytes } from './config';
import { admitRequest, classifyImages, requireModel } from './data-plane';
import { AppError, PredictionError, predictionAppError } from './errors';
import { PredictionMemory } from './feedback';
import { createMetrics, type ServiceMetrics } from './metrics';
import { parseJsonBody, readBody, readImages } from './request-images';
import { topClasses } from './scores';
import type { LoadedModel, ServiceState } from './state';

/** Limits and timeouts the app enforces (a subset of the service configuration). */
export interface AppLimits {
  readonly maxBodyBytes: number;
  readonly maxImagesPerRequest: number;
  readonly requestTimeoutMs: number;
  /**
   * Bytes of /predict bodies held in memory at once, over all requests; a body that would go over it is
   * refused with 503 `overloaded` + Retry-After. @default - as MAX_BUFFERED_BODY_BYTES: 4 x maxBodyBytes
   */
  readonly maxBufferedBodyBytes?: number;
}

/** Everything {@link createApp} uses; nothing is read from the environment. */
export interface AppDeps {
  readonly state: ServiceState;
  readonly limits: AppLimits;
  /** @default - a new metrics registry with the process metrics */
  readonly metrics?: ServiceMetrics;
  /** @default - pino JSON to stdout at level info */
  readonly logger?: Logger;
  /** @default - FEEDBACK_TTL_SECONDS and FEEDBACK_MAX_ENTRIES at their configuration defaults */
  readonly feedback?: PredictionMemory;
}

function defaultPredictionMemory(): PredictionMemory {
  const { feedbackTtlMs, feedbackMaxEntries } = defaultConfig();
  return new PredictionMemory({ ttlMs: feedbackTtlMs, maxEntries: feedbackMaxEntries });
}

/** Largest /feedback body: a request id and two labels need far less. */
const FEEDBACK_MAX_BYTES = 64 * 1024;

const FeedbackSchema = feedbackRequestSchema();

declare module 'express-serve-static-core' {
  interface Request {
    /** The request id (incoming X-Request-Id when well-formed, else a new UUID). */
    id: string;
    /** Epoch ms after which the request gets 504. */
    deadline: number;
    /** Aborts when the connection closes before the response was sent: the client left. */
    gone: AbortSignal;
  }
}

/**
 * Builds the Express app: GET /health, /ready, /metrics, /model, /openapi.json, /docs; POST /predict,
 * /feedback; the Open Inference Protocol under /v2. Never listens. Every error is JSON
 * `{"error":{"code","message"}}` (under /v2 the protocol's `{"error":"..."}`); 5xx bodies are generic.
 */
export function createApp(deps: AppDeps): express.Express {
  const { state, limits } = deps;
  const metrics = deps.metrics ?? createMetrics();
  const logger = deps.logger ?? pino();
  const memory = deps.feedback ?? defaultPredictionMemory();
  const bodies = new BodyBudget(
    limits.maxBufferedBodyBytes ?? defaultMaxBufferedBodyBytes(limits.maxBodyBytes),
  );
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Once draining, every answer closes its connection (also one to a request that arrived before), so a
  // client's pool stops reusing a socket the server is about to close and moves to other pods. Decided when
  // the head is written (Node's implicit head goes through writeHead too): Node then writes `Connection:
  // close` instead of `keep-alive`. Set once on this app's response prototype, not per request.
  const writeHead = app.response.writeHead as (...args: unknown[]) => Response;
  app.response.writeHead = function (this: Response, ...args: unknown[]): Response {
    if (state.draining) this.shouldKeepAlive = false;
    return writeHead.apply(this, args);
  } as Response['writeHead'];

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    const incoming = req.header('x-request-id');
    req.id = incoming && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
    req.deadline = Date.now() + limits.requestTimeoutMs;
    const gone = new AbortController();
    req.gone = gone.signal;
    res.setHeader('X-Request-Id', req.id);
    const model = state.model;
    if (model) res.setHeader('X-Model-Version', model.version);
    metrics.inFlight.inc();
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      // Closed before the response was sent: the client left (queued work for it is dropped).
      if (!res.writableFinished) gone.abort();
      metrics.inFlight.dec();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // A path's route template; 'unmatched' when no route of the app answered: an unknown path (404) or a
      // method the path does not serve (405, answered by the path's fallback, not by its own handler, so the
      // route's series, e.g. the latency SLO's, hold only its own answers). Bounded either way.
      const route =
        res.locals.errorCode === METHOD_NOT_ALLOWED
          ? 'unmatched'
          : ((req.route as { path?: string } | undefined)?.path ?? 'unmatched');
      // Never answered by the app: Node answered (a malformed or late body) or the client left first.
      const status = res.headersSent ? res.statusCode : unansweredStatus(req.socket);
      const labels = { route, method: req.method, status: String(status) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, seconds);
      const line = {
        requestId: req.id,
        method: req.method,
        route,
        status,
        latencyMs: Math.round(seconds * 10000) / 10,
        modelVersion: model?.version,
        errorCode: res.locals.errorCode as string | undefined,
        aborted: !res.writableFinished || undefined,
      };
      // Probes answering 503 while loading or draining are expected: only failed requests are warnings.
      if (status >= 500 && line.errorCode !== undefined) logger.warn(line, 'request');
      else logger.info(line, 'request');
    };
    res.on('finish', finish);
    res.on('close', finish);
    // Node would answer this itself with an empty body (the server lets it through: requireHostHeader
    // false); refused here like the other requests Node cannot take (client-errors.ts), as JSON.
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      next(
        new AppError(400, 'malformed_request', 'the request has no Host header, which HTTP/1.1 requires', {
          Connection: 'close',
        }),
      );
      return;
    }
    next();
  });

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/ready', (_req, res) => {
    const reason = state.notReadyReason();
    if (reason) res.status(503).json({ status: 'not_ready', reason });
    else res.json({ status: 'ready' });
  });

  app.get('/metrics', async (_req, res) => {
    const model = state.model;
    metrics.modelInfo.reset();
    if (model) {
      metrics.modelInfo.set({ name: model.name, version: model.version, sha256: model.sha256 }, 1);
      metrics.modelLoadDuration.set(model.loadSeconds);
      metrics.queueDepth.set(model.engine.queueDepth);
    }
    const text = await metrics.registry.metrics();
    res.type(metrics.registry.contentType).send(text);
  });

  app.get('/model', (_req, res) => {
    const model = requireModel(state.model);
    const { metadata, engine } = model;
    const body: ModelResponse = {
      name: model.name,
      version: model.version,
      sha256: model.sha256,
      metadataSha256: model.metadataSha256,
      files: model.files,
      input: {
        name: metadata.input.name,
        shape: [engine.io.fixedBatch ?? 'batch', ...engine.io.imageShape],
        type: 'float32',
        layout: metadata.input.layout,
        channelOrder: metadata.input.channelOrder,
      },
      output: { ...metadata.output, classes: engine.io.classes },
      labels: metadata.labels,
      preprocessing: metadata.preprocessing,
      loadedAt: model.loadedAt.toISOString(),
      loadSeconds: model.loadSeconds,
    };
    res.json(body);
  });

  // The document depends on the model only: built once per loaded model.
  const documents = new WeakMap<LoadedModel, Json>();
  app.get('/openapi.json', (_req, res) => {
    const model = requireModel(state.model);
    let doc = documents.get(model);
    if (!doc) {
      doc = openApiDocument(model);
      documents.set(model, doc);
    }
    res.json(doc);
  });

  registerDocsRoutes(app);

  app.post('/predict', async (req, res) => {
    const model = requireModel(state.model);
    const { metadata } = model;
    const topK = parseTopK(req.query.top_k, metadata.labels.length);
    const reserve = admitRequest(model, bodies, res);
    const images = await readImages(req, {
      maxBodyBytes: limits.maxBodyBytes,
      maxImages: limits.maxImagesPerRequest,
      reserve,
    });
    const probs = await classifyImages(req, model, images, metrics);
    const predictions = probs.map((p, i) => {
      const scores = topClasses(p, metadata.labels, topK);
      const id = images.length === 1 ? req.id : `${req.id}:${i}`;
      memory.remember(id, scores.label, model.version);
      return { id, ...scores, topK: [...scores.topK] };
    });
    const body: PredictResponse = {
      requestId: req.id,
      model: { name: model.name, version: model.version },
      predictions,
    };
    res.json(body);
  });

  app.post('/feedback', async (req, res) => {
    const model = requireModel(state.model);
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') {
      throw new AppError(
        415,
        'unsupported_media_type',
        'send application/json {"requestId":"...","label":"..."}',
      );
    }
    const body = await readBody(req, FEEDBACK_MAX_BYTES, { limitName: 'the /feedback limit' });
    const parsed = FeedbackSchema.safeParse(parseJsonBody(body));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new AppError(
        400,
        'invalid_request',
        `'${issue?.path.join('.') || '(root)'}' ${issue?.message}: expected {"requestId":"...","label":"...","predictedLabel"?:"..."}`,
      );
    }
    const { requestId, label, predictedLabel } = parsed.data;
    const labels = model.metadata.labels;
    for (const [field, value] of [
      ['label', label],
      ['predictedLabel', predictedLabel],
    ] as const) {
      if (value !== undefined && !labels.includes(value)) {
        const shown = labels.length <= 20 ? labels.join(', ') : `${labels.slice(0, 20).join(', ')}, …`;
        throw new AppError(
          400,
          'unknown_label',
          `'${field}' '${value}' is not a label of the model (${shown})`,
        );
      }
    }
    const found = memory.lookup(requestId);
    if (found.status === 'unknown') {
      throw new AppError(404, 'prediction_not_found', `no recent prediction has id '${requestId}'`);
    }
    if (found.status === 'expired') {
      throw new AppError(
        410,
        'prediction_expired',
        `prediction '${requestId}' is older than FEEDBACK_TTL_SECONDS`,
      );
    }
    const prediction = found.prediction;
    if (predictedLabel !== undefined && predictedLabel !== prediction.predictedLabel) {
      throw new AppError(
        409,
        'prediction_mismatch',
        `prediction '${requestId}' was '${prediction.predictedLabel}', not '${predictedLabel}'`,
      );
    }
    const counted = memory.countFeedback(requestId);
    if (counted) {
      metrics.feedback.inc({
        model_version: prediction.modelVersion,
        true_label: label,
        predicted_label: prediction.predictedLabel,
      });
    }
    res.json({ requestId, label, predictedLabel: prediction.predictedLabel, counted });
  });

  registerV2Routes(app, { state, metrics, bodies, limits });

  // After the last route: it reads the routes registered above.
  registerMethodNotAllowed(app);

  app.use((_req, _res, next) => {
    next(
      new AppError(
        404,
        'not_found',
        'no such endpoint: see GET /health, /ready, /metrics, /model, /openapi.json, /docs, /v2/…, ' +
          'POST /predict, /feedback',
      ),
    );
  });

  // One error handler for everything, registered last.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const appError = toAppError(err, req);
    // The 500 body is generic, so the cause is only in the log (503/504 are capacity, not faults).
    if (appError.status === 500) logger.error({ requestId: req.id, err }, 'request failed');
    metrics.errors.inc({ reason: appError.code });
    res.locals.errorCode = appError.code;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(appError.status).set(appError.headers);
    const message =
      appError.status >= 500 && appError.status !== 503 && appError.status !== 504
        ? 'internal error'
        : appError.message;
    // The Open Inference Protocol's error body is a bare message; the code stays in logs and metrics.
    if (res.locals.protocol === V2_PROTOCOL) res.json({ error: message });
    else res.json({ error: { code: appError.code, message } });
  });

  return app;
}

/** The error code of a 405, the answer to a method its path does not serve. */
const METHOD_NOT_ALLOWED = 'method_not_allowed';

/** What `app.router` lists (router ≥ 2.3, `listRoutes`); typed here because @types/express omits it. */
interface RouteListing {
  // Every route here is a string path registered with get/post, so each listed route has both.
  listRoutes?(): ReadonlyArray<{ readonly path: string; readonly methods: readonly string[] }>;
}

/**
 * Gives every path registered so far a fallback for the methods it does not serve: 405 with `Allow`
 * (RFC 9110 §15.5.6) naming the path's methods, read from the router's own routes (HEAD wherever GET is,
 * as Express serves it), so the list follows the routes. Registered after them, so the path's own
 * handlers come first; the error body has the path's shape (under /v2 the protocol's).
 */
function registerMethodNotAllowed(app: express.Express): void {
  const router = app.router as unknown as RouteListing;
  if (typeof router.listRoutes !== 'function') {
    throw new Error('the router cannot list its routes (router.listRoutes): express needs router ≥ 2.3');
  }
  const allowed = new Map<string, string[]>();
  for (const { path, methods } of router.listRoutes()) {
    allowed.set(path, [...new Set([...(allowed.get(path) ?? []), ...methods])]);
  }
  for (const [path, methods] of allowed) {
    const list = methods.join(', ');
    app.all(path, (req) => {
      throw new AppError(
        405,
        METHOD_NOT_ALLOWED,
        `method ${req.method} is not allowed on '${req.path.slice(0, 200)}': use ${methods.join(' or ')}`,
        { Allow: list },
      );
    });
  }
}

function parseTopK(value: unknown, classes: number): number {
  const fallback = classes <= 10 ? classes : 5;
  if (value === undefined) return fallback;
  const parsed = TopKQuerySchema.safeParse(value);
  if (!parsed.success || parsed.data < 1) {
    throw new AppError(400, 'invalid_top_k', `'top_k' must be a whole number from 1 to ${classes}`);
  }
  return Math.min(parsed.data, classes);
}

/**
 * Maps anything thrown to an AppError: prediction errors by their code, a path that does not decode to 404,
 * Express/body errors keep their 4xx status, the rest is 500.
 */
function toAppError(err: unknown, req: Request): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof PredictionError) return predictionAppError(err);
  // The router's "Failed to decode param": a path parameter that is not percent-encoded UTF-8 names no
  // model, version or file, so the path is not found (as any other unknown path).
  if (err instanceof URIError && (err as { status?: unknown }).status === 400) {
    return new AppError(
      404,
      'not_found',
      `no such path: '${req.path.slice(0, 200)}' is not valid percent-encoded UTF-8`,
    );
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return new AppError(
      400,
      'client_aborted',
      'the client closed the connection before sending the whole body',
    );
  }
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new AppError(status, 'bad_request', (err as Error).message ?? 'bad request');
  }
  return new AppError(500, 'internal_error', 'internal error');
}
