import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder, seededRandom, type Dim } from '../src/model/onnx-builder';

/** The recorded MLflow files (see fixtures/mlflow/README.md). */
export const MLFLOW_FIXTURES = join(__dirname, 'fixtures', 'mlflow');

/** The fixture's bytes. */
export function fixture(name: string): Buffer {
  return readFileSync(join(MLFLOW_FIXTURES, name));
}

/** Options of {@link softmaxClassifier}. */
export interface SoftmaxClassifierOptions {
  /** Input dims. @default ['batch', 3, 224, 224] (what MLmodel.with-metadata's signature declares) */
  readonly input?: readonly Dim[];
  /** Classes. @default 2 */
  readonly classes?: number;
  /** End with a Softmax (output `probabilities`), else raw logits (output `logits`). @default true */
  readonly softmax?: boolean;
  /** @default 3 */
  readonly seed?: number;
}

/**
 * A small image classifier as a PyTorch export would look: float32 image input `input`, global average pool,
 * dense layer, Softmax → `probabilities` [batch, classes]. Its graph matches the signature of
 * `MLmodel.with-metadata` by default.
 */
export function softmaxClassifier(opts: SoftmaxClassifierOptions = {}): Uint8Array {
  const classes = opts.classes ?? 2;
  const dims = opts.input ?? ['batch', 3, 224, 224];
  const g = new GraphBuilder(seededRandom(opts.seed ?? 3));
  let x = g.input('input', 'float32', dims);
  const nhwc = dims[3] === 3 && dims[1] !== 3;
  if (nhwc) x = g.node('Transpose', [x], { perm: [0, 3, 1, 2] });
  x = g.node('GlobalAveragePool', [x]);
  x = g.node('Flatten', [x], { axis: 1 });
  const softmax = opts.softmax ?? true;
  const logits = g.dense(x, 3, classes, softmax ? undefined : 'logits');
  if (softmax) g.node('Softmax', [logits], { axis: 1 }, 'probabilities');
  g.output(softmax ? 'probabilities' : 'logits', [dims[0] ?? 'batch', classes]);
  return g.build('softmax_classifier');
}

/** Writes an MLflow model directory from fixture/bytes: `files` maps a file name to its content. */
export function writeDir(
  dir: string,
  files: Record<string, string | Uint8Array | { fixture: string }>,
): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === 'object' && 'fixture' in content)
      copyFileSync(join(MLFLOW_FIXTURES, content.fixture), join(dir, name));
    else writeFileSync(join(dir, name), content);
  }
}

/** The recorded MLmodel with metadata, with its `model_gitops` block replaced (or removed when null). */
export function mlmodelWithBlock(block: string | null): string {
  const text = fixture('MLmodel.with-metadata').toString('utf8');
  const start = text.indexOf('metadata:\n');
  const end = text.indexOf('mlflow_version:');
  return (
    text.slice(0, start) + (block === null ? '' : `metadata:\n  model_gitops:\n${block}`) + text.slice(end)
  );
}
