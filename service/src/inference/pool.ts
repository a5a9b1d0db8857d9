import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { AppError } from '../errors';
import { ModelLoadError, type ModelFiles, type ModelIo, type SessionSettings } from '../model/loader';
import type { FromWorker, ToWorker, WorkerInit } from './protocol';

/** Options of {@link InferencePool.start}. */
export interface InferencePoolOptions {
  /** The model to load in every worker (bytes already read and checked). */
  readonly files: ModelFiles;
  /** Worker threads, each with its own session. */
  readonly workers: number;
  /** ONNX Runtime threads per session. @default - 1 intra-op, 1 inter-op */
  readonly settings?: SessionSettings;
  /** Jobs allowed to wait for a free worker; a job beyond this is refused with 503. */
  readonly queueMax: number;
  /**
   * Test hook awaited after a job is given a worker and before it is sent there; the job's deadline is
   * checked again afterwards. @default - none
   */
  readonly beforeRun?: () => Promise<void>;
}

/** The outcome of one job. */
export interface InferenceResult {
  /** Raw output, batch x classes. */
  readonly scores: Float32Array;
  /** Model run time in the worker. */
  readonly seconds: number;
}

interface Job {
  readonly data: Float32Array;
  readonly batch: number;
  readonly deadline: number;
  settled: boolean;
  timer: NodeJS.Timeout | undefined;
  resolve(result: InferenceResult): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
  jobId: number;
}

const WORKER_JS = join(__dirname, 'worker.js');
const WORKER_TS = join(__dirname, 'worker.ts');

/**
 * Starts one worker. From compiled JS it runs `worker.js`; under ts-jest/tsx (no worker.js next to this
 * file) it registers tsx in the worker first and loads `worker.ts`.
 */
function spawnWorker(init: WorkerInit): Worker {
  if (existsSync(WORKER_JS)) return new Worker(WORKER_JS, { workerData: init });
  const code = `require('tsx/cjs/api').register(); require(${JSON.stringify(WORKER_TS)});`;
  return new Worker(code, { eval: true, workerData: init });
}

/**
 * A fixed set of inference workers behind a bounded FIFO queue. A job that cannot wait (queue full) is
 * refused at once with 503 + Retry-After; a job whose deadline passes gets 504 and, if it has not started,
 * never reaches a worker. A worker that dies is replaced; its job fails with 500.
 */
