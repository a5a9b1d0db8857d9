import { z } from 'zod';
import {
  APP_NAME,
  ENVIRONMENTS,
  GitHubRepositorySchema,
  ModelAliasSchema,
  RegisteredModelNameSchema,
  type EnvironmentName,
} from '../../../charts/src/config';

/** Variables whose values must never appear in an error message or a log line. */
const SECRET_VARIABLES = new Set(['MLFLOW_WEBHOOK_SECRET', 'GITHUB_TOKEN']);
/** Hosts an `http:` GITHUB_API_URL may name: the token must not cross a network in clear text. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

const intFromEnv = (min: number, max: number, fallback: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be ≥ ${min}`).max(max, `must be ≤ ${max}`))
    .default(fallback);

/**
 * Parses `alias=environment,alias=environment` into a map. Aliases follow MLflow's alias rules
 * ({@link ModelAliasSchema}, as the charts check them); environments must be ones this kit deploys.
 */
function parseAliasEnvironments(value: string, ctx: z.RefinementCtx): ReadonlyMap<string, EnvironmentName> {
  const map = new Map<string, EnvironmentName>();
  for (const part of value.split(',').map((p) => p.trim())) {
    if (part === '') continue;
    const match = /^([^=\s]+)\s*=\s*([a-z]+)$/.exec(part);
    if (!match) {
      ctx.addIssue({
        code: 'custom',
        message: `entry '${part}' must look like alias=environment, e.g. production=production`,
      });
      return map;
    }
    const [, alias, env] = match;
    const aliasRule = ModelAliasSchema.safeParse(alias);
    if (!aliasRule.success) {
      ctx.addIssue({ code: 'custom', message: `alias '${alias}' ${aliasRule.error.issues[0]?.message}` });
      return map;
    }
    if (!(ENVIRONMENTS as readonly string[]).includes(env)) {
      ctx.addIssue({
        code: 'custom',
        message: `environment '${env}' (for alias '${alias}') must be one of ${ENVIRONMENTS.join(', ')}`,
      });
      return map;
    }
    if (map.has(alias)) {
      ctx.addIssue({ code: 'custom', message: `alias '${alias}' is mapped twice; keep one entry` });
      return map;
    }
    map.set(alias, env as EnvironmentName);
  }
  if (map.size === 0) {
    ctx.addIssue({ code: 'custom', message: 'must map at least one alias, e.g. production=production' });
  }
  return map;
}

/** The relay's environment, one key per variable, each with its default. */
export const RelayEnvSchema = z
  .object({
    /** The secret given to MLflow when the webhook was created; signs every delivery. */
    MLFLOW_WEBHOOK_SECRET: z
      .string({ error: 'is required: the secret set on the MLflow webhook' })
      .min(16, 'must be at least 16 characters: use the same long random secret as the MLflow webhook'),
    /** Token allowed to call `POST /repos/{owner}/{repo}/dispatches` (fine-grained: Contents read & write). */
    GITHUB_TOKEN: z
      .string({ error: 'is required: a token that may create repository_dispatch events' })
      .min(1, 'must not be empty')
      // An HTTP header carries it: anything else fails every dispatch ("Cannot convert argument to a ByteString").
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces, as GitHub tokens are'),
    /** `owner/name` of the repository that holds `.github/workflows/promote.yml`. */
    GITHUB_REPOSITORY: z
      .string({ error: 'is required: the repository as owner/name, e.g. acme/cats-dogs' })
      .pipe(GitHubRepositorySchema),
    /** GitHub REST API base URL (GitHub Enterprise: `https://host/api/v3`). */
    GITHUB_API_URL: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. https://api.github.com' })
      .superRefine((u, ctx) => {
        if (!URL.canParse(u)) return; // not a URL at all: the check above says so
        const url = new URL(u);
        if (url.search !== '' || url.hash !== '') {
          ctx.addIssue({
            code: 'custom',
            message: 'must have no query or fragment: the API path is appended to it',
          });
        }
        if (url.protocol !== 'https:' && !LOOPBACK_HOSTS.has(url.hostname)) {
          ctx.addIssue({
            code: 'custom',
            message:
              'must be https: the token travels in its Authorization header (http only to a loopback host, for tests)',
          });
        }
      })
      .default('https://api.github.com')
      .transform((u) => u.replace(/\/+$/, '')),
    /** Registered model whose alias events are relayed; events for other models are ignored. */
    RELAY_MODEL_NAME: RegisteredModelNameSchema.default(APP_NAME),
    /** Which MLflow alias promotes which environment. */
    RELAY_ALIAS_ENVIRONMENTS: z
      .string()
      .default('production=production,staging=staging')
      .transform(parseAliasEnvironments),
    /** TCP port to listen on (0 picks a free port). */
    PORT: intFromEnv(0, 65535, 8080),
    /** Address to listen on: an IP address (a name would only be resolved, and fail, at listen time). */
    HOST: z
      .union([z.ipv4(), z.ipv6()], { error: 'must be an IP address, e.g. 0.0.0.0 or ::' })
      .default('0.0.0.0'),
    /** pino log level. */
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Largest accepted webhook body; MLflow's deliveries are well under 1 KiB. */
    RELAY_MAX_BODY_BYTES: intFromEnv(1024, 1024 * 1024, 64 * 1024),
    /** Deliveries whose X-MLflow-Timestamp is older than this are replays and are refused. */
    RELAY_REPLAY_WINDOW_SECONDS: intFromEnv(30, 3600, 300),
    /** Accepted clock skew for timestamps in the future. */
    RELAY_MAX_CLOCK_SKEW_SECONDS: intFromEnv(0, 600, 60),
    /** Attempts per dispatch (first try included); retried on network errors, 429 and 5xx only. */
    RELAY_DISPATCH_ATTEMPTS: intFromEnv(1, 10, 3),
    /** Time limit of one dispatch attempt; all attempts together stay under MLflow's 30 s request timeout. */
    RELAY_DISPATCH_TIMEOUT_MS: intFromEnv(100, 60_000, 8_000),
    /** First retry delay; doubles per attempt. */
    RELAY_DISPATCH_BACKOFF_MS: intFromEnv(0, 30_000, 500),
  })
  .superRefine((c, ctx) => {
    const budget = dispatchBudgetMs(c);
    if (budget >= MLFLOW_DELIVERY_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['RELAY_DISPATCH_TIMEOUT_MS'],
        message:
          `with RELAY_DISPATCH_ATTEMPTS and RELAY_DISPATCH_BACKOFF_MS, a dispatch may take ${budget} ms, not under ` +
          `MLflow's ${MLFLOW_DELIVERY_TIMEOUT_MS} ms delivery timeout: MLflow would give up and deliver again; ` +
          'lower the attempts, the timeout or the backoff',
      });
    }
  });

