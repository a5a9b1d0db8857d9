import { Command, Option } from 'commander';
import { RelayConfigError, loadRelayConfig, relayDefault } from './config';

/** Options given on the command line; each overrides its environment variable. */
interface RelayOptions {
  port?: string;
  host?: string;
  modelName?: string;
  aliasEnvironments?: string;
  githubRepository?: string;
  githubApiUrl?: string;
  logLevel?: string;
}

/**
 * Adds `relay` to the CLI: runs the MLflow webhook → GitHub repository_dispatch relay until SIGTERM or
 * SIGINT. Secrets (MLFLOW_WEBHOOK_SECRET, GITHUB_TOKEN) come only from the environment, never from flags,
 * so they do not show up in process listings.
 */
export function registerRelayCommand(program: Command): Command {
  return program
    .command('relay')
    .description(
      'receive MLflow registry webhooks (alias set) and trigger the promotion workflow via GitHub repository_dispatch',
    )
    .addOption(new Option('--port <port>', `port to listen on (default ${relayDefault('PORT')})`).env('PORT'))
    .addOption(
      new Option('--host <address>', `address to listen on (default ${relayDefault('HOST')})`).env('HOST'),
    )
    .addOption(
      new Option(
        '--model-name <name>',
        `registered model to relay (default ${relayDefault('RELAY_MODEL_NAME')})`,
      ).env('RELAY_MODEL_NAME'),
    )
    .addOption(
      new Option(
        '--alias-environments <map>',
        `alias=environment pairs (default ${relayDefault('RELAY_ALIAS_ENVIRONMENTS')})`,
      ).env('RELAY_ALIAS_ENVIRONMENTS'),
    )
    .addOption(
      new Option('--github-repository <owner/name>', 'repository whose promote workflow is triggered').env(
        'GITHUB_REPOSITORY',
      ),
    )
    .addOption(
      new Option(
        '--github-api-url <url>',
        `GitHub API base URL (default ${relayDefault('GITHUB_API_URL')})`,
      ).env('GITHUB_API_URL'),
    )
    .addOption(
      new Option('--log-level <level>', `pino log level (default ${relayDefault('LOG_LEVEL')})`).env(
        'LOG_LEVEL',
      ),
    )
    .addHelpText(
      'after',
      `
Environment only (never flags): MLFLOW_WEBHOOK_SECRET (the MLflow webhook's secret), GITHUB_TOKEN.
Tuning: RELAY_MAX_BODY_BYTES, RELAY_REPLAY_WINDOW_SECONDS, RELAY_MAX_CLOCK_SKEW_SECONDS,
RELAY_DISPATCH_ATTEMPTS, RELAY_DISPATCH_TIMEOUT_MS, RELAY_DISPATCH_BACKOFF_MS.
Endpoints: POST /webhooks/mlflow, GET /health, GET /metrics.`,
    )
    .action(async (options: RelayOptions, command: Command) => {
      let config;
      try {
        config = loadRelayConfig({
          ...process.env,
          PORT: options.port,
          HOST: options.host,
          RELAY_MODEL_NAME: options.modelName,
          RELAY_ALIAS_ENVIRONMENTS: options.aliasEnvironments,
          GITHUB_REPOSITORY: options.githubRepository,
          GITHUB_API_URL: options.githubApiUrl,
          LOG_LEVEL: options.logLevel,
        });
      } catch (err) {
        if (err instanceof RelayConfigError) command.error(`relay: ${err.message}`, { exitCode: 2 });
        throw err;
      }
      // express, pino and prom-client load only here: every other command (model-fetch in the pod's
      // init container above all) starts without them.
      const { createRelayLogger, startRelay } = await import('./server');
      const logger = createRelayLogger(config.LOG_LEVEL);
      let relay;
      try {
        relay = await startRelay(config, logger);
      } catch (err) {
        if (err instanceof RelayConfigError) command.error(`relay: ${err.message}`, { exitCode: 2 });
        throw err;
      }
      const stop = (signal: NodeJS.Signals) => {
        logger.info({ signal }, 'stopping relay');
        void relay.close().then(() => logger.info('relay stopped'));
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
}
