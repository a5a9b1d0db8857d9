import express, { type ErrorRequestHandler, type Express, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { RelayConfig } from './config';
import { DeliveryLog } from './delivery-log';
import { DispatchError, createGitHubDispatcher, type PromotionDispatcher } from './github';
import { createRelayMetrics, type DeliveryOutcome, type RelayMetrics } from './metrics';
import { AliasCreatedDataSchema, AliasDeletedDataSchema, WebhookEnvelopeSchema } from './payload';
import { verifyMlflowSignature } from './signature';

/** The route MLflow's webhook must point at. */
export const WEBHOOK_PATH = '/webhooks/mlflow';

/** The one MLflow event that moves an environment to a new version. */
export const PROMOTING_EVENT = 'model_version_alias.created';

/** A failure with its HTTP status, error code and a message for the caller. */
export class RelayHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly outcome: DeliveryOutcome,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'RelayHttpError';
  }
}

/** What {@link createRelayApp} needs. */
export interface RelayAppDeps {
  readonly config: RelayConfig;
  readonly logger: Logger;
  /**
   * Sends the promotion to GitHub.
   * @default - `POST {GITHUB_API_URL}/repos/{GITHUB_REPOSITORY}/dispatches` with GITHUB_TOKEN
   */
  readonly dispatch?: PromotionDispatcher;
  /**
   * Metrics registry and series.
   * @default - a new registry of the relay's own
   */
  readonly metrics?: RelayMetrics;
  /**
   * Clock in milliseconds since the epoch.
   * @default Date.now
   */
  readonly now?: () => number;
  /**
   * Most delivery ids remembered for de-duplication; beyond it new deliveries get 503 until ids expire.
   * @default 10000
   */
  readonly maxRememberedDeliveries?: number;
}

const DELIVERY_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
const TIMESTAMP_PATTERN = /^\d{1,12}$/;

/**
 * Builds the webhook relay: verifies MLflow deliveries and turns alias changes into GitHub
 * `repository_dispatch` events. Never listens; see `startRelay`.
 */
