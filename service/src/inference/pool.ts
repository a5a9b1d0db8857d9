import '../model/ort-telemetry'; // on the main thread, before any worker loads onnxruntime-node: see there
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { startWorkerThread } from '../build-or-source';
import { DEFAULT_MAX_IMAGE_PIXELS } from '../config';
import { ImageError, PredictionError } from '../errors';
import { ModelLoadError, valuesPerImage, type ModelFiles, type ModelIo } from '../model/format';
import type { SessionSettings } from '../model/loader';
import { preprocessImage } from '../preprocess';
import { sendLoad, type FromWorker, type ToWorker, type WorkerInit } from './protocol';

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
   * Largest width x height an image may have (checked from its header before decoding).
   * @default DEFAULT_MAX_IMAGE_PIXELS
   */
  readonly maxImagePixels?: number;
  /**
   * Test hook awaited after a job is given a worker and before it is sent there; the job's deadline is
   * checked again afterwards. @default - none
   */
  readonly beforeRun?: () => Promise<void>;
  /**
   * Worker failures in a row (a worker that exits, or a replacement that fails to load) after which the
   * pool stops replacing workers; once the last worker is gone it emits `failed`. The count restarts
   * when a job succeeds with every worker running. @default 5
   */
  readonly maxConsecutiveFailures?: number;
  /** Wait before replacing a dead worker; doubled after each further failure in a row, up to 10 s. @default 100 */
  readonly restartDelayMs?: number;
  /** Test hook that starts one worker thread and sends it `init` ({@link sendLoad}). @default - the inference worker script */
  readonly spawnWorker?: (init: WorkerInit) => Worker;
}

/** Events of an {@link InferencePool}, for logs. */
export interface InferencePoolEvents {
  /** A worker thread stopped unexpectedly (its running job failed). */
  'worker-exit': [
    info: {
      readonly exitCode: number;
      readonly error?: string;
      readonly liveWorkers: number;
      /** Delay before the replacement starts; null when the pool gave up replacing workers. */
      readonly retryInMs: number | null;
    },
  ];
  /** A replacement worker loaded the model and serves. */
  'worker-restart': [info: { readonly liveWorkers: number }];
  /** A replacement worker failed to load; `retryInMs` is null when the pool gave up replacing. */
  'restart-failed': [info: { readonly error: string; readonly retryInMs: number | null }];
  /** No worker is left and none will be started: the pool cannot serve again. */
  failed: [info: { readonly consecutiveFailures: number }];
}

/** The outcome of one job. */
export interface InferenceResult {
  /** Raw output, batch x classes. */
  readonly scores: Float32Array;
  /** Model run time in the worker. */
  readonly seconds: number;
  /** Decoding and normalising the images ({@link InferencePool.predict}; 0 for {@link InferencePool.run}). */
  readonly preprocessSeconds: number;
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

/** Starts one worker on `init`: `worker.js`, or `worker.ts` through tsx under ts-jest/tsx (see build-or-source). */
function spawnWorker(init: WorkerInit): Worker {
  const worker = startWorkerThread(__dirname, 'worker', {});
  sendLoad(worker, init);
  return worker;
}

const MAX_RESTART_DELAY_MS = 10_000;

/**
 * Input buffers of one image kept for reuse: enough for the images in flight at saturation. Each image's tensor
 * (192 KiB for 3x128x128, 588 KiB for 3x224x224) was a new allocation; reusing them lowered peak RSS at
 * saturation by ~37 MiB, at the same throughput (bench/README.md, A/B table).
 */
const MAX_SPARE_INPUTS = 16;

/**
 * A fixed set of inference workers behind a bounded FIFO queue. A job that cannot wait (queue full) is
 * refused at once with 503 + Retry-After; a job whose deadline passes gets 504 and, if it has not started,
 * never reaches a worker. A worker that dies is replaced after a back-off; its job fails with 500. While no
 * worker is running, jobs and admissions are refused at once with 503 `no_inference_worker`; after
 * `maxConsecutiveFailures` failures in a row the pool stops replacing workers and emits `failed` when
 * the last one is gone.
 */
export class InferencePool extends EventEmitter<InferencePoolEvents> {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private nextId = 1;
  private closing = false;
  private gaveUp = false;
  private consecutiveFailures = 0;
  private runsStarted = 0;
  private admitted = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly spareInputs: Float32Array[] = [];

  private constructor(
    private readonly opts: InferencePoolOptions,
    private readonly init: WorkerInit,
    readonly io: ModelIo,
  ) {
    super();
  }

