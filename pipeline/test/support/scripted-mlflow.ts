import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * An HTTP server on 127.0.0.1 that answers each request with the next scripted reply and records what it was
 * sent. For the answers `FakeMlflow` (a working registry) never gives: a 200 that is not JSON or not the
 * documented shape, MLflow's HTML 405, a JSON 403 from an auth layer, a proxy's 502 page, an answer cut
 * mid-body. The MLflow-shaped replies below copy the recorded ones (`RECORDED`).
 */

export interface Reply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** A string is sent as is; anything else as JSON (with `content-type: application/json`). */
  readonly body?: unknown;
  /** Announce this Content-Length but send only the first `cutAfter` bytes, then destroy the socket. */
  readonly cutAfter?: number;
  /** Never answer (the client's timeout must fire). */
  readonly hang?: boolean;
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** `performance.now()` when the request arrived. */
  readonly at: number;
}

/** Replies as MLflow 3.6 sent them (see the pipeline README's MLflow notes). */
export const RECORDED = {
  health: { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: 'OK' },
  wrongMethod: {
    status: 405,
    headers: { 'content-type': 'text/html; charset=utf-8' },
    body:
      '<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n' +
      '<p>The method is not allowed for the requested URL.</p>\n',
  },
  emptyObject: { status: 200, body: {} },
  /** `model-versions/get` of version 1. */
  modelVersion: {
    status: 200,
    body: {
      model_version: {
        name: 'cats-dogs-classifier',
        version: '1',
        creation_timestamp: 1795352586649,
        last_updated_timestamp: 1795352586649,
        current_stage: 'None',
        description: 'first export',
        source: 'mlflow-artifacts:/1/f77c2d593e9c4294ae5441b1e957b260/artifacts/model',
        run_id: 'f77c2d593e9c4294ae5441b1e957b260',
        status: 'READY',
        tags: [{ key: 'format', value: 'onnx' }],
        run_link: '',
      },
    },
  },
  /** `runs/create` (and `runs/get`) of run f77c…. */
  run: {
    status: 200,
    body: {
      run: {
        info: {
          run_uuid: 'f77c2d593e9c4294ae5441b1e957b260',
          experiment_id: '1',
          run_name: 'train-onnx',
          user_id: '',
          status: 'RUNNING',
          start_time: 1795352586524,
          artifact_uri: 'mlflow-artifacts:/1/f77c2d593e9c4294ae5441b1e957b260/artifacts',
          lifecycle_stage: 'active',
          run_id: 'f77c2d593e9c4294ae5441b1e957b260',
        },
        data: {
          tags: [
            { key: 'mlflow.source.type', value: 'LOCAL' },
            { key: 'mlflow.runName', value: 'train-onnx' },
          ],
        },
        inputs: {},
      },
    },
  },
} satisfies Record<string, Reply>;

export class ScriptedMlflow {
  readonly requests: RecordedRequest[] = [];
  private readonly replies: Reply[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    /** Sent when the script is used up. */
    private readonly fallback: Reply,
  ) {}

  /** Starts a server on a random port of 127.0.0.1; once `replies` are used up it answers `fallback`. */
  static async start(fallback: Reply = RECORDED.emptyObject): Promise<ScriptedMlflow> {
    const holder: { self?: ScriptedMlflow } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const s = holder.self as ScriptedMlflow;
        s.requests.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: performance.now(),
        });
        const reply = s.replies.shift() ?? s.fallback;
        if (reply.hang) return;
        const isText = typeof reply.body === 'string';
        const payload = Buffer.from(
          reply.body === undefined ? '' : isText ? (reply.body as string) : JSON.stringify(reply.body),
        );
        res.writeHead(reply.status, {
          ...(isText || reply.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...reply.headers,
          'content-length': String(payload.length),
        });
        if (reply.cutAfter !== undefined) {
          res.write(payload.subarray(0, reply.cutAfter), () => res.socket?.destroy());
          return;
        }
        res.end(payload);
      });
    });
    const self = new ScriptedMlflow(server, fallback);
    holder.self = self;
    server.on('connection', (s) => {
      self.sockets.add(s);
      s.on('close', () => self.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Queues replies, sent in order to the next requests. */
  reply(...replies: Reply[]): void {
    this.replies.push(...replies);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