/** How long MLflow waits for a webhook delivery's answer before it counts the delivery as failed. */
export const MLFLOW_DELIVERY_TIMEOUT_MS = 30_000;

/** The longest one dispatch can take: every attempt timing out, with the doubling backoff between them. */
export function dispatchBudgetMs(c: {
  readonly RELAY_DISPATCH_ATTEMPTS: number;
  readonly RELAY_DISPATCH_TIMEOUT_MS: number;
  readonly RELAY_DISPATCH_BACKOFF_MS: number;
}): number {
  const backoffs = c.RELAY_DISPATCH_BACKOFF_MS * (2 ** (c.RELAY_DISPATCH_ATTEMPTS - 1) - 1);
  return c.RELAY_DISPATCH_ATTEMPTS * c.RELAY_DISPATCH_TIMEOUT_MS + backoffs;
}

/** Validated relay configuration. */
export type RelayConfig = z.output<typeof RelayEnvSchema>;

/**
 * A variable's value when it is unset, written as it would be set (the schema's default; `relay --help`
 * shows it). Throws for a variable without a default.
 */
export function relayDefault(key: keyof typeof RelayEnvSchema.shape): string {
  const value: unknown = RelayEnvSchema.shape[key].parse(undefined);
  if (value instanceof Map) return [...value].map(([alias, env]) => `${alias}=${env}`).join(',');
  return String(value);
}

/** Thrown by {@link loadRelayConfig}; the message names every offending variable and the rule. */
export class RelayConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RelayConfigError';
  }
}

/**
 * Reads and validates the relay's configuration from an environment record (normally `process.env`).
 * Secret values are never echoed in the error.
 */
export function loadRelayConfig(env: Readonly<Record<string, string | undefined>>): RelayConfig {
  const input: Record<string, string> = {};
  for (const key of Object.keys(RelayEnvSchema.shape)) {
    const value = env[key];
    // An empty variable means "unset" for optional settings, as in most twelve-factor apps.
    if (value !== undefined && (value !== '' || SECRET_VARIABLES.has(key))) input[key] = value;
  }
  const parsed = RelayEnvSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const variable = String(issue.path[0] ?? '(environment)');
    const shown =
      SECRET_VARIABLES.has(variable) || input[variable] === undefined ? '' : ` (got '${input[variable]}')`;
    return `  ${variable}: ${issue.message}${shown}`;
  });
  throw new RelayConfigError(`invalid relay configuration:\n${lines.join('\n')}`);
}
