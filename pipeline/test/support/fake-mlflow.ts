import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A stand-in for an MLflow 3.6 tracking server with artifact proxying, on 127.0.0.1 with in-memory state.
 * It answers with the shapes recorded from the real server, quirks included: versions are strings,
 * get-latest-versions answers `{}` when nothing matches, an unknown alias is a 400 INVALID_PARAMETER_VALUE,
 * a missing artifact file is a 500 INTERNAL_ERROR, listing a missing directory answers `{}`, unknown paths
 * get Flask's HTML 404, errors are `{"error_code","message"}`.
 */

export interface Version {
  name: string;
  version: string;
  source: string;
  run_id?: string;
  current_stage: string;
  description: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  status: 'READY' | 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION';
  run_link: string;
  model_id?: string;
  /** Absent until a tag is set, as MLflow omits an empty `tags`. */
  tags?: { key: string; value: string }[];
}

interface Run {
  run_id: string;
  experiment_id: string;
  run_name: string;
  status: string;
  artifact_uri: string;
  start_time: number;
}

/** Failure switches of the fake. */
export interface FakeFaults {
  /** Destroy the socket of the next N requests without answering (registry down / flapping). */
  resetNext: number;
  /** Answer the next N requests with this status (e.g. 503) and an MLflow error body, then behave. */
  failNext: number;
  failStatus: number;
  /** Send only half of the next N artifact downloads, then cut the connection. */
  truncateNext: number;
  /** Send downloads chunked, without Content-Length, as MLflow does. */
  chunked: boolean;
  /** Follow the body of every chunked download with this many more bytes (a body that is not the listed file). */
  overlongBytes: number;
  /** Never answer the next N requests (the client's timeout must fire). */
  hangNext: number;
  /** Answer every artifact upload (PUT) with a 500, as a full or read-only artifact store does. */
  failUploads: boolean;
}

const HTML_404 =
  '<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n';

export class FakeMlflow {
  readonly server: Server;
  readonly artifacts = new Map<string, Buffer>();
  readonly versions = new Map<string, Version[]>();
  readonly aliases = new Map<string, Map<string, string>>();
  readonly runs = new Map<string, Run>();
  readonly experiments = new Map<string, string>();
  readonly loggedModels = new Map<string, string>();
  /** Every request seen: method, path (with query) and the Authorization header. */
  readonly requests: { method: string; url: string; authorization?: string }[] = [];
  readonly faults: FakeFaults = {
    resetNext: 0,
    failNext: 0,
    failStatus: 503,
    truncateNext: 0,
    chunked: false,
    overlongBytes: 0,
    hangNext: 0,
    failUploads: false,
  };
  /** When set, every request must carry exactly this Authorization header or gets MLflow's 401. */
  requiredAuthorization?: string;
  private readonly sockets = new Set<Socket>();
  private clock = 1795352586000;