  /** Starts the workers and resolves once every one has loaded and warmed up the model. */
  static async start(opts: InferencePoolOptions): Promise<InferencePool> {
    const init: WorkerInit = {
      dir: opts.files.dir,
      onnxFile: opts.files.onnxFile,
      onnx: opts.files.onnx,
      externalData: opts.files.externalData,
      metadata: opts.files.metadata,
      settings: opts.settings ?? {},
    };
    const spawn = opts.spawnWorker ?? spawnWorker;
    const started = await Promise.allSettled(
      Array.from({ length: Math.max(1, opts.workers) }, () => startWorker(spawn, init)),
    );
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.all(
        started.map((s) => (s.status === 'fulfilled' ? s.value.worker.terminate() : Promise.resolve(0))),
      );
      throw failed.reason;
    }
    const ok = started as PromiseFulfilledResult<{ worker: Worker; io: ModelIo }>[];
    const pool = new InferencePool(opts, init, (ok[0] as PromiseFulfilledResult<{ io: ModelIo }>).value.io);
    for (const s of ok) pool.adopt(s.value.worker);
    return pool;
  }

  /** Worker threads running now (0 while every worker is being replaced, or after `failed`). */
  get liveWorkers(): number {
    return this.slots.length;
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
   * Throws PredictionError `queue_full` (retry after 1 s) or `shutting_down`; otherwise returns the
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
    if (this.slots.length === 0) throw noWorker();
    if (full) {
      throw new PredictionError(
        'queue_full',
        `the inference queue is full (${this.opts.queueMax} waiting): retry shortly`,
        1,
      );
    }
  }

  /**
   * Classifies encoded images as one batch, the service's one prediction path: decodes and normalises them
   * (`preprocessImage`: sharp on the libuv pool, all images at once), then runs them in a worker. Rejects
   * with {@link ImageError} for the first image (by index) that cannot be used, once every image's decoding
   * has settled; PredictionError `timeout` when the deadline passed while decoding, otherwise as {@link run}.
   *
   * Decoding stays on this thread's libuv pool rather than in the workers: measured A/B (bench/README.md),
   * decoding in the workers cost 1.5 CPU-ms more per image and a quarter of the throughput, as each worker
   * then idles while its own image decodes.
   */
  async predict(
    images: readonly Uint8Array[],
    deadline: number,
    gone?: AbortSignal,
  ): Promise<InferenceResult> {
    const started = process.hrtime.bigint();
    const meta = this.opts.files.metadata;
    const limits = { maxPixels: this.opts.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS };
    const per = valuesPerImage(this.io);
    // Each image is normalised straight into its place in the batch: no per-image tensor, no concatenation.
    const data =
      images.length === 1
        ? (this.spareInputs.pop() ?? new Float32Array(per))
        : new Float32Array(per * images.length);
    try {
      // Every image settles first, so which image is reported does not depend on which decode failed sooner.
      const decoded = await Promise.allSettled(
        images.map((bytes, index) =>
          preprocessImage(bytes, meta, limits, data.subarray(index * per, (index + 1) * per)),
        ),
      );
      const index = decoded.findIndex((d) => d.status === 'rejected');
      if (index >= 0) {
        const err = (decoded[index] as PromiseRejectedResult).reason as unknown;
        throw err instanceof PredictionError ? new ImageError(index, err.code, err.message) : err;
      }
      if (Date.now() >= deadline) {
        throw new PredictionError('timeout', 'the request took longer than REQUEST_TIMEOUT_MS');
      }
    } catch (err) {
      this.recycle(data);
      throw err;
    }
    const preprocessSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { ...(await this.run(data, images.length, deadline, gone)), preprocessSeconds };
  }

  /** Keeps a one-image input buffer that is no longer used (back from a worker, or never sent) for reuse. */
  private recycle(data: Float32Array): void {
    if (data.length === valuesPerImage(this.io) && this.spareInputs.length < MAX_SPARE_INPUTS) {
      this.spareInputs.push(data);
    }
  }

  /**
   * Runs `batch` preprocessed images (concatenated in `data`; its buffer is transferred to the worker).
   * Rejects with PredictionError `queue_full`, `shutting_down`, `no_inference_worker`, `timeout` (`deadline`,
   * epoch ms, passed), `client_gone` (`gone` aborted while the job waited: it leaves the queue, so it neither
   * runs nor keeps a later request out) or `inference_failed` (the run or its worker failed).
   */
  run(data: Float32Array, batch: number, deadline: number, gone?: AbortSignal): Promise<InferenceResult> {
    const idle = this.slots.some((slot) => slot.job === null);
    try {
      if (gone?.aborted) throw clientGone();
      this.assertCapacity(!idle && this.queue.length >= this.opts.queueMax);
    } catch (err) {
      this.recycle(data);
      return Promise.reject(err as Error);
    }
    return new Promise<InferenceResult>((resolve, reject) => {
      const job: Job = { data, batch, deadline, settled: false, timer: undefined, resolve, reject };
      const delay = deadline - Date.now();
      // Timers longer than 2^31-1 ms fire at once in Node: a far deadline simply gets no timer.
      if (delay < 2 ** 31 - 1) job.timer = setTimeout(() => this.expire(job), Math.max(0, delay));
      gone?.addEventListener('abort', () => this.withdraw(job), { once: true });
      this.queue.push(job);
      this.pump();
    });
  }

