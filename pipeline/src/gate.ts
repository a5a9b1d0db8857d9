import { performance } from 'node:perf_hooks';
import { Classifier, scoreImage } from '../../service/src';
import { ModelLoadError } from '../../service/src/model/format';
import { CliError } from './cli-error';
import { DEFAULT_LATENCY_BUDGET_MS } from './latency-budget';
import { sampleImages } from './samples';

/** Options of {@link validateModelDir}. */
export interface GateOptions {
  /**
   * Expected sha256 of every file read (what the pin will list); any difference fails the gate.
   * @default - not checked (`evaluate` of a local directory, which nothing pins yet)
   */
  readonly files?: Readonly<Record<string, string>>;
  /**
   * Budget for the median time of one sample image (preprocessing + inference, one core, after warm-up).
   * @default {@link DEFAULT_LATENCY_BUDGET_MS}
   */
  readonly latencyBudgetMs?: number;
  /**
   * Largest image accepted by the preprocessing, as the service's MAX_IMAGE_PIXELS.
   * @default DEFAULT_MAX_IMAGE_PIXELS
   */
  readonly maxImagePixels?: number;
}

/** What the gate measured. */
export interface GateReport {
  readonly labels: readonly string[];
  /** sha256 of the ONNX file. */
  readonly sha256: string;
  readonly samples: number;
  readonly medianMs: number;
  readonly maxMs: number;
  /** Top label per sample, in sample order. */
  readonly predictions: readonly string[];
}

/** Thrown when the gate's structural checks refuse the model; the message starts with "validation gate:". */
export class GateRefused extends CliError {
  constructor(message: string) {
    super(message);
    this.name = 'GateRefused';
  }
}

/**
 * The promotion gate's structural checks: refuses a model directory that would fail in production. It reuses the
 * service's own code: the directory resolves with the model format and its files are exactly `files`, the graph loads in
 * onnxruntime-node, its input/output names, shapes and element types fit the description, the label count equals the output width, and every bundled
 * sample image goes through the real preprocessing and returns finite, well-formed scores, with the median time
 * per image within the budget. Throws {@link GateRefused}.
 */
export async function validateModelDir(dir: string, opts: GateOptions): Promise<GateReport> {
  const budget = opts.latencyBudgetMs ?? DEFAULT_LATENCY_BUDGET_MS;
  let classifier: Classifier;
  try {
    classifier = await Classifier.open(dir, { expectedFiles: opts.files, maxPixels: opts.maxImagePixels });
  } catch (err) {
    if (err instanceof ModelLoadError) throw new GateRefused(`validation gate: ${err.message}`);
    throw err;
  }
  const { files } = classifier;
  const meta = files.metadata;
  try {
    const times: number[] = [];
    const predictions: string[] = [];
    let allLookLikeProbabilities = true;
    for (const sample of await sampleImages()) {
      const start = performance.now();
      let raw: Float32Array;
      try {
        raw = await classifier.rawScores(sample.bytes);
      } catch (err) {
        throw new GateRefused(
          `validation gate: sample image ${sample.name} failed: ${(err as Error).message}`,
        );
      }
      times.push(performance.now() - start);
      if (raw.length !== meta.labels.length || !raw.every((v) => Number.isFinite(v))) {
        throw new GateRefused(
          `validation gate: sample image ${sample.name} returned ${raw.length} scores ` +
            `(${meta.labels.length} labels expected) or non-finite values: the model output is not well-formed`,
        );
      }
      const sum = raw.reduce((a, b) => a + b, 0);
      const probabilities = raw.every((v) => v >= -1e-6 && v <= 1 + 1e-6) && Math.abs(sum - 1) <= 1e-3;
      allLookLikeProbabilities &&= probabilities;
      if (meta.output.kind === 'probabilities' && !probabilities) {
        throw new GateRefused(
          `validation gate: sample image ${sample.name}: output '${meta.output.name}' is declared 'probabilities' ` +
            `but its values sum to ${sum.toFixed(4)}: set output.kind to 'logits' in the model_gitops metadata or fix the model`,
        );
      }
      predictions.push(scoreImage(raw, meta.labels, meta.output.kind, 1).label);
    }
    // Logits that are a probability distribution on every sample are one: the service would apply softmax
    // a second time and serve flattened scores (0.03 for a class the model is sure of, with 100 classes).
    if (meta.output.kind === 'logits' && allLookLikeProbabilities) {
      throw new GateRefused(
        `validation gate: output '${meta.output.name}' is declared 'logits' but on every sample image its values ` +
          'are probabilities (in [0, 1], summing to 1): the service would apply softmax to them again; set ' +
          "output.kind to 'probabilities' in the model_gitops metadata",
      );
    }
    const sorted = [...times].sort((a, b) => a - b);
    const medianMs = sorted[Math.floor(sorted.length / 2)] ?? 0;
    const maxMs = sorted[sorted.length - 1] ?? 0;
    if (medianMs > budget) {
      throw new GateRefused(
        `validation gate: median time per sample image is ${medianMs.toFixed(1)} ms, over the budget of ` +
          `${budget} ms (--latency-budget-ms): the model is too slow for the service`,
      );
    }
    return { labels: meta.labels, sha256: files.sha256, samples: times.length, medianMs, maxMs, predictions };
  } finally {
    await classifier.close();
  }
}