export function createRelayApp(deps: RelayAppDeps): Express {
  const { config, logger } = deps;
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? createRelayMetrics();
  const dispatch =
    deps.dispatch ??
    createGitHubDispatcher({
      apiUrl: config.GITHUB_API_URL,
      repository: config.GITHUB_REPOSITORY,
      token: config.GITHUB_TOKEN,
      attempts: config.RELAY_DISPATCH_ATTEMPTS,
      timeoutMs: config.RELAY_DISPATCH_TIMEOUT_MS,
      backoffMs: config.RELAY_DISPATCH_BACKOFF_MS,
      logger,
    });
  // Keep ids at least as long as a delivery can be accepted (window + future skew), with margin.
  const ttlMs = 2 * (config.RELAY_REPLAY_WINDOW_SECONDS + config.RELAY_MAX_CLOCK_SKEW_SECONDS) * 1000;
  const deliveries = new DeliveryLog(ttlMs, deps.maxRememberedDeliveries ?? 10_000, now);

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.post(
    WEBHOOK_PATH,
    express.raw({ type: () => true, limit: config.RELAY_MAX_BODY_BYTES, inflate: false }),
    async (req: Request, res: Response) => {
      const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const { deliveryId, timestamp } = authenticate(req, rawBody);

      const claim = deliveries.claim(deliveryId);
      if (claim === 'done') {
        record('duplicate', deliveryId);
        res.status(200).json({ duplicate: true });
        return;
      }
      if (claim === 'in-progress') {
        // 503 + Retry-After, because MLflow retries 429/5xx (honouring Retry-After) but not 409.
        throw new RelayHttpError(
          503,
          'delivery_in_progress',
          'this delivery is being processed; retry later',
          'in_progress',
          { 'retry-after': '5' },
        );
      }
      if (claim === 'full') {
        throw new RelayHttpError(503, 'overloaded', 'too many recent deliveries; retry later', 'overloaded', {
          'retry-after': '60',
        });
      }

      try {
        const decision = decide(rawBody);
        if ('ignored' in decision) {
          deliveries.complete(deliveryId);
          record('ignored', deliveryId, { reason: decision.ignored, timestamp });
          res.status(200).json(decision);
          return;
        }
        const payload = { ...decision.promote, delivery_id: deliveryId };
        const end = metrics.dispatchDuration.startTimer();
        let attempts: number;
        try {
          ({ attempts } = await dispatch(payload));
        } catch (err) {
          end({ result: 'failure' });
          if (!(err instanceof DispatchError)) throw err;
          metrics.dispatchFailures.inc({
            reason: err.status === undefined ? 'network' : `http_${err.status}`,
          });
          logger.error(
            { delivery_id: deliveryId, attempts: err.attempts, reason: err.message },
            'dispatch failed',
          );
          throw new RelayHttpError(
            502,
            'dispatch_failed',
            'GitHub did not accept the repository_dispatch; retry the delivery',
            'dispatch_failed',
          );
        }
        end({ result: 'success' });
        deliveries.complete(deliveryId);
        record('dispatched', deliveryId, { ...decision.promote, attempts });
        res.status(202).json({ dispatched: decision.promote });
      } catch (err) {
        deliveries.release(deliveryId);
        throw err;
      }
    },
  );

  app.use((_req, _res) => {
    throw new RelayHttpError(
      404,
      'not_found',
      `no such endpoint; MLflow must POST to ${WEBHOOK_PATH}`,
      'invalid',
    );
  });

  const onError: ErrorRequestHandler = (err: unknown, req, res, _next) => {
    const known = toHttpError(err);
    // By the route that matched, not the path: Express also routes /webhooks/mlflow/ and /Webhooks/MLflow here.
    if ((req.route as { path?: unknown } | undefined)?.path === WEBHOOK_PATH && req.method === 'POST')
      record(known.outcome, req.get('x-mlflow-delivery-id'));
    if (known.status >= 500 && known.code === 'internal_error') {
      logger.error({ err }, 'unexpected error');
    } else if (known.status !== 404) {
      logger.warn({ status: known.status, code: known.code, path: req.path }, known.message);
    }
    res
      .status(known.status)
      .set(known.headers)
      .json({ error: { code: known.code, message: known.message } });
  };
  app.use(onError);

  return app;

  function record(outcome: DeliveryOutcome, deliveryId: string | undefined, extra: object = {}): void {
    metrics.deliveries.inc({ outcome });
    if (outcome === 'dispatched' || outcome === 'ignored' || outcome === 'duplicate') {
      logger.info({ delivery_id: deliveryId, outcome, ...extra }, `delivery ${outcome}`);
    }
  }

  /** Checks the three MLflow headers, the signature and the replay window. */
  function authenticate(req: Request, rawBody: Buffer): { deliveryId: string; timestamp: string } {
    const signature = req.get('x-mlflow-signature');
    if (!signature) {
      throw new RelayHttpError(
        401,
        'signature_missing',
        'X-MLflow-Signature header is missing: create the MLflow webhook with a secret',
        'unauthorized',
      );
    }
    const deliveryId = req.get('x-mlflow-delivery-id') ?? '';
    if (!DELIVERY_ID_PATTERN.test(deliveryId)) {
      throw new RelayHttpError(
        400,
        'invalid_header',
        'X-MLflow-Delivery-Id header is missing or malformed',
        'invalid',
      );
    }
    const timestamp = req.get('x-mlflow-timestamp') ?? '';
    if (!TIMESTAMP_PATTERN.test(timestamp)) {
      throw new RelayHttpError(
        400,
        'invalid_header',
        'X-MLflow-Timestamp header is missing or not Unix seconds',
        'invalid',
      );
    }
    if (!verifyMlflowSignature(config.MLFLOW_WEBHOOK_SECRET, deliveryId, timestamp, rawBody, signature)) {
      throw new RelayHttpError(
        401,
        'signature_invalid',
        'X-MLflow-Signature does not match: check that MLFLOW_WEBHOOK_SECRET equals the webhook secret',
        'unauthorized',
      );
    }
    const ageSeconds = Math.floor(now() / 1000) - Number(timestamp);
    if (ageSeconds > config.RELAY_REPLAY_WINDOW_SECONDS) {
      throw new RelayHttpError(
        401,
        'timestamp_expired',
        `delivery is ${ageSeconds} s old; deliveries older than ${config.RELAY_REPLAY_WINDOW_SECONDS} s are refused as replays`,
        'stale',
      );
    }
    if (-ageSeconds > config.RELAY_MAX_CLOCK_SKEW_SECONDS) {
      throw new RelayHttpError(
        401,
        'timestamp_in_future',
        `delivery is dated ${-ageSeconds} s in the future (allowed skew ${config.RELAY_MAX_CLOCK_SKEW_SECONDS} s): check the clocks`,
        'stale',
      );
    }
    return { deliveryId, timestamp };
  }

  /** Parses the payload and decides whether it promotes an environment. */
  function decide(
    rawBody: Buffer,
  ):
    | { ignored: string }
    | { promote: { environment: string; model: string; version: string; alias: string } } {
    let json: unknown;
    try {
      json = JSON.parse(rawBody.toString('utf8'));
    } catch {
      throw new RelayHttpError(400, 'malformed_json', 'the delivery body is not valid JSON', 'invalid');
    }
    const envelope = WebhookEnvelopeSchema.safeParse(json);
    if (!envelope.success) throw invalidPayload(envelope.error.issues);
    const event = `${envelope.data.entity}.${envelope.data.action}`;
    if (event === 'model_version_alias.deleted') {
      const data = AliasDeletedDataSchema.safeParse(envelope.data.data);
      if (!data.success) throw invalidPayload(data.error.issues, 'data');
      return {
        ignored: `alias '${data.data.alias}' was deleted: environments keep their pinned version until an alias is set again`,
      };
    }
    if (event !== PROMOTING_EVENT) return { ignored: `event '${event}' does not promote a model version` };
    const data = AliasCreatedDataSchema.safeParse(envelope.data.data);
    if (!data.success) throw invalidPayload(data.error.issues, 'data');
    const { name, alias, version } = data.data;
    if (name !== config.RELAY_MODEL_NAME) {
      return { ignored: `model '${name}' is not relayed (RELAY_MODEL_NAME is '${config.RELAY_MODEL_NAME}')` };
    }
    const environment = config.RELAY_ALIAS_ENVIRONMENTS.get(alias);
    if (environment === undefined) {
      return { ignored: `alias '${alias}' is not mapped to an environment (RELAY_ALIAS_ENVIRONMENTS)` };
    }
    return { promote: { environment, model: name, version, alias } };
  }
}