  /** Takes a job whose client left out of the queue; a job a worker has taken runs to its end. */
  private withdraw(job: Job): void {
    const index = this.queue.indexOf(job);
    if (index < 0) return;
    this.queue.splice(index, 1);
    this.recycle(job.data);
    this.settle(job, clientGone());
  }

  /** Stops the workers: waiting jobs fail with 503, running jobs finish first, then each session is released. */
  async close(): Promise<void> {
    this.closing = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
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

  private adopt(worker: Worker): void {
    const slot: Slot = { worker, job: null, jobId: 0 };
    this.slots.push(slot);
    let lastError: string | undefined;
    worker.on('message', (msg: FromWorker) => {
      if (msg.type === 'ready' || msg.type === 'load-failed' || msg.id !== slot.jobId || !slot.job) return;
      const job = slot.job;
      slot.job = null;
      if (msg.type === 'result') {
        if (this.slots.length >= Math.max(1, this.opts.workers)) this.consecutiveFailures = 0;
        this.recycle(msg.input);
        this.settle(job, null, { scores: msg.scores, seconds: msg.seconds, preprocessSeconds: 0 });
      } else this.settle(job, new PredictionError('inference_failed', `inference failed: ${msg.message}`));
      this.notifyIdle();
      this.pump();
    });
    // Without an 'error' listener an uncaught error in the worker would crash this process; it is
    // reported with the 'exit' that always follows.
    worker.on('error', (err) => (lastError = err.message));
    worker.on('exit', (exitCode) => {
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots.splice(index, 1);
      if (slot.job)
        this.settle(slot.job, new PredictionError('inference_failed', 'the inference worker stopped'));
      slot.job = null;
      this.notifyIdle();
      if (this.closing) return;
      const liveWorkers = this.slots.length;
      this.workerFailed((retryInMs) =>
        this.emit('worker-exit', { exitCode, error: lastError, liveWorkers, retryInMs }),
      );
    });
  }

  /**
   * Counts a failure and decides: a replacement after the back-off, or (too many failures in a row) none.
   * `report` gets the delay before the replacement, or null when the pool gave up; `failed` follows once
   * no worker is left.
   */
  private workerFailed(report: (retryInMs: number | null) => void): void {
    this.consecutiveFailures += 1;
    if (this.slots.length === 0) {
      // Nothing can serve the waiting jobs soon: refuse them now rather than let them run into 504.
      for (const job of this.queue.splice(0)) this.settle(job, noWorker());
    }
    if (this.consecutiveFailures > (this.opts.maxConsecutiveFailures ?? 5)) this.gaveUp = true;
    const delay = this.gaveUp
      ? null
      : Math.min(
          MAX_RESTART_DELAY_MS,
          (this.opts.restartDelayMs ?? 100) * 2 ** (this.consecutiveFailures - 1),
        );
    report(delay);
    if (delay === null) {
      if (this.slots.length === 0) this.emit('failed', { consecutiveFailures: this.consecutiveFailures });
      return;
    }
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      startWorker(this.opts.spawnWorker ?? spawnWorker, this.init).then(
        ({ worker }) => {
          if (this.closing) {
            void worker.terminate();
            return;
          }
          this.adopt(worker);
          this.emit('worker-restart', { liveWorkers: this.slots.length });
          this.pump();
        },
        (err: unknown) => {
          if (this.closing) return;
          const error = (err as Error).message;
          this.workerFailed((retryInMs) => this.emit('restart-failed', { error, retryInMs }));
        },
      );
    }, delay);
    this.restartTimers.add(timer);
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
    this.settle(job, new PredictionError('timeout', 'the request took longer than REQUEST_TIMEOUT_MS'));
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

function clientGone(): PredictionError {
  return new PredictionError('client_gone', 'the client closed the connection before its images were run');
}

function shuttingDown(): PredictionError {
  return new PredictionError('shutting_down', 'the service is shutting down: retry on another replica', 1);
}

function noWorker(): PredictionError {
  return new PredictionError(
    'no_inference_worker',
    'no inference worker is running (replacing a crashed one): retry shortly or on another replica',
    1,
  );
}

function startWorker(
  spawn: (init: WorkerInit) => Worker,
  init: WorkerInit,
): Promise<{ worker: Worker; io: ModelIo }> {
  return new Promise((resolve, reject) => {
    const worker = spawn(init);
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
