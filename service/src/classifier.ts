import { InferencePool } from './inference/pool';
import { readModelFiles, type ModelFiles } from './model/format';
import type { SessionSettings } from './model/loader';
import { scoreImage, type ImageScores } from './scores';

/** Options of {@link Classifier.open}. */
export interface ClassifierOptions extends SessionSettings {
  /** Expected sha256 of the ONNX file; a mismatch fails the open. @default - not checked */
  readonly expectedSha256?: string;
  /** Expected sha256 of every file read (a pin's `files`); any difference fails the open. @default - not checked */
  readonly expectedFiles?: Readonly<Record<string, string>>;
  /** Worker threads. @default 1 */
  readonly workers?: number;
  /** Pixel limit per image. @default DEFAULT_MAX_IMAGE_PIXELS (the service's MAX_IMAGE_PIXELS default) */
  readonly maxPixels?: number;
}

/**
 * The service's own load → validate → preprocess → infer path as a library, for the promotion gate and
 * tools: exactly what the service does with a model directory, without HTTP — the same worker pool
 * (`InferencePool.predict`: decoding with sharp, inference in a worker thread; so it also works inside
 * Jest, whose sandbox breaks in-process ONNX Runtime outputs).
 */
export class Classifier {
  private constructor(
    /** The model files as read and checked. */
    readonly files: ModelFiles,
    private readonly pool: InferencePool,
  ) {}

  /**
   * Resolves and validates the model directory (description, digests, session input/output, warm-up run).
   * Throws `ModelLoadError` with the reason.
   */
  static async open(dir: string, opts: ClassifierOptions = {}): Promise<Classifier> {
    const files = await readModelFiles(dir, { sha256: opts.expectedSha256, files: opts.expectedFiles });
    const pool = await InferencePool.start({
      files,
      workers: opts.workers ?? 1,
      settings: { intraOpNumThreads: opts.intraOpNumThreads, interOpNumThreads: opts.interOpNumThreads },
      queueMax: Number.MAX_SAFE_INTEGER,
      maxImagePixels: opts.maxPixels,
    });
    return new Classifier(files, pool);
  }

  /**
   * Raw model output (logits or probabilities, one per label) for one encoded image. Throws `ImageError`
   * (an AppError, 400/422) for an image that cannot be used.
   */
  async rawScores(image: Uint8Array): Promise<Float32Array> {
    return (await this.pool.predict([image], Infinity)).scores;
  }

  /** Top label, score and top-k (all classes by default) for one encoded image, as /predict reports them. */
  async classify(image: Uint8Array, topK = this.files.metadata.labels.length): Promise<ImageScores> {
    const meta = this.files.metadata;
    return scoreImage(await this.rawScores(image), meta.labels, meta.output.kind, topK);
  }

  /** Stops the worker. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
