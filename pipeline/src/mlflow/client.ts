import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { artifactProxyPath, encodeArtifactPath } from './artifact-uri';
import type { MlflowConnection } from './config';
import { MlflowError } from './errors';
import {
  ArtifactListSchema,
  CreateExperimentResponseSchema,
  DownloadUriResponseSchema,
  EmptySchema,
  ErrorBodySchema,
  ExperimentResponseSchema,
  LatestVersionsResponseSchema,
  ModelVersionResponseSchema,
  RunResponseSchema,
  type ArtifactEntry,
  type ModelVersion,
  type RunInfo,
} from './schemas';

/** Options of {@link MlflowClient}. */
export interface MlflowClientOptions {
  /** Server and credentials, usually from `mlflowConnectionFromEnv()`. */
  readonly connection: MlflowConnection;
  /**
   * Time limit of one API call attempt.
   * @default 30000
   */
  readonly timeoutMs?: number;
  /**
   * Time limit of one whole file transfer attempt (download or upload).
   * @default 600000
   */
  readonly transferTimeoutMs?: number;
  /**
   * Extra attempts after a network error, a 5xx or a 429 (other answers are never retried).
   * @default 3
   */
  readonly retries?: number;
  /**
   * First backoff delay; doubles per attempt, capped at 8 s.
   * @default 500
   */
  readonly backoffMs?: number;
}

/** Errors of writing a downloaded file here, which no retry of the download mends. */
const LOCAL_WRITE_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EFBIG']);

/** A download that failed on this machine (the destination cannot be written), not at MLflow. */
export class LocalFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalFileError';
  }
}

/** The registry stages MLflow accepts (case-insensitive on input). */
export const STAGES = ['None', 'Staging', 'Production', 'Archived'] as const;

/** Options of {@link MlflowClient.downloadArtifact}. */
export interface DownloadOptions {
  /** Called as bytes arrive; `total` is the Content-Length or `expectedBytes` when known. */
  readonly onProgress?: (bytes: number, total: number | undefined) => void;
  /** Size the artifact listing reported; a body of another length counts as truncated and is retried. */
  readonly expectedBytes?: number;
  /** Largest accepted file: the download stops (not retried) as soon as more bytes arrive. @default - no bound */
  readonly maxBytes?: number;
}

/** Result of a download: the bytes written and their sha256 (hex). */
export interface DownloadResult {
  readonly bytes: number;
  readonly sha256: string;
}

interface CallSpec<S extends z.ZodType> {
  /** What was being done, in words: the prefix of every error message. */
  readonly what: string;
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly schema: S;
}

class RetryableError extends Error {}

/**
 * A typed client for the MLflow REST API (2.0 paths) and its artifact proxy. Every answer is validated;
 * network errors, 5xx and 429 are retried with exponential backoff; credentials are never put in messages.
 */
export class MlflowClient {
  readonly baseUrl: string;
  private readonly authorization?: string;
  private readonly timeoutMs: number;
  private readonly transferTimeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;

  constructor(options: MlflowClientOptions) {
    this.baseUrl = options.connection.baseUrl.replace(/\/+$/, '');
    this.authorization = options.connection.authorization;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.transferTimeoutMs = options.transferTimeoutMs ?? 600_000;
    this.retries = options.retries ?? 3;
    this.backoffMs = options.backoffMs ?? 500;
  }

  /**
   * `GET /health`, one attempt (callers poll it): resolves when the server answers 200, throws an
   * {@link MlflowError} otherwise.
   */
  async health(): Promise<void> {
    await this.withRetries(
      'check MLflow health',
      async (signal) => {
        const res = await fetch(`${this.baseUrl}/health`, { headers: this.headers(), signal });
        await res.arrayBuffer();
        if (res.status >= 500 || res.status === 429) throw new RetryableError(`HTTP ${res.status}`);
        if (!res.ok) throw this.httpError('check MLflow health', res.status);
      },
      this.timeoutMs,
      0,
    );
  }

