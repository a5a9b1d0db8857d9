/**
 * The webhook relay's contract with the charts that deploy it: the route MLflow posts to and the environment the
 * relay reads (the schema and its loader). The relay itself starts through the CLI (`model-gitops relay`).
 */
export { WEBHOOK_PATH } from './app';
export { loadRelayConfig, RelayConfigError, RelayEnvSchema, type RelayConfig } from './config';