export class InferencePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closing = false;
  private runsStarted = 0;
  private admitted = 0;
  private idleWaiters: Array<() => void> = [];

  private constructor(
    private readonly opts: InferencePoolOptions,
    readonly io: ModelIo,
  ) {}

  /** Starts the workers and resolves once every one has loaded and warmed up the model. */
  static async start(opts: InferencePoolOptions): Promise<InferencePool> {
    const init: WorkerInit = {
      dir: opts.files.dir,
      onnx: opts.files.onnx,
      metadata: opts.files.metadata,
      settings: opts.settings ?? {},
    };
    const started = await Promise.allSettled(
      Array.from({ length: Math.max(1, opts.workers) }, () => startWorker(init)),
    );
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.all(
        started.map((s) => (s.status === 'fulfilled' ? s.value.worker.terminate() : Promise.resolve(0))),
      );
      throw failed.reason;
    }
    const ok = started as PromiseFulfilledResult<{ worker: Worker; io: ModelIo }>[];
    const pool = new InferencePool(opts, (ok[0] as PromiseFulfilledResult<{ io: ModelIo }>).value.io);
    for (const s of ok) pool.adopt(s.value.worker, init);
    return pool;
  }

  /** Jobs waiting for a worker. */
  get queueDepth(): number {
    return this.queue.length;
  }

  /** Workers running a job now. */
  get busyWorkers(): number {
    return this.slots.filter((s) => s.job !== null).length;
  }

  /** Jobs handed to a worker since start (dropped jobs are not counted). */
  get runs(): number {
    return this.runsStarted;
  }

  /**
   * Admission control for requests, called before any expensive work (body, decoding): at most
   * `workers + queueMax` requests may be admitted at once, so at most `queueMax` ever wait for a worker.
   * Throws AppError 503 (`queue_full` with Retry-After, or `shutting_down`); otherwise returns the
   * function that releases the place (idempotent).
   */
  admit(): () => void {
    this.assertCapacity(this.admitted >= this.slots.length + this.opts.queueMax);
    this.admitted += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.admitted -= 1;
    };
  }

  /** Requests admitted and not yet released. */
  get admittedRequests(): number {
    return this.admitted;
  }

  private assertCapacity(full: boolean): void {
    if (this.closing) throw shuttingDown();
    if (full) {
      throw new AppError(
        503,
        'queue_full',
        `the inference queue is full (${this.opts.queueMax} waiting): retry shortly`,
        { 'Retry-After': '1' },
      );
    }
  }

  /**
   * Runs `batch` preprocessed images (concatenated in `data`; its buffer is transferred to the worker).
   * Rejects with AppError 503 (queue full), 504 (`deadline`, epoch ms, passed) or 500 (the worker failed).
   */
  run(data: Float32Array, batch: number, deadline: number): Promise<InferenceResult> {
    const idle = this.slots.some((slot) => slot.job === null);
    try {
      this.assertCapacity(!idle && this.queue.length >= this.opts.queueMax);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise<InferenceResult>((resolve, reject) => {
      const job: Job = { data, batch, deadline, settled: false, timer: undefined, resolve, reject };
      const delay = deadline - Date.now();
      // Timers longer than 2^31-1 ms fire at once in Node: a far deadline simply gets no timer.
      if (delay < 2 ** 31 - 1) job.timer = setTimeout(() => this.expire(job), Math.max(0, delay));
      this.queue.push(job);
      this.pump();
    });
  }

  /** Stops the workers: waiting jobs fail with 503, running jobs finish first, then each session is released. */
  async close(): Promise<void> {
    this.closing = true;
    for (const job of this.queue.splice(0)) {
      this.settle(job, shuttingDown());
    }
    while (this.busyWorkers > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<void>((done) => {
            slot.worker.once('exit', () => done());
            const msg: ToWorker = { type: 'close' };
            slot.worker.postMessage(msg);
            // A worker that does not close in 2 s is terminated.
            setTimeout(() => void slot.worker.terminate(), 2000).unref();
          }),
      ),
    );
  }

  private adopt(worker: Worker, init: WorkerInit): void {
    const slot: Slot = { worker, job: null, jobId: 0 };
    this.slots.push(slot);
    worker.on('message', (msg: FromWorker) => {
      if ((msg.type !== 'result' && msg.type !== 'run-failed') || msg.id !== slot.jobId || !slot.job) return;
      const job = slot.job;
      slot.job = null;
      if (msg.type === 'result') this.settle(job, null, { scores: msg.scores, seconds: msg.seconds });
      else this.settle(job, new AppError(500, 'inference_failed', `inference failed: ${msg.message}`));
      this.notifyIdle();
      this.pump();
    });
    worker.on('error', () => {
      // Reported through 'exit' below; the listener keeps an uncaught worker error from crashing the process.
    });
    worker.on('exit', () => {
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots.splice(index, 1);
      if (slot.job)
        this.settle(slot.job, new AppError(500, 'inference_failed', 'the inference worker stopped'));
      slot.job = null;
      this.notifyIdle();
      if (this.closing) return;
      startWorker(init).then(
        (fresh) => {
          if (this.closing) void fresh.worker.terminate();
          else {
            this.adopt(fresh.worker, init);
            this.pump();
          }
        },
        () => undefined, // the model loaded before, so this is transient; the next exit retries
      );
    });
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.job !== null) continue;
      let job = this.queue.shift();
      while (job?.settled) job = this.queue.shift();
      if (!job) break;
      void this.dispatch(slot, job);
    }
  }

  private async dispatch(slot: Slot, job: Job): Promise<void> {
    slot.job = job;
    slot.jobId = this.nextId++;
    if (this.opts.beforeRun) await this.opts.beforeRun();
    if (job.settled || Date.now() >= job.deadline) {
      // Timed out while waiting: dropped before inference.
      this.expire(job);
      slot.job = null;
      this.notifyIdle();
      this.pump();
      return;
    }
    this.runsStarted += 1;
    const msg: ToWorker = { type: 'run', id: slot.jobId, data: job.data, batch: job.batch };
    slot.worker.postMessage(msg, [job.data.buffer as ArrayBuffer]);
  }

  private expire(job: Job): void {
    const index = this.queue.indexOf(job);
    if (index >= 0) {
      this.queue.splice(index, 1);
    }
    this.settle(job, new AppError(504, 'timeout', 'the request took longer than REQUEST_TIMEOUT_MS'));
  }

  /** Wakes close() whenever a worker finishes a job. */
  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  private settle(job: Job, err: Error | null, result?: InferenceResult): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    if (err) job.reject(err);
    else job.resolve(result as InferenceResult);
  }
}

function shuttingDown(): AppError {
  return new AppError(503, 'shutting_down', 'the service is shutting down: retry on another replica', {
    'Retry-After': '1',
  });
}

function startWorker(init: WorkerInit): Promise<{ worker: Worker; io: ModelIo }> {
  return new Promise((resolve, reject) => {
    const worker = spawnWorker(init);
    const onMessage = (msg: FromWorker): void => {
      if (msg.type === 'ready') {
        worker.off('exit', onExit);
        worker.off('message', onMessage);
        resolve({ worker, io: msg.io });
      } else if (msg.type === 'load-failed') {
        worker.off('exit', onExit);
        void worker.terminate();
        reject(new ModelLoadError(msg.message));
      }
    };
    const onExit = (code: number): void =>
      reject(new ModelLoadError(`inference worker exited (code ${code}) while loading the model`));
    worker.on('message', onMessage);
    worker.on('exit', onExit);
    worker.once('error', (err) =>
      reject(new ModelLoadError(`inference worker failed while loading: ${err.message}`)),
    );
  });
}