  /** The version an alias points to; `model 'x' has no alias 'y'` when the alias is not set. */
  async getVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    try {
      const res = await this.call({
        what: `resolve alias '${alias}' of model '${name}'`,
        method: 'GET',
        path: '/api/2.0/mlflow/registered-models/alias',
        query: { name, alias },
        schema: ModelVersionResponseSchema,
      });
      return res.model_version;
    } catch (err) {
      // MLflow answers an unknown alias with 400 INVALID_PARAMETER_VALUE, not 404.
      if (
        err instanceof MlflowError &&
        err.errorCode === 'INVALID_PARAMETER_VALUE' &&
        /alias .* not found/i.test(err.message)
      ) {
        throw new MlflowError(
          `model '${name}' has no alias '${alias}'`,
          'unassigned',
          err.status,
          err.errorCode,
        );
      }
      throw err;
    }
  }

  /** The newest version in a stage (`Staging`, `Production`, ...); a clear error when the stage is empty. */
  async getLatestVersionInStage(name: string, stage: string): Promise<ModelVersion> {
    const canonical = STAGES.find((s) => s.toLowerCase() === stage.toLowerCase());
    if (!canonical) {
      throw new MlflowError(`stage '${stage}' is not one of ${STAGES.join(', ')}`, 'invalid');
    }
    const res = await this.call({
      what: `find the ${canonical} version of model '${name}'`,
      method: 'GET',
      path: '/api/2.0/mlflow/registered-models/get-latest-versions',
      query: { name, stages: canonical },
      schema: LatestVersionsResponseSchema,
    });
    // No match answers `{}`: the schema turns the missing key into [].
    const found = res.model_versions.find((v) => v.current_stage?.toLowerCase() === canonical.toLowerCase());
    if (!found) {
      throw new MlflowError(`model '${name}' has no version in stage '${canonical}'`, 'unassigned');
    }
    return found;
  }

  /** One model version (`version` is a string of digits, as MLflow sends it). */
  async getModelVersion(name: string, version: string): Promise<ModelVersion> {
    const res = await this.call({
      what: `get version ${version} of model '${name}'`,
      method: 'GET',
      path: '/api/2.0/mlflow/model-versions/get',
      query: { name, version },
      schema: ModelVersionResponseSchema,
    });
    return res.model_version;
  }

  /** `get-download-uri`: the stored source, resolved by MLflow only for `models:/<model_id>` sources. */
  async getDownloadUri(name: string, version: string): Promise<string> {
    const res = await this.call({
      what: `get the download URI of version ${version} of model '${name}'`,
      method: 'GET',
      path: '/api/2.0/mlflow/model-versions/get-download-uri',
      query: { name, version },
      schema: DownloadUriResponseSchema,
    });
    return res.artifact_uri;
  }

  /** A run's info (its `artifact_uri` is the `mlflow-artifacts:` root of its artifacts). */
  async getRun(runId: string): Promise<RunInfo> {
    const res = await this.call({
      what: `get run '${runId}'`,
      method: 'GET',
      path: '/api/2.0/mlflow/runs/get',
      query: { run_id: runId },
      schema: RunResponseSchema,
    });
    return res.run.info;
  }

  /**
   * The `mlflow-artifacts:` location of a version's files, for every source form MLflow stores:
   * `mlflow-artifacts:/...` as is, `runs:/<run>/<path>` via the run's artifact_uri, and
   * `models:/<model_id>` via get-download-uri (which resolves logged models).
   */
  async resolveArtifactLocation(version: ModelVersion): Promise<string> {
    const source = version.source;
    if (source.startsWith('mlflow-artifacts:')) return source.replace(/\/+$/, '');
    const runs = /^runs:\/([^/]+)\/?(.*)$/.exec(source);
    if (runs) {
      const run = await this.getRun(runs[1]);
      if (!run.artifact_uri.startsWith('mlflow-artifacts:')) {
        throw unsupportedLocation(version, run.artifact_uri);
      }
      const sub = runs[2].replace(/\/+$/, '');
      return sub ? `${run.artifact_uri.replace(/\/+$/, '')}/${sub}` : run.artifact_uri.replace(/\/+$/, '');
    }
    if (source.startsWith('models:/')) {
      const uri = await this.getDownloadUri(version.name, version.version);
      if (!uri.startsWith('mlflow-artifacts:')) throw unsupportedLocation(version, uri);
      return uri.replace(/\/+$/, '');
    }
    throw unsupportedLocation(version, source);
  }

  /** Lists a directory through the artifact proxy (a missing directory lists as empty, as MLflow answers `{}`). */
  async listArtifacts(uri: string): Promise<ArtifactEntry[]> {
    const path = artifactProxyPath(uri);
    const res = await this.call({
      what: `list artifacts at '${uri}'`,
      method: 'GET',
      path: '/api/2.0/mlflow-artifacts/artifacts',
      query: { path },
      schema: ArtifactListSchema,
    });
    return res.files;
  }

  /**
   * Streams one artifact file to `destFile` (never held whole in memory), hashing it on the way. A body shorter
   * than its Content-Length, or a connection cut mid-body, is retried and then reported.
   */
  async downloadArtifact(uri: string, destFile: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
    const { onProgress, expectedBytes, maxBytes } = opts;
    const what = `download '${uri}'`;
    const url = `${this.baseUrl}/api/2.0/mlflow-artifacts/artifacts/${encodeArtifactPath(artifactProxyPath(uri))}`;
    return this.withRetries(
      what,
      async (signal) => {
        const res = await fetch(url, { headers: this.headers(), signal });
        if (!res.ok || !res.body) {
          const text = await res.text();
          if (res.status >= 500 && isMissingFile(text)) {
            // MLflow answers a missing file with 500 INTERNAL_ERROR; retrying cannot help.
            throw new MlflowError(
              `${what}: the file does not exist in the artifact store`,
              'not-found',
              res.status,
            );
          }
          if (res.status >= 500 || res.status === 429)
            throw new RetryableError(`HTTP ${res.status}${describeErrorBody(text)}`);
          throw this.errorFromBody(what, res.status, text);
        }
        // MLflow streams files chunked (no Content-Length); the listing's file_size is the other yardstick.
        const lengthHeader = res.headers.get('content-length');
        const total = lengthHeader ? Number(lengthHeader) : expectedBytes;
        const tooLarge = (n: number): MlflowError =>
          new MlflowError(
            `${what}: the file has more than ${maxBytes} bytes (${n} announced or received)`,
            'invalid',
          );
        if (maxBytes !== undefined && total !== undefined && total > maxBytes) {
          await res.body.cancel();
          throw tooLarge(total);
        }
        const hash = createHash('sha256');
        let bytes = 0;
        const counter = new Transform({
          transform(chunk: Buffer, _enc, done) {
            bytes += chunk.length;
            if (maxBytes !== undefined && bytes > maxBytes) {
              done(tooLarge(bytes));
              return;
            }
            // Past the size the listing gave, this body is not the listed file: stop writing it.
            if (total !== undefined && bytes > total) {
              done(new RetryableError(`received more than the ${total} bytes announced`));
              return;
            }
            hash.update(chunk);
            onProgress?.(bytes, total);
            done(null, chunk);
          },
        });
        // Open before streaming so that no late open() creates the file after a failed attempt was cleaned up.
        const file = await open(destFile, 'w');
        try {
          await pipeline(
            Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
            counter,
            file.createWriteStream(),
          );
        } catch (err) {
          if (err instanceof MlflowError || err instanceof RetryableError) throw err;
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== undefined && LOCAL_WRITE_ERRORS.has(code)) {
            throw new LocalFileError(
              `${what}: cannot write ${destFile} (${code}): the destination's volume is full, read-only or ` +
                'not writable; retrying the download cannot help',
            );
          }
          throw new RetryableError(`connection lost after ${bytes} bytes (${(err as Error).message})`);
        } finally {
          // Usually closed by the write stream already (closing again resolves); kept so no path leaks the fd.
          await file.close();
        }
        if (total !== undefined && bytes !== total) {
          throw new RetryableError(`truncated: received ${bytes} of ${total} bytes`);
        }
        return { bytes, sha256: hash.digest('hex') };
      },
      this.transferTimeoutMs,
    );
  }

  /** Uploads a local file through the artifact proxy (`PUT`, streamed, with a Content-Length). */
  async uploadArtifact(uri: string, srcFile: string): Promise<void> {
    const what = `upload '${srcFile}' to '${uri}'`;
    const url = new URL(
      `${this.baseUrl}/api/2.0/mlflow-artifacts/artifacts/${encodeArtifactPath(artifactProxyPath(uri))}`,
    );
    const size = statSync(srcFile).size;
    await this.withRetries(
      what,
      async (signal) => {
        const { status, text } = await this.putFile(url, srcFile, size, signal);
        if (status >= 500 || status === 429)
          throw new RetryableError(`HTTP ${status}${describeErrorBody(text)}`);
        if (status < 200 || status > 299) throw this.errorFromBody(what, status, text);
      },
      this.transferTimeoutMs,
    );
  }

  /** The id of the experiment with this name, created when missing. */
  async ensureExperiment(name: string): Promise<string> {
    try {
      const res = await this.call({
        what: `get experiment '${name}'`,
        method: 'GET',
        path: '/api/2.0/mlflow/experiments/get-by-name',
        query: { experiment_name: name },
        schema: ExperimentResponseSchema,
      });
      return res.experiment.experiment_id;
    } catch (err) {
      if (!(err instanceof MlflowError) || err.kind !== 'not-found') throw err;
    }
    const created = await this.call({
      what: `create experiment '${name}'`,
      method: 'POST',
      path: '/api/2.0/mlflow/experiments/create',
      body: { name },
      schema: CreateExperimentResponseSchema,
    });
    return created.experiment_id;
  }

  /** Starts a run in an experiment. */
  async createRun(
    experimentId: string,
    runName: string,
    tags: Record<string, string> = {},
  ): Promise<RunInfo> {
    const res = await this.call({
      what: `create a run in experiment ${experimentId}`,
      method: 'POST',
      path: '/api/2.0/mlflow/runs/create',
      body: {
        experiment_id: experimentId,
        run_name: runName,
        start_time: Date.now(),
        tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
      },
      schema: RunResponseSchema,
    });
    return res.run.info;
  }

  /** Marks a run FINISHED or FAILED. */
  async finishRun(runId: string, status: 'FINISHED' | 'FAILED'): Promise<void> {
    await this.call({
      what: `mark run '${runId}' ${status}`,
      method: 'POST',
      path: '/api/2.0/mlflow/runs/update',
      body: { run_id: runId, status, end_time: Date.now() },
      schema: z.unknown(),
    });
  }

  /** Creates a registered model; an existing one (RESOURCE_ALREADY_EXISTS) is fine. */
  async ensureRegisteredModel(name: string): Promise<void> {
    try {
      await this.call({
        what: `create registered model '${name}'`,
        method: 'POST',
        path: '/api/2.0/mlflow/registered-models/create',
        body: { name },
        schema: z.unknown(),
      });
    } catch (err) {
      if (err instanceof MlflowError && err.errorCode === 'RESOURCE_ALREADY_EXISTS') return;
      throw err;
    }
  }

  /** Creates a new version of a registered model from an artifact location. */
  async createModelVersion(
    name: string,
    source: string,
    runId?: string,
    description?: string,
  ): Promise<ModelVersion> {
    const res = await this.call({
      what: `create a version of model '${name}' from '${source}'`,
      method: 'POST',
      path: '/api/2.0/mlflow/model-versions/create',
      body: { name, source, run_id: runId, description },
      schema: ModelVersionResponseSchema,
    });
    return res.model_version;
  }

  /** Points an alias at a version (moves it when it already exists). */
  async setAlias(name: string, alias: string, version: string): Promise<void> {
    await this.call({
      what: `set alias '${alias}' of model '${name}' to version ${version}`,
      method: 'POST',
      path: '/api/2.0/mlflow/registered-models/alias',
      // MLflow insists on the version as a JSON string.
      body: { name, alias, version: String(version) },
      schema: EmptySchema.passthrough(),
    });
  }

  /** Sets a tag on a model version (`model-versions/set-tag`; MLflow wants the version as a JSON string). */
  async setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    await this.call({
      what: `set tag '${key}' on version ${version} of model '${name}'`,
      method: 'POST',
      path: '/api/2.0/mlflow/model-versions/set-tag',
      body: { name, version: String(version), key, value },
      schema: EmptySchema.passthrough(),
    });
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.authorization ? { ...extra, authorization: this.authorization } : extra;
  }

  private async call<S extends z.ZodType>(spec: CallSpec<S>): Promise<z.infer<S>> {
    const url = new URL(`${this.baseUrl}${spec.path}`);
    for (const [key, value] of Object.entries(spec.query ?? {})) url.searchParams.append(key, value);
    const text = await this.withRetries(spec.what, async (signal) => {
      const res = await fetch(url, {
        method: spec.method,
        headers: this.headers(spec.body === undefined ? {} : { 'content-type': 'application/json' }),
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        signal,
      });
      const body = await res.text();
      if (res.status >= 500 || res.status === 429) {
        throw new RetryableError(`HTTP ${res.status}${describeErrorBody(body)}`);
      }
      if (!res.ok) throw this.errorFromBody(spec.what, res.status, body);
      return body;
    });
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new MlflowError(
        `${spec.what}: MLflow answered 200 with a body that is not JSON (is MLFLOW_TRACKING_URI the tracking server?)`,
        'invalid',
        200,
      );
    }
    const parsed = spec.schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new MlflowError(
        `${spec.what}: unexpected answer from MLflow: '${issue.path.join('.')}' ${issue.message}`,
        'invalid',
        200,
      );
    }
    return parsed.data;
  }

  /** Runs `attempt` with a per-attempt timeout, retrying RetryableErrors and network failures with backoff. */
  private async withRetries<T>(
    what: string,
    attempt: (signal: AbortSignal) => Promise<T>,
    timeoutMs: number = this.timeoutMs,
    retries: number = this.retries,
  ): Promise<T> {
    let last = '';
    let unreachable = false;
    for (let i = 0; i <= retries; i++) {
      if (i > 0) await sleep(Math.min(this.backoffMs * 2 ** (i - 1), 8_000));
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        return await attempt(signal);
      } catch (err) {
        if (err instanceof MlflowError || err instanceof LocalFileError) throw err;
        if (err instanceof RetryableError) {
          last = err.message;
          unreachable = false;
          continue;
        }
        // fetch() rejects with TypeError('fetch failed', { cause }) on network errors, http.request (uploads) with
        // the error itself; a timeout is a TimeoutError from fetch but an AbortError from http.request, so the
        // signal says whether it fired.
        const e = err as Error & { cause?: { code?: string; message?: string } };
        last = signal.aborted
          ? `no answer within ${timeoutMs} ms`
          : (e.cause?.code ?? e.cause?.message ?? e.message);
        unreachable = true;
      }
    }
    const attempts = retries + 1;
    if (unreachable) {
      throw new MlflowError(
        `${what}: cannot reach MLflow at ${this.baseUrl} after ${attempts} attempts (${last}); ` +
          'check MLFLOW_TRACKING_URI and that the server is up',
        'unreachable',
      );
    }
    throw new MlflowError(`${what}: MLflow failed ${attempts} times, last: ${last}`, 'server');
  }

  private errorFromBody(what: string, status: number, text: string): MlflowError {
    if (status === 401 || status === 403) return this.httpError(what, status);
    let body: z.infer<typeof ErrorBodySchema> | undefined;
    try {
      const parsed = ErrorBodySchema.safeParse(JSON.parse(text));
      if (parsed.success) body = parsed.data;
    } catch {
      // Not JSON: Flask answers unknown paths and wrong methods with an HTML page.
    }
    if (!body) return this.httpError(what, status);
    const kind = body.error_code === 'RESOURCE_DOES_NOT_EXIST' || status === 404 ? 'not-found' : 'invalid';
    return new MlflowError(`${what}: ${body.message} (${body.error_code})`, kind, status, body.error_code);
  }

  private httpError(what: string, status: number): MlflowError {
    if (status === 401 || status === 403) {
      return new MlflowError(
        `${what}: MLflow refused the request with HTTP ${status}; ` +
          (this.authorization
            ? 'the credentials in MLFLOW_TRACKING_TOKEN / MLFLOW_TRACKING_USERNAME+PASSWORD were rejected'
            : 'set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD'),
        'unauthorized',
        status,
      );
    }
    return new MlflowError(
      `${what}: HTTP ${status} without an MLflow error body from ${this.baseUrl} ` +
        '(is MLFLOW_TRACKING_URI the base URL of an MLflow tracking server?)',
      status === 404 ? 'not-found' : 'invalid',
      status,
    );
  }

  private putFile(
    url: URL,
    file: string,
    size: number,
    signal: AbortSignal,
  ): Promise<{ status: number; text: string }> {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, {
        method: 'PUT',
        signal,
        headers: this.headers({ 'content-type': 'application/octet-stream', 'content-length': String(size) }),
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      pipeline(createReadStream(file), req).catch(reject);
    });
  }
}

function isMissingFile(text: string): boolean {
  return /No such file or directory|does not exist|not found/i.test(text);
}

function describeErrorBody(text: string): string {
  try {
    const parsed = ErrorBodySchema.safeParse(JSON.parse(text));
    return parsed.success ? ` ${parsed.data.error_code}: ${parsed.data.message.split('\n')[0]}` : '';
  } catch {
    return '';
  }
}

function unsupportedLocation(version: ModelVersion, location: string): MlflowError {
  return new MlflowError(
    `version ${version.version} of model '${version.name}' has source '${version.source}' which resolves to ` +
      `'${location}': only artifacts served through the MLflow artifact proxy (mlflow-artifacts:) can be fetched; ` +
      'run the server with --serve-artifacts and register from a run logged through it',
    'invalid',
  );
}
