import { Classifier, ImageError, type ImageScores } from '../../../service/src';
import { ModelLoadError } from '../../../service/src/model/format';
import { CliError } from '../cli-error';
import type { GoldenSet } from './golden-set';

/**
 * A class of the golden set as the model sees it: the folder's label and the model's class indices carrying it.
 * Labels are unique today; where a model repeats a label at several indices, a folder of that name stands for
 * all of them (a prediction of any of them counts as correct) and the class is keyed by the lowest index.
 */
export interface GoldenClass {
  /** The lowest model class index with this label: the class's identity in every table. */
  readonly index: number;
  readonly indices: readonly number[];
  readonly label: string;
}

/** Per-class outcome. */
export interface ClassResult extends GoldenClass {
  /** Golden images of the class. */
  readonly count: number;
  /** Of those, predicted as the class. */
  readonly correct: number;
  /** correct / count, 0 … 1. */
  readonly recall: number;
}

/** The model's answer for one golden image. */
export interface ImageResult {
  readonly path: string;
  readonly sha256: string;
  /** Class index of the folder (see {@link GoldenClass.index}). */
  readonly expected: number;
  /** Top class index, label and score, as /predict reports them. */
  readonly predicted: number;
  readonly label: string;
  readonly score: number;
  readonly correct: boolean;
}

/** What one model did on one golden set. */
export interface Evaluation {
  readonly goldenSet: { readonly source: string; readonly digest: string };
  /** The model's labels, by class index. */
  readonly labels: readonly string[];
  readonly samples: number;
  readonly correct: number;
  /** correct / samples, 0 … 1. */
  readonly accuracy: number;
  /** One row per golden-set folder, in folder order. */
  readonly perClass: readonly ClassResult[];
  /** confusion[r][c]: images of perClass[r] whose top class index is c. */
  readonly confusion: readonly (readonly number[])[];
  /** Per image, in golden-set order. */
  readonly images: readonly ImageResult[];
}

/**
 * Maps golden-set folder names to the model's classes. A folder whose name is no label of the model is an
 * error naming the folder and the labels, or with `unknownFolders: 'miss'` (the champion, when the challenger
 * adds a class) a class the model can never predict: index -1, every image of it counted wrong.
 */
export function mapFoldersToClasses(
  folders: readonly string[],
  labels: readonly string[],
  source: string,
  unknownFolders: 'error' | 'miss' = 'error',
): Map<string, GoldenClass> {
  const out = new Map<string, GoldenClass>();
  for (const folder of folders) {
    const indices = labels.flatMap((l, i) => (l === folder ? [i] : []));
    if (indices.length === 0 && unknownFolders === 'miss') {
      out.set(folder, { index: -1, indices: [], label: folder });
      continue;
    }
    if (indices.length === 0) {
      const shown = labels.slice(0, 20).join(', ') + (labels.length > 20 ? ', …' : '');
      throw new CliError(
        `golden set ${source}: folder '${folder}' is not a label of the model (labels: ${shown}): ` +
          'rename the folder to the label it holds, or remove it',
      );
    }
    out.set(folder, { index: indices[0] as number, indices, label: folder });
  }
  return out;
}

/**
 * Runs every golden image through the service's own preprocessing and inference (`Classifier`) and scores the
 * answers. An image that cannot be decoded is an error naming it.
 */
export async function evaluateClassifier(
  classifier: Classifier,
  golden: GoldenSet,
  unknownFolders: 'error' | 'miss' = 'error',
): Promise<Evaluation> {
  const labels = classifier.files.metadata.labels;
  const classes = mapFoldersToClasses(golden.folders, labels, golden.source, unknownFolders);
  const rows = [...classes.values()];
  const confusion = rows.map(() => new Array<number>(labels.length).fill(0));
  const images: ImageResult[] = [];
  for (const image of golden.images) {
    const cls = classes.get(image.folder) as GoldenClass;
    let scores: ImageScores;
    try {
      scores = await classifier.classify(image.bytes);
    } catch (err) {
      if (!(err instanceof ImageError)) throw err;
      throw new CliError(
        `golden set ${golden.source}: '${image.path}' cannot be used: ${err.message}: ` +
          'replace it with a JPEG, PNG or WebP image or remove it',
      );
    }
    // NaN never compares greater, so an all-NaN answer would read as class 0 and could pass for correct.
    if (scores.topK.some((c) => !Number.isFinite(c.score))) {
      throw new CliError(
        `golden set ${golden.source}: the model's scores for '${image.path}' are not all numbers ` +
          `(${scores.topK.map((c) => c.score).join(', ')}): a model that cannot score an image cannot be ` +
          'served; fix the model and register it again',
      );
    }
    const predicted = scores.index;
    confusion[rows.indexOf(cls)]![predicted]! += 1;
    images.push({
      path: image.path,
      sha256: image.sha256,
      expected: cls.index,
      predicted,
      label: scores.label,
      score: scores.score,
      correct: cls.indices.includes(predicted),
    });
  }
  // From the confusion matrix, whose rows are folders: every folder a model has no label for has index -1.
  const perClass = rows.map((cls, r) => {
    const row = confusion[r]!;
    const count = row.reduce((a, b) => a + b, 0);
    const correct = cls.indices.reduce((a, i) => a + (row[i] ?? 0), 0);
    return { ...cls, count, correct, recall: count ? correct / count : 0 };
  });
  const correct = images.filter((i) => i.correct).length;
  return {
    goldenSet: { source: golden.source, digest: golden.digest },
    labels,
    samples: images.length,
    correct,
    accuracy: images.length ? correct / images.length : 0,
    perClass,
    confusion,
    images,
  };
}

/** Options of {@link evaluateModelDir}. */
export interface EvaluateDirOptions {
  /** sha256 the ONNX file must have. @default - not checked */
  readonly expectedSha256?: string;
  /** sha256 of every file the model directory must consist of (a pin's `files`). @default - not checked */
  readonly expectedFiles?: Readonly<Record<string, string>>;
  /** What the model is, for error messages ("challenger", "champion (version 3)"). @default 'model' */
  readonly role?: string;
  /** See {@link mapFoldersToClasses}. @default 'error' */
  readonly unknownFolders?: 'error' | 'miss';
}

/** Opens a model directory with the service's code, evaluates it on `golden` and closes it. */
export async function evaluateModelDir(
  dir: string,
  golden: GoldenSet,
  opts: EvaluateDirOptions = {},
): Promise<Evaluation> {
  let classifier: Classifier;
  try {
    classifier = await Classifier.open(dir, {
      expectedSha256: opts.expectedSha256,
      expectedFiles: opts.expectedFiles,
    });
  } catch (err) {
    if (err instanceof ModelLoadError) {
      throw new CliError(`evaluation: the ${opts.role ?? 'model'} cannot be loaded: ${err.message}`);
    }
    throw err;
  }
  try {
    return await evaluateClassifier(classifier, golden, opts.unknownFolders);
  } finally {
    await classifier.close();
  }
}

/** Share of golden images where two evaluations of the same golden set give the same top label, 0 … 1. */
export function agreement(a: Evaluation, b: Evaluation): number {
  if (a.goldenSet.digest !== b.goldenSet.digest) {
    throw new Error('agreement needs two evaluations of the same golden set');
  }
  const byPath = new Map(b.images.map((i) => [i.path, i.label]));
  const same = a.images.filter((i) => byPath.get(i.path) === i.label).length;
  return a.images.length ? same / a.images.length : 0;
}
