import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type DestinationStream, type Logger } from 'pino';
import { createRelayApp, type RelayAppDeps } from './app';
import { RelayConfigError, dispatchBudgetMs, type RelayConfig } from './config';

/** A listening relay. */
export interface RunningRelay {
  readonly server: Server;
  /** `http://host:port` it listens on. */
  readonly url: string;
  /**
   * Stops accepting connections and waits for in-flight deliveries, by default as long as one dispatch may
   * take (every attempt, see {@link dispatchBudgetMs}) and a second more, so none is cut off half-way: a
   * delivery MLflow saw fail would be delivered again to the next relay and dispatched twice.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** Paths pino blanks out should a token or secret ever reach a log call. */
const REDACT_PATHS = [
  'authorization',
  'token',
  'secret',
  '*.authorization',
  '*.token',
  '*.secret',
  'headers.authorization',
  'req.headers.authorization',
  'GITHUB_TOKEN',
  'MLFLOW_WEBHOOK_SECRET',
  '*.GITHUB_TOKEN',
  '*.MLFLOW_WEBHOOK_SECRET',
];

/** The relay's pino logger: JSON lines, secrets redacted. */
export function createRelayLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, base: { service: 'model-gitops-relay' }, redact: REDACT_PATHS };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Starts the relay on `config.HOST:config.PORT` (port 0 picks a free one). Slow or endless request
 * bodies are cut off by the server's request timeout.
 */
export async function startRelay(
  config: RelayConfig,
  logger: Logger,
  deps: Omit<RelayAppDeps, 'config' | 'logger'> = {},
): Promise<RunningRelay> {
  const app = createRelayApp({ ...deps, config, logger });
  const server = app.listen(config.PORT, config.HOST);
  server.requestTimeout = 15_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (err) =>
      reject(
        new RelayConfigError(`cannot listen on ${config.HOST}:${config.PORT} (HOST, PORT): ${err.message}`),
      ),
    );
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info(
    {
      url,
      repository: config.GITHUB_REPOSITORY,
      model: config.RELAY_MODEL_NAME,
      aliases: Object.fromEntries(config.RELAY_ALIAS_ENVIRONMENTS),
    },
    'relay listening',
  );
  return {
    server,
    url,
    close: (timeoutMs = dispatchBudgetMs(config) + 1_000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
        // A keep-alive connection turns idle when its delivery is answered: close it then, not after
        // keepAliveTimeout.
        const idle = setInterval(() => server.closeIdleConnections(), 100);
        server.close(() => {
          clearTimeout(timer);
          clearInterval(idle);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
