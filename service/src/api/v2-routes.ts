/**
 * The Open Inference Protocol's REST endpoints: each route only translates HTTP to the data plane
 * (`data-plane.ts`) and back, with the data models of `v2-protocol.ts`. Same admission, queue, limits,
 * metrics and logs as /predict; errors are rendered as the protocol's `{"error": "..."}` by the app's one
 * error handler (every path under /v2 is marked as such).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Express, Request } from 'express';
import type { BodyBudget } from '../body-budget';
import { SERVICE_DIR } from '../config';
import { admitRequest, classifyImages, classifyTensor, requireModel } from '../data-plane';
import { AppError } from '../errors';
import type { ServiceMetrics } from '../metrics';
import { parseJsonBody, readBody } from '../request-images';
import type { ServiceState } from '../state';
import {
  SERVER_EXTENSIONS,
  SERVER_NAME,
  checkModelPath,
  decodeInput,
  decodeOutputs,
  encodeOutputs,
  modelMetadata,
  parseInferenceRequest,
  type InferenceResponse,
  type ModelReadyResponse,
  type ServerLiveResponse,
  type ServerMetadataResponse,
  type ServerReadyResponse,
} from './v2-protocol';

/** What the v2 routes share with the rest of the app. */
export interface V2RoutesDeps {
  readonly state: ServiceState;
  readonly metrics: ServiceMetrics;
  readonly bodies: BodyBudget;
  readonly limits: {
    readonly maxBodyBytes: number;
    readonly maxImagesPerRequest: number;
  };
}

/** `res.locals.protocol` of requests under /v2: the error handler renders `{"error": "..."}`. */
export const V2_PROTOCOL = 'open-inference-v2';

/** The kit's version (package.json next to service/), reported by `GET /v2`. */
const SERVER_VERSION = (
  JSON.parse(readFileSync(resolve(SERVICE_DIR, '..', 'package.json'), 'utf8')) as { version: string }
).version;

/** One path for both forms: `/v2/models/{name}` and `/v2/models/{name}/versions/{version}`. */
const MODEL_PATH = '/v2/models/:name{/versions/:version}';

/** Adds the /v2 routes to `app` (before its 404 and error handlers). */
export function registerV2Routes(app: Express, deps: V2RoutesDeps): void {
  const { state, metrics, bodies, limits } = deps;

  app.use('/v2', (_req, res, next) => {
    res.locals.protocol = V2_PROTOCOL;
    next();
  });

  app.get('/v2', (_req, res) => {
    const body: ServerMetadataResponse = {
      name: SERVER_NAME,
      version: SERVER_VERSION,
      extensions: [...SERVER_EXTENSIONS],
    };
    res.json(body);
  });

  app.get('/v2/health/live', (_req, res) => {
    res.json({ live: true } satisfies ServerLiveResponse);
  });

  app.get('/v2/health/ready', (_req, res) => {
    const ready = state.notReadyReason() === null;
    res.status(ready ? 200 : 503).json({ ready } satisfies ServerReadyResponse);
  });

  app.get(MODEL_PATH, (req, res) => {
    const model = modelFor(req);
    res.json(modelMetadata(model));
  });

  // Answers while the model loads too: the name and version are known from the start.
  app.get(`${MODEL_PATH}/ready`, (req, res) => {
    checkPath(req);
    const ready = state.notReadyReason() === null;
    res.status(ready ? 200 : 503).json({ name: state.served.name, ready } satisfies ModelReadyResponse);
  });

  app.post(`${MODEL_PATH}/infer`, async (req, res) => {
    const model = modelFor(req);
    // The header announces a body in the binary tensor extension's format (a JSON header, then raw
    // tensor bytes), whatever the Content-Type says: a format this server does not take, so 415 too.
    if (req.headers['inference-header-content-length'] !== undefined) {
      throw new AppError(
        415,
        'unsupported_media_type',
        'the binary tensor extension (Inference-Header-Content-Length) is not supported: send the tensors as JSON without that header',
      );
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (type !== '' && type !== 'application/json') {
      throw new AppError(
        415,
        'unsupported_media_type',
        `Content-Type '${type}' is not accepted: send application/json (the binary tensor extension is not supported)`,
      );
    }
    const reserve = admitRequest(model, bodies, res);
    const body = await readBody(req, limits.maxBodyBytes, { reserve });
    const request = parseInferenceRequest(parseJsonBody(body));
    const input = decodeInput(request, model, limits.maxImagesPerRequest);
    const outputs = decodeOutputs(request, model.metadata.labels.length);
    const probs =
      input.kind === 'tensor'
        ? await classifyTensor(req, model, input.batch, input.count, metrics)
        : await classifyImages(req, model, input.images, metrics, (i) => `'inputs.0.data.${i}'`);
    const response: InferenceResponse = {
      model_name: model.name,
      model_version: model.version,
      ...(request.id !== undefined && { id: request.id }),
      outputs: encodeOutputs(probs, outputs, model.metadata.labels),
    };
    res.json(response);
  });

  /** 404 unless the path names the served model (and version), loaded or not. */
  function checkPath(req: Request): void {
    const params = req.params as { name: string; version?: string };
    checkModelPath(state.served, params.name, params.version);
  }

  /** The loaded model when the path names it (404 otherwise, loading or not), 503 while it loads. */
  function modelFor(req: Request): ReturnType<typeof requireModel> {
    checkPath(req);
    return requireModel(state.model);
  }
}
