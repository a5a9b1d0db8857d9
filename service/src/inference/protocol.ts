import type { PredictionErrorCode } from '../errors';
import type { ModelIo, ModelMetadata } from '../model/format';
import type { SessionSettings } from '../model/loader';

/** `workerData` of an inference worker. */
export interface WorkerInit {
  readonly dir: string;
  readonly onnxFile: string;
  readonly onnx: Uint8Array;
  readonly metadata: ModelMetadata;
  readonly settings: SessionSettings;
  /** Largest width x height an image job may decode (MAX_IMAGE_PIXELS). */
  readonly maxPixels: number;
}

/** What one job gives the worker: encoded images it decodes itself, or model input already made. */
export type JobInput =
  | { readonly kind: 'images'; readonly images: readonly Uint8Array[] }
  | { readonly kind: 'tensor'; readonly data: Float32Array; readonly batch: number };

/** Main thread → worker. */
export type ToWorker =
  { readonly type: 'run'; readonly id: number; readonly input: JobInput } | { readonly type: 'close' };

/** Worker → main thread. */
export type FromWorker =
  | { readonly type: 'ready'; readonly io: ModelIo }
  | { readonly type: 'load-failed'; readonly message: string }
  | {
      readonly type: 'result';
      readonly id: number;
      readonly scores: Float32Array;
      /** Decoding and normalising the job's images (0 for a tensor job). */
      readonly preprocessSeconds: number;
      /** The model run. */
      readonly seconds: number;
    }
  | {
      readonly type: 'image-failed';
      readonly id: number;
      /** Which image of the job. */
      readonly index: number;
      readonly code: PredictionErrorCode;
      readonly message: string;
    }
  | { readonly type: 'run-failed'; readonly id: number; readonly message: string };
