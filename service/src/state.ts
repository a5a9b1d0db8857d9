import type { ModelIo, ModelMetadata } from './model/format';
import type { InferenceResult } from './inference/pool';

/** What `/predict` needs from the inference engine (the worker pool, or a stand-in in tests). */
export interface InferenceEngine {
  /** Model input/output facts checked at load. */
  readonly io: ModelIo;
  /** Jobs waiting for a worker. */
  readonly queueDepth: number;
  /** Workers able to run jobs now; 0 makes the instance not ready. */
  readonly liveWorkers: number;
  /** Admits one request or throws 503; returns the function that releases its place. */
  admit(): () => void;
  /**
   * Decodes and classifies encoded images as one batch; rejects with ImageError 400/422, AppError 503/504/500.
   * When `gone` aborts (the client left) before a worker takes the batch, it leaves the queue.
   */
  predict(images: readonly Uint8Array[], deadline: number, gone?: AbortSignal): Promise<InferenceResult>;
  /** Runs a batch already in the model's input form; rejects with AppError 503/504/500. `gone`: as for predict. */
  run(data: Float32Array, batch: number, deadline: number, gone?: AbortSignal): Promise<InferenceResult>;
}

/** The model an instance serves, as configured (MODEL_NAME, MODEL_VERSION): known before it loads. */
export interface ServedModel {
  readonly name: string;
  readonly version: string;
}

/** The loaded model as the API reports it. */
export interface LoadedModel extends ServedModel {
  readonly sha256: string;
  /** sha256 of the resolved serving description (canonical JSON). */
  readonly metadataSha256: string;
  /** sha256 of every file the model was read from, by file name. */
  readonly files: Readonly<Record<string, string>>;
  readonly metadata: ModelMetadata;
  readonly loadedAt: Date;
  readonly loadSeconds: number;
  readonly engine: InferenceEngine;
}

/**
 * Mutable lifecycle of one service instance: loading → ready → draining; not ready either while no
 * inference worker runs.
 */
export class ServiceState {
  private current: LoadedModel | null = null;
  private isDraining = false;

  /** @param served the model this instance serves, named before it is loaded */
  constructor(readonly served: ServedModel) {}

  /** The model, once loaded and warmed up. */
  get model(): LoadedModel | null {
    return this.current;
  }

  /** True once SIGTERM (or {@link startDraining}) was received. */
  get draining(): boolean {
    return this.isDraining;
  }

  /** Marks the served model loaded and warmed up: readiness can turn 200. */
  setModel(model: Omit<LoadedModel, keyof ServedModel>): void {
    this.current = { ...this.served, ...model };
  }

  /** Readiness turns 503 for good; requests are still served. */
  startDraining(): void {
    this.isDraining = true;
  }

  /** Why the instance is not ready, or null when it is. */
  notReadyReason(): string | null {
    if (this.draining) return 'draining';
    if (!this.current) return 'model_loading';
    if (this.current.engine.liveWorkers === 0) return 'no_inference_worker';
    return null;
  }
}