  private constructor() {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        res.statusCode = 500;
        res.end(String(err.stack));
      });
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** Starts a fake on a random port of 127.0.0.1. */
  static async start(): Promise<FakeMlflow> {
    const fake = new FakeMlflow();
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Moves a version into a stage, as `transition-stage` does. */
  setStage(name: string, version: string, stage: string): void {
    const v = this.findVersion(name, version);
    if (!v) throw new Error(`no version ${version} of ${name}`);
    v.current_stage = stage;
  }

  /** The tags of a version as a key → value map (empty when none is set). */
  tagsOf(name: string, version: string): Record<string, string> {
    const v = this.findVersion(name, version);
    return Object.fromEntries((v?.tags ?? []).map((t) => [t.key, t.value]));
  }

  /** Sets a version's registration status (`READY` after creation). */
  setStatus(name: string, version: string, status: Version['status']): void {
    const v = this.findVersion(name, version);
    if (!v) throw new Error(`no version ${version} of ${name}`);
    v.status = status;
  }

  /** Adds a logged model (MLflow 3) whose artifacts live at `mlflow-artifacts:/<exp>/models/<id>/artifacts`. */
  addLoggedModel(experimentId: string): { modelId: string; artifactUri: string } {
    const modelId = `m-${randomBytes(16).toString('hex')}`;
    const artifactUri = `mlflow-artifacts:/${experimentId}/models/${modelId}/artifacts`;
    this.loggedModels.set(modelId, artifactUri);
    return { modelId, artifactUri };
  }

  /**
   * What a data scientist's notebook leaves in MLflow: a model directory logged the standard way
   * (`mlflow.onnx.log_model`, plus e.g. `mlflow.log_dict(labels, "model/labels.json")`) and a version
   * registered from it, with the source in one of the three forms MLflow stores:
   * `mlflow-artifacts:/<exp>/<run>/artifacts/model` (MLflow 2 clients), `runs:/<run>/model`, or
   * `models:/<model_id>` with the files at the logged model's own artifact root (MLflow 3's `log_model(name=)`).
   * Returns the version.
   */
  logModelVersion(
    name: string,
    files: Readonly<Record<string, Uint8Array | string>>,
    source: 'mlflow-artifacts' | 'runs' | 'models',
  ): Version {
    const experimentId = '1';
    const runId = randomBytes(16).toString('hex');
    this.runs.set(runId, {
      run_id: runId,
      experiment_id: experimentId,
      run_name: 'notebook',
      status: 'FINISHED',
      artifact_uri: `mlflow-artifacts:/${experimentId}/${runId}/artifacts`,
      start_time: this.tick(),
    });
    let dir = `${experimentId}/${runId}/artifacts/model`;
    let versionSource = `mlflow-artifacts:/${dir}`;
    let modelId: string | undefined;
    if (source === 'runs') versionSource = `runs:/${runId}/model`;
    if (source === 'models') {
      const logged = this.addLoggedModel(experimentId);
      modelId = logged.modelId;
      dir = logged.artifactUri.slice('mlflow-artifacts:/'.length);
      versionSource = `models:/${logged.modelId}`;
    }
    for (const [file, data] of Object.entries(files)) this.artifacts.set(`${dir}/${file}`, Buffer.from(data));
    if (!this.versions.has(name)) {
      this.versions.set(name, []);
      this.aliases.set(name, new Map());
    }
    return this.addVersion(name, { source: versionSource, runId, modelId });
  }

  /** Appends the next version of `name` (which must be registered), READY, as MLflow creates it. */
  private addVersion(
    name: string,
    o: { source: string; runId?: string; modelId?: string; description?: string },
  ): Version {
    const list = this.versions.get(name) as Version[];
    const now = this.tick();
    const v: Version = {
      name,
      version: String(list.length + 1),
      creation_timestamp: now,
      last_updated_timestamp: now,
      current_stage: 'None',
      description: o.description ?? '',
      source: o.source,
      run_id: o.runId,
      status: 'READY',
      run_link: '',
      model_id: o.modelId,
    };
    list.push(v);
    return v;
  }

  /** Points an alias at a version, as `MlflowClient().set_registered_model_alias` does. */
  setAlias(name: string, alias: string, version: string): void {
    if (!this.findVersion(name, version)) throw new Error(`no version ${version} of ${name}`);
    this.aliases.get(name)?.set(alias, version);
  }

  private findVersion(name: string, version: string): Version | undefined {
    return this.versions.get(name)?.find((v) => v.version === version);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
    });
    if (this.faults.hangNext > 0) {
      this.faults.hangNext--;
      return;
    }
    if (this.faults.resetNext > 0) {
      this.faults.resetNext--;
      req.socket.destroy();
      return;
    }
    if (
      this.requiredAuthorization !== undefined &&
      req.headers.authorization !== this.requiredAuthorization
    ) {
      res.writeHead(401, {
        'content-type': 'text/plain; charset=utf-8',
        'www-authenticate': 'Basic realm="mlflow"',
      });
      res.end('You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html');
      return;
    }
    if (this.faults.failNext > 0) {
      this.faults.failNext--;
      return json(res, this.faults.failStatus, {
        error_code: 'TEMPORARILY_UNAVAILABLE',
        message: 'try again',
      });
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    const q = url.searchParams;
    const method = req.method ?? 'GET';
    const raw = await readBody(req);

    if (path === '/health' && method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('OK');
      return;
    }
    const proxyPrefix = '/api/2.0/mlflow-artifacts/artifacts';
    if (path === proxyPrefix && method === 'GET') return this.listArtifacts(res, q.get('path') ?? '');
    if (path.startsWith(`${proxyPrefix}/`)) {
      const artifactPath = decodeURIComponent(path.slice(proxyPrefix.length + 1));
      if (artifactPath.split('/').includes('..')) {
        return json(res, 400, { error_code: 'INVALID_PARAMETER_VALUE', message: 'Invalid path' });
      }
      if (method === 'PUT') {
        if (this.faults.failUploads) {
          return json(res, 500, { error_code: 'INTERNAL_ERROR', message: 'No space left on device' });
        }
        this.artifacts.set(artifactPath, raw);
        return json(res, 200, {});
      }
      if (method === 'GET') return this.download(res, artifactPath);
    }

    let body: Record<string, unknown> = {};
    if (method === 'POST' || method === 'DELETE') {
      if (!String(req.headers['content-type'] ?? '').includes('application/json')) {
        return json(res, 400, {
          error_code: 'BAD_REQUEST',
          message: 'Bad Request. Content-Type must be "application/json"',
        });
      }
      try {
        body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        return json(res, 400, { error_code: 'MALFORMED_REQUEST', message: 'Malformed JSON' });
      }
    }
    const route = `${method} ${path}`;
    const api = '/api/2.0/mlflow';
    switch (route) {
      case `GET ${api}/experiments/get-by-name`: {
        const name = q.get('experiment_name') ?? '';
        const id = this.experiments.get(name);
        if (!id) return notFound(res, `Could not find experiment with name '${name}'`);
        return json(res, 200, {
          experiment: { experiment_id: id, name, artifact_location: `mlflow-artifacts:/${id}` },
        });
      }
      case `POST ${api}/experiments/create`: {
        const name = String(body.name);
        if (this.experiments.has(name)) {
          return json(res, 400, {
            error_code: 'RESOURCE_ALREADY_EXISTS',
            message: `Experiment '${name}' already exists.`,
          });
        }
        const id = String(this.experiments.size + 1);
        this.experiments.set(name, id);
        return json(res, 200, { experiment_id: id });
      }
      case `POST ${api}/runs/create`: {
        const runId = randomBytes(16).toString('hex');
        const experimentId = String(body.experiment_id);
        const run: Run = {
          run_id: runId,
          experiment_id: experimentId,
          run_name: String(body.run_name ?? 'run'),
          status: 'RUNNING',
          artifact_uri: `mlflow-artifacts:/${experimentId}/${runId}/artifacts`,
          start_time: this.tick(),
        };
        this.runs.set(runId, run);
        return json(res, 200, { run: runJson(run) });
      }
      case `GET ${api}/runs/get`: {
        const run = this.runs.get(q.get('run_id') ?? '');
        if (!run) return notFound(res, `Run with id=${q.get('run_id')} not found`);
        return json(res, 200, { run: runJson(run) });
      }
      case `POST ${api}/runs/update`: {
        const run = this.runs.get(String(body.run_id));
        if (!run) return notFound(res, `Run with id=${String(body.run_id)} not found`);
        run.status = String(body.status);
        return json(res, 200, { run_info: runJson(run).info });
      }
      case `POST ${api}/registered-models/create`: {
        const name = String(body.name ?? '');
        if (this.versions.has(name)) {
          return json(res, 400, {
            error_code: 'RESOURCE_ALREADY_EXISTS',
            message: `Registered Model (name=${name}) already exists.`,
          });
        }
        this.versions.set(name, []);
        this.aliases.set(name, new Map());
        const now = this.tick();
        return json(res, 200, {
          registered_model: { name, creation_timestamp: now, last_updated_timestamp: now },
        });
      }
      case `POST ${api}/model-versions/create`: {
        const name = String(body.name ?? '');
        const list = this.versions.get(name);
        if (!list) return notFound(res, `Registered Model with name=${name} not found`);
        const source = String(body.source ?? '');
        if (source.includes('..')) {
          return json(res, 400, {
            error_code: 'INVALID_PARAMETER_VALUE',
            message: `Invalid model version source: '${source}'.`,
          });
        }
        const v = this.addVersion(name, {
          source,
          description: String(body.description ?? ''),
          runId: typeof body.run_id === 'string' ? body.run_id : undefined,
          modelId: typeof body.model_id === 'string' ? body.model_id : undefined,
        });
        return json(res, 200, { model_version: versionJson(v) });
      }
      case `GET ${api}/model-versions/get`: {
        const name = q.get('name') ?? '';
        const version = q.get('version') ?? '';
        if (!/^[0-9]+$/.test(version)) {
          return json(res, 400, {
            error_code: 'INVALID_PARAMETER_VALUE',
            message: `Parameter 'version' must be an integer, got '${version}'.`,
          });
        }
        const v = this.findVersion(name, version);
        if (!v) return notFound(res, `Model Version (name=${name}, version=${version}) not found`);
        return json(res, 200, { model_version: versionJson(v, this.aliasesOf(v)) });
      }
      case `POST ${api}/model-versions/set-tag`: {
        const name = String(body.name ?? '');
        if (typeof body.version !== 'string') {
          return json(res, 400, {
            error_code: 'INVALID_PARAMETER_VALUE',
            message: `Invalid value ${JSON.stringify(body.version)} for parameter 'version' supplied:  Hint: Value was of type '${typeof body.version === 'number' ? 'int' : typeof body.version}'. See the API docs for more information about request parameters.`,
          });
        }
        const v = this.findVersion(name, body.version);
        if (!v) return notFound(res, `Model Version (name=${name}, version=${body.version}) not found`);
        const key = String(body.key ?? '');
        v.tags = [...(v.tags ?? []).filter((t) => t.key !== key), { key, value: String(body.value ?? '') }];
        return json(res, 200, {});
      }
      case `GET ${api}/model-versions/get-download-uri`: {
        const v = this.findVersion(q.get('name') ?? '', q.get('version') ?? '');
        if (!v)
          return notFound(
            res,
            `Model Version (name=${q.get('name')}, version=${q.get('version')}) not found`,
          );
        // Returned as stored, except models:/<id> which MLflow resolves to the logged model's location.
        const logged = /^models:\/(m-[0-9a-f]+)$/.exec(v.source);
        const uri = logged ? (this.loggedModels.get(logged[1]) ?? v.source) : v.source;
        return json(res, 200, { artifact_uri: uri });
      }
      case `GET ${api}/registered-models/alias`: {
        const name = q.get('name') ?? '';
        const alias = q.get('alias') ?? '';
        const version = this.aliases.get(name)?.get(alias);
        if (!this.versions.has(name)) return notFound(res, `Registered Model with name=${name} not found`);
        if (!version) {
          return json(res, 400, {
            error_code: 'INVALID_PARAMETER_VALUE',
            message: `Registered model alias ${alias} not found.`,
          });
        }
        const v = this.findVersion(name, version) as Version;
        return json(res, 200, { model_version: versionJson(v, this.aliasesOf(v)) });
      }
      case `POST ${api}/registered-models/alias`: {
        const name = String(body.name ?? '');
        if (typeof body.version !== 'string') {
          return json(res, 400, {
            error_code: 'INVALID_PARAMETER_VALUE',
            message: `Invalid value ${JSON.stringify(body.version)} for parameter 'version' supplied.`,
          });
        }
        if (!this.findVersion(name, body.version)) {
          return notFound(res, `Model Version (name=${name}, version=${body.version}) not found`);
        }
        if (String(body.alias).toLowerCase() === 'latest') {
          return json(res, 400, {
            error_code: 'INVALID_PARAMETER_VALUE',
            message: "'latest' alias name (case insensitive) is reserved.",
          });
        }
        this.aliases.get(name)?.set(String(body.alias), body.version);
        return json(res, 200, {});
      }
      case `GET ${api}/registered-models/get-latest-versions`:
      case `POST ${api}/registered-models/get-latest-versions`: {
        const name = method === 'GET' ? (q.get('name') ?? '') : String(body.name ?? '');
        const stages = method === 'GET' ? q.getAll('stages') : ((body.stages as string[] | undefined) ?? []);
        const list = this.versions.get(name);
        if (!list) return notFound(res, `Registered Model with name=${name} not found`);
        const valid = ['none', 'staging', 'production', 'archived'];
        const bad = stages.find((s) => !valid.includes(s.toLowerCase()));
        if (bad) {
          return json(res, 400, {
            error_code: 'INVALID_PARAMETER_VALUE',
            message: `Invalid Model Version stage: ${bad}. Value must be one of None, Staging, Production, Archived.`,
          });
        }
        const wanted = stages.length ? stages.map((s) => s.toLowerCase()) : valid;
        const latest = new Map<string, Version>();
        for (const v of list) {
          if (wanted.includes(v.current_stage.toLowerCase())) latest.set(v.current_stage, v);
        }
        // The quirk: no match is `{}`, not `{"model_versions": []}`.
        if (latest.size === 0) return json(res, 200, {});
        return json(res, 200, { model_versions: [...latest.values()].map((v) => versionJson(v)) });
      }
      default:
        res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
        res.end(HTML_404);
    }
  }

  private aliasesOf(v: Version): string[] {
    const out: string[] = [];
    for (const [alias, version] of this.aliases.get(v.name) ?? []) if (version === v.version) out.push(alias);
    return out.sort();
  }

  private listArtifacts(res: ServerResponse, dir: string): void {
    const prefix = dir.replace(/\/+$/, '') + '/';
    const files = new Map<string, { path: string; is_dir: boolean; file_size?: number }>();
    for (const [key, data] of this.artifacts) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length).split('/');
      if (rest.length === 1) files.set(rest[0], { path: rest[0], is_dir: false, file_size: data.length });
      else files.set(rest[0], { path: rest[0], is_dir: true });
    }
    if (files.size === 0) return json(res, 200, {});
    json(res, 200, { files: [...files.values()].sort((a, b) => a.path.localeCompare(b.path)) });
  }

  private download(res: ServerResponse, artifactPath: string): void {
    const data = this.artifacts.get(artifactPath);
    if (!data) {
      return json(res, 500, {
        error_code: 'INTERNAL_ERROR',
        message:
          'The following failures occurred while downloading one or more artifacts from <artifact-root>:\n' +
          `##### File ${artifactPath} #####\n[Errno 2] No such file or directory: '<artifact-root>/${artifactPath}'`,
      });
    }
    const name = artifactPath.split('/').pop() ?? 'file';
    res.writeHead(200, {
      // As recorded: MLflow serves the MLmodel as text/plain, binaries as application/octet-stream.
      'content-type': name === 'MLmodel' ? 'text/plain' : 'application/octet-stream',
      'content-disposition': `attachment; filename=${name}`,
      ...(this.faults.chunked ? {} : { 'content-length': String(data.length) }),
    });
    if (this.faults.truncateNext > 0) {
      this.faults.truncateNext--;
      res.write(data.subarray(0, Math.floor(data.length / 2)), () => res.socket?.destroy());
      return;
    }
    if (this.faults.chunked && this.faults.overlongBytes > 0) {
      res.write(data);
      res.end(Buffer.alloc(this.faults.overlongBytes, 0x5a));
      return;
    }
    res.end(data);
  }

  private tick(): number {
    return ++this.clock;
  }
}

function runJson(run: Run): { info: Record<string, unknown>; data: Record<string, unknown>; inputs: object } {
  return {
    info: {
      run_uuid: run.run_id,
      experiment_id: run.experiment_id,
      run_name: run.run_name,
      user_id: '',
      status: run.status,
      start_time: run.start_time,
      artifact_uri: run.artifact_uri,
      lifecycle_stage: 'active',
      run_id: run.run_id,
    },
    data: { tags: [{ key: 'mlflow.runName', value: run.run_name }] },
    inputs: {},
  };
}

function versionJson(v: Version, aliases?: string[]): Record<string, unknown> {
  const rest: Record<string, unknown> = { ...v };
  delete rest.model_id;
  return aliases && aliases.length ? { ...rest, aliases } : rest;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function notFound(res: ServerResponse, message: string): void {
  json(res, 404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message });
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
