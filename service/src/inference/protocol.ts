import type { Worker } from 'node:worker_threads';
import type { ExternalDataFile, ModelIo, ModelMetadata } from '../model/format';
import type { SessionSettings } from '../model/loader';

/** What an inference worker loads: its first message ({@link sendLoad}). */
export interface WorkerInit {
  readonly dir: string;
  readonly onnxFile: string;
  readonly onnx: Uint8Array;
  readonly externalData: readonly ExternalDataFile[];
  readonly metadata: ModelMetadata;
  readonly settings: SessionSettings;
}

/** Main thread → worker: `load` first, once. */
export type ToWorker =
  | { readonly type: 'load'; readonly init: WorkerInit }
  | { readonly type: 'run'; readonly id: number; readonly data: Float32Array; readonly batch: number }
  | { readonly type: 'close' };

/** Worker → main thread. */
export type FromWorker =
  | { readonly type: 'ready'; readonly io: ModelIo }
  | { readonly type: 'load-failed'; readonly message: string }
  | {
      readonly type: 'result';
      readonly id: number;
      readonly scores: Float32Array;
      readonly seconds: number;
      /** The job's `data`, transferred back so the pool can reuse its buffer. */
      readonly input: Float32Array;
    }
  | { readonly type: 'run-failed'; readonly id: number; readonly message: string };

/**
 * Sends a new worker the model to load. The bytes go as a copy whose buffer is transferred, not in
 * `workerData` (which a worker keeps for its whole life): once its session exists the worker holds no copy
 * of the model file (peak RSS 289 → 276 MiB with two workers and the default model: bench/README.md, A/B table).
 * `init.onnx` and `init.externalData` stay usable here, for the next replacement worker.
 */
export function sendLoad(worker: Worker, init: WorkerInit): void {
  const onnx = init.onnx.slice();
  const externalData = init.externalData.map((f) => ({ path: f.path, data: f.data.slice() }));
  const msg: ToWorker = { type: 'load', init: { ...init, onnx, externalData } };
  worker.postMessage(msg, [onnx.buffer, ...externalData.map((f) => f.data.buffer)]);
}
