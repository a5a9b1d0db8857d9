import type { ModelIo, ModelMetadata } from '../model/format';
import type { SessionSettings } from '../model/loader';

/** `workerData` of an inference worker. */
export interface WorkerInit {
  readonly dir: string;
  readonly onnxFile: string;
  readonly onnx: Uint8Array;
  readonly metadata: ModelMetadata;
  readonly settings: SessionSettings;
}

/** Main thread → worker. */
export type ToWorker =
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
