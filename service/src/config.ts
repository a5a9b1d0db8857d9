import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { REPO_ROOT } from './build-or-source';

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^[0-9]+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be ≥ ${min}`).max(max, `must be ≤ ${max}`));

/** The service directory (`service/`), whether this runs compiled or from sources (see build-or-source). */
export const SERVICE_DIR = join(REPO_ROOT, 'service');

/** The model served when MODEL_DIR is not set: built by `npm run model:default`. */
export const DEFAULT_MODEL_DIR = resolve(SERVICE_DIR, 'models', 'default');

/**
 * The service's name, its log label (`service`): the name the charts give what they deploy (`APP_NAME` in
 * charts/src/config/names.ts; charts/ synthesizes without service/, so a test keeps the two equal).
 */
export const SERVICE_NAME = 'cats-dogs-classifier';

/**
 * Node options the service process runs with, before its script: the image's CMD, the charts' container
 * command (`SERVICE_NODE_ARGS` in charts/src/inference-service.ts; charts/ synthesizes without service/, so a
 * test keeps the two equal) and the bench. Both apply to every isolate (the main thread and the inference
 * workers); measured in interleaved A/Bs at saturation (bench/README.md, A/B table):
 * - V8's young generation capped at 1 MiB semi-spaces: peak RSS 354 → 329, 332 → 314 and 328 → 310 MiB,
 *   images/s the same within noise, V8's GC threads half the CPU;
 * - the old generation grown by a fixed 2x after each full GC, where V8 otherwise lets a small heap grow up
 *   to 4x what was live (with dead request bodies and sharp buffers waiting in it): peak RSS 275 → 238 MiB
 *   at 16 connections, 288 → 250 at 32, for 2-4 % more CPU per image in V8's GC threads and a few ms more
 *   event-loop stall at saturation.
 */
export const SERVICE_NODE_ARGS: readonly string[] = ['--max-semi-space-size=1', '--heap-growing-percent=100'];

/** Largest image (width x height) accepted by default: MAX_IMAGE_PIXELS, and every caller of the preprocessing. */
export const DEFAULT_MAX_IMAGE_PIXELS = 40_000_000;

/** Every environment variable the service reads, with its default. */
const EnvSchema = z.object({
  PORT: int(0, 65535).default(8000),
  HOST: z.string().min(1).default('0.0.0.0'),
  MODEL_DIR: z.string().min(1).default(DEFAULT_MODEL_DIR),
  MODEL_NAME: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$/, 'must be a model name: letters, digits, . _ - (at most 256)')
    .default('cats-dogs-default'),
  MODEL_VERSION: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a version: letters, digits, . _ - (at most 64)')
    .default('0'),
  MODEL_SHA256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex characters (sha256 of model.onnx)')
    .optional(),
  MODEL_FILES: z
    .string()
    .regex(
      /^[A-Za-z0-9._-]{1,255}=[0-9a-f]{64}(,[A-Za-z0-9._-]{1,255}=[0-9a-f]{64})*$/,
      "must be <file>=<sha256>[,<file>=<sha256>…]: the pin's files",
    )
    .superRefine((v, ctx) => {
      const names = v.split(',').map((e) => e.split('=')[0]);
      const twice = names.find((n, i) => names.indexOf(n) !== i);
      if (twice !== undefined)
        ctx.addIssue({ code: 'custom', message: `names ${twice} twice: each file once` });
    })
    .transform((v) => Object.fromEntries(v.split(',').map((e) => e.split('=') as [string, string])))
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MAX_BODY_BYTES: int(1024, 1024 * 1024 * 1024).default(10 * 1024 * 1024),
  MAX_BUFFERED_BODY_BYTES: int(1024, 16 * 1024 * 1024 * 1024).optional(),
  MAX_IMAGE_PIXELS: int(1, 1_000_000_000).default(DEFAULT_MAX_IMAGE_PIXELS),
  MAX_IMAGES_PER_REQUEST: int(1, 256).default(32),
  REQUEST_TIMEOUT_MS: int(1, 600_000).default(10_000),
  HEADERS_TIMEOUT_MS: int(1, 600_000).optional(),
  KEEP_ALIVE_TIMEOUT_MS: int(0, 600_000).default(65_000),
  DRAIN_DELAY_MS: int(0, 120_000).default(5_000),
  SHUTDOWN_TIMEOUT_MS: int(0, 120_000).default(20_000),
  INFERENCE_WORKERS: z
    .union([z.literal('auto'), int(1, 64)])
    .default('auto')
    .describe('worker threads, each with its own ONNX Runtime session'),
  ORT_INTRA_OP_THREADS: int(1, 64).default(1),
  ORT_INTER_OP_THREADS: int(1, 64).default(1),
  INFERENCE_QUEUE_MAX: int(0, 100_000).default(64),
  SHARP_CONCURRENCY: int(1, 64).default(1),
  FEEDBACK_TTL_SECONDS: int(1, 7 * 24 * 3600).default(3600),
  FEEDBACK_MAX_ENTRIES: int(1, 10_000_000).default(100_000),
});

/** Validated service configuration. */
export interface ServiceConfig {
  readonly port: number;
  readonly host: string;
  readonly modelDir: string;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly modelSha256: string | undefined;
  /** sha256 of every file the model directory must consist of (the pin's `files`), when set. */
  readonly modelFiles: Readonly<Record<string, string>> | undefined;
  readonly logLevel: string;
  readonly maxBodyBytes: number;
  /** /predict body bytes held in memory at once, over all requests (default 4 x maxBodyBytes). */
  readonly maxBufferedBodyBytes: number;
  readonly maxImagePixels: number;
  readonly maxImagesPerRequest: number;
  /**
   * Deadline of a request, from arrival to answer (504 after); also the time a client has to send its
   * whole request (headers and body): Node answers 408 and closes the connection after it.
   */
  readonly requestTimeoutMs: number;
  /** Time a client has to send the request headers (≤ requestTimeoutMs; default min(5 s, requestTimeoutMs)). */
  readonly headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this (0 = never). */
  readonly keepAliveTimeoutMs: number;
  readonly drainDelayMs: number;
  readonly shutdownTimeoutMs: number;
  /** Resolved worker count (from INFERENCE_WORKERS or the CPU limit). */
  readonly inferenceWorkers: number;
  readonly intraOpThreads: number;
  readonly interOpThreads: number;
  /** Requests allowed to wait for a worker; more get 503 at once. */
  readonly queueMax: number;
  readonly sharpConcurrency: number;
  readonly feedbackTtlMs: number;
  readonly feedbackMaxEntries: number;
}

/** Invalid configuration: the message names every bad variable, the value and the rule. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * CPUs this container may use: the cgroup v2 `cpu.max` quota rounded up (e.g. "150000 100000" → 2), else
 * `os.availableParallelism()`. Pass `cpuMaxText` to test without a cgroup.
 */
export function cpuLimit(cpuMaxText?: string | null): number {
  let text = cpuMaxText;
  if (text === undefined) {
    try {
      text = readFileSync('/sys/fs/cgroup/cpu.max', 'utf8');
    } catch {
      text = null; // no cgroup v2 file: not in a limited container
    }
  }
  const host = availableParallelism();
  const match = text ? /^(\d+)\s+(\d+)/.exec(text.trim()) : null;
  if (!match) return host;
  const quota = Number(match[1]);
  const period = Number(match[2]);
  if (!(quota > 0 && period > 0)) return host;
  return Math.max(1, Math.min(host, Math.ceil(quota / period)));
}

/** MAX_BUFFERED_BODY_BYTES when it is not set: room for four bodies of the largest allowed size. */
export function defaultMaxBufferedBodyBytes(maxBodyBytes: number): number {
  return 4 * maxBodyBytes;
}

/**
 * The configuration with no variable set: every key at the schema's default (INFERENCE_WORKERS=auto
 * resolves to the host's CPUs, no cgroup read). For library callers that take parts of it as defaults.
 */
export function defaultConfig(): ServiceConfig {
  return loadConfig({}, null);
}

/** Reads and validates the configuration from environment variables; throws {@link ConfigError}. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cpuMaxText?: string | null): ServiceConfig {
  const present: Record<string, string> = {};
  for (const key of Object.keys(EnvSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') present[key] = value;
  }
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const key = String(i.path[0]);
      return `${key}=${JSON.stringify(present[key] ?? '')}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
  }
  const e = parsed.data;
  const maxBufferedBodyBytes = e.MAX_BUFFERED_BODY_BYTES ?? defaultMaxBufferedBodyBytes(e.MAX_BODY_BYTES);
  if (maxBufferedBodyBytes < e.MAX_BODY_BYTES) {
    throw new ConfigError(
      `invalid configuration: MAX_BUFFERED_BODY_BYTES=${JSON.stringify(present.MAX_BUFFERED_BODY_BYTES)}: ` +
        `must be ≥ MAX_BODY_BYTES (${e.MAX_BODY_BYTES}), or no body of the largest allowed size could be read: ` +
        'raise MAX_BUFFERED_BODY_BYTES or lower MAX_BODY_BYTES',
    );
  }
  const headersTimeoutMs = e.HEADERS_TIMEOUT_MS ?? Math.min(5_000, e.REQUEST_TIMEOUT_MS);
  if (headersTimeoutMs > e.REQUEST_TIMEOUT_MS) {
    throw new ConfigError(
      `invalid configuration: HEADERS_TIMEOUT_MS=${JSON.stringify(present.HEADERS_TIMEOUT_MS)}: ` +
        `must be ≤ REQUEST_TIMEOUT_MS (${e.REQUEST_TIMEOUT_MS}), the time allowed for the whole request: ` +
        'lower HEADERS_TIMEOUT_MS or raise REQUEST_TIMEOUT_MS',
    );
  }
  return {
    port: e.PORT,
    host: e.HOST,
    modelDir: resolve(e.MODEL_DIR),
    modelName: e.MODEL_NAME,
    modelVersion: e.MODEL_VERSION,
    modelSha256: e.MODEL_SHA256,
    modelFiles: e.MODEL_FILES,
    logLevel: e.LOG_LEVEL,
    maxBodyBytes: e.MAX_BODY_BYTES,
    maxBufferedBodyBytes,
    maxImagePixels: e.MAX_IMAGE_PIXELS,
    maxImagesPerRequest: e.MAX_IMAGES_PER_REQUEST,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    headersTimeoutMs,
    keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_MS,
    drainDelayMs: e.DRAIN_DELAY_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    inferenceWorkers: e.INFERENCE_WORKERS === 'auto' ? cpuLimit(cpuMaxText) : e.INFERENCE_WORKERS,
    intraOpThreads: e.ORT_INTRA_OP_THREADS,
    interOpThreads: e.ORT_INTER_OP_THREADS,
    queueMax: e.INFERENCE_QUEUE_MAX,
    sharpConcurrency: e.SHARP_CONCURRENCY,
    feedbackTtlMs: e.FEEDBACK_TTL_SECONDS * 1000,
    feedbackMaxEntries: e.FEEDBACK_MAX_ENTRIES,
  };
}