function invalidPayload(
  issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>,
  prefix?: string,
): RelayHttpError {
  const first = issues[0];
  const field = [prefix, ...(first?.path ?? []).map(String)].filter(Boolean).join('.') || '(body)';
  return new RelayHttpError(
    400,
    'invalid_payload',
    `'${field}' ${first?.message ?? 'is invalid'}`,
    'invalid',
  );
}

/** Maps thrown values (ours and body-parser's) to a client-safe error. */
function toHttpError(err: unknown): RelayHttpError {
  if (err instanceof RelayHttpError) return err;
  const parserError = err as { type?: unknown; status?: unknown };
  if (parserError?.type === 'entity.too.large') {
    return new RelayHttpError(
      413,
      'payload_too_large',
      'the delivery body is larger than allowed',
      'too_large',
    );
  }
  if (parserError?.type === 'encoding.unsupported') {
    return new RelayHttpError(
      415,
      'unsupported_encoding',
      'send the body without Content-Encoding',
      'invalid',
    );
  }
  if (typeof parserError?.status === 'number' && parserError.status >= 400 && parserError.status < 500) {
    return new RelayHttpError(400, 'bad_request', 'the request could not be read', 'invalid');
  }
  return new RelayHttpError(500, 'internal_error', 'internal error', 'invalid');
}
