/**
 * The service process: reads the environment, reads the model files and starts the inference workers
 * loading them, then (while they load, on the other cores) loads the HTTP stack and listens, so /health
 * answers during the load; turns ready when every worker has warmed up; on SIGTERM/SIGINT drains and
 * exits 0. The only file that reads process.env or listens.
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { answerClientError } from './client-errors';
import { ConfigError, SERVICE_NAME, loadConfig, type ServiceConfig } from './config';
import { PredictionMemory } from './feedback';
import { InferencePool } from './inference/pool';
import { readModelFiles } from './model/format';
import { configureSharp } from './preprocess';
import { ServiceState } from './state';

async function main(): Promise<void> {
  let config: ServiceConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const started = process.hrtime.bigint();
  const files = await readModelFiles(config.modelDir, {
    sha256: config.modelSha256,
    files: config.modelFiles,
  });
  // Workers are threads: they load onnxruntime and the model while this thread loads Express below.
  const poolReady = InferencePool.start({
    files,
    workers: config.inferenceWorkers,
    settings: { intraOpNumThreads: config.intraOpThreads, interOpNumThreads: config.interOpThreads },
    queueMax: config.queueMax,
    maxImagePixels: config.maxImagePixels,
  });
  poolReady.catch(() => undefined); // awaited (and reported) below

  const state = new ServiceState({ name: config.modelName, version: config.modelVersion });
  let http: { server: Server; logger: Logger };
  try {
    http = await listen(config, state);
  } catch (err) {
    // The workers are still loading the model: a process that exits under them aborts in ONNX Runtime's
    // teardown (SIGABRT, exit 134) instead of exiting 1 with the reason.
    await poolReady.then(
      (pool) => pool.close(),
      () => undefined,
    );
    throw err;
  }
  const { server, logger } = http;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, host: config.host }, 'listening');

  let pool: InferencePool | null = null;
  let stopping = false;
  const stop = (reason: string, exitCode: number): void => {
    if (stopping) return;
    stopping = true;
    void shutdown(reason, exitCode, config, server, state, () => pool, logger);
  };
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));

  pool = await poolReady;
  if (stopping) return;
  pool.on('worker-exit', (info) => logger.error(info, 'inference worker exited'));
  pool.on('worker-restart', (info) => logger.info(info, 'inference worker replaced'));
  pool.on('restart-failed', (info) => logger.error(info, 'inference worker replacement failed'));
  // No worker left and none coming back: exit non-zero (after the drain) so the kubelet restarts the pod.
  pool.on('failed', (info) => {
    logger.fatal(info, 'every inference worker failed; stopping');
    stop('inference workers failed', 1);
  });
  const loadSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  state.setModel({
    sha256: files.sha256,
    metadataSha256: files.metadataSha256,
    files: files.files,
    metadata: files.metadata,
    loadedAt: new Date(),
    loadSeconds,
    engine: pool,
  });
  logger.info(
    {
      model: config.modelName,
      version: config.modelVersion,
      sha256: files.sha256,
      workers: config.inferenceWorkers,
      loadSeconds,
    },
    'ready',
  );
}

/** Loads the HTTP stack (while the inference workers load the model) and listens. */
async function listen(
  config: ServiceConfig,
  state: ServiceState,
): Promise<{ server: Server; logger: Logger }> {
  const [{ createApp }, { createMetrics }, { default: pino }] = await Promise.all([
    import('./app'),
    import('./metrics'),
    import('pino'),
  ]);
  const logger = pino({ level: config.logLevel, base: { service: SERVICE_NAME } });
  configureSharp(config.sharpConcurrency);
  const app = createApp({
    state,
    metrics: createMetrics(),
    logger,
    limits: {
      maxBodyBytes: config.maxBodyBytes,
      maxBufferedBodyBytes: config.maxBufferedBodyBytes,
      maxImagesPerRequest: config.maxImagesPerRequest,
      requestTimeoutMs: config.requestTimeoutMs,
    },
    feedback: new PredictionMemory({ ttlMs: config.feedbackTtlMs, maxEntries: config.feedbackMaxEntries }),
  });
  const server = createServer(
    {
      // A client that has not sent its headers (or its whole request) in time gets 408 from Node and its
      // connection is closed, so slow clients cannot hold sockets, admission places or body memory.
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      keepAliveTimeout: config.keepAliveTimeoutMs,
      // Node checks those timeouts on this interval (default 30 s, which let a slow body live ~40 s).
      connectionsCheckingInterval: connectionsCheckingIntervalMs(config),
      // An HTTP/1.1 request without Host reaches the app, which refuses it with a JSON 400 (Node's own has
      // an empty body).
      requireHostHeader: false,
    },
    app,
  );
  server.on('clientError', answerClientError);
  server.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (err) =>
      reject(new Error(`cannot listen on ${config.host}:${config.port} (HOST, PORT): ${err.message}`)),
    );
  });
  return { server, logger };
}

/**
 * How often Node looks for connections past HEADERS_TIMEOUT_MS / REQUEST_TIMEOUT_MS: a quarter of the
 * shorter one, from 100 ms to 1 s, so a slow client is cut off at most that long after its deadline.
 */
function connectionsCheckingIntervalMs(config: ServiceConfig): number {
  const shorter = Math.min(config.headersTimeoutMs, config.requestTimeoutMs);
  return Math.max(100, Math.min(1_000, Math.floor(shorter / 4)));
}

/**
 * Readiness 503 at once, keep serving DRAIN_DELAY_MS, stop accepting, wait for in-flight work, exit with
 * `exitCode` (0 after a signal).
 */
async function shutdown(
  reason: string,
  exitCode: number,
  config: ServiceConfig,
  server: Server,
  state: ServiceState,
  pool: () => InferencePool | null,
  logger: Logger,
): Promise<void> {
  state.startDraining();
  logger.info({ reason, drainDelayMs: config.drainDelayMs }, 'draining');
  await new Promise((resolve) => setTimeout(resolve, config.drainDelayMs));
  const force = setTimeout(() => {
    logger.warn(
      { shutdownTimeoutMs: config.shutdownTimeoutMs },
      'in-flight requests did not finish in time; exiting',
    );
    process.exit(1);
  }, config.shutdownTimeoutMs);
  force.unref();
  await new Promise<void>((resolve) => {
    // close() also closes idle keep-alive connections (Node ≥ 19); one busy now closes once answered, since every
    // answer while draining says `Connection: close` (app.ts), rather than after KEEP_ALIVE_TIMEOUT_MS (65 s by
    // default, past SHUTDOWN_TIMEOUT_MS: the process exited 1).
    server.close(() => resolve());
  });
  await pool()?.close();
  logger.info({ exitCode }, 'stopped');
  clearTimeout(force);
  process.exit(exitCode);
}

main().catch((err: unknown) => {
  process.stderr.write(`cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
