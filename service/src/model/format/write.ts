import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { metadataBlockOf, type ModelMetadataInput } from './description';
import { LABELS_JSON_FILE, LABELS_TXT_FILE } from './labels';
import { formatMlmodel, MLMODEL_FILE, signatureOf, type MlmodelFields } from './mlmodel';
import { readOnnxGraph } from './onnx-graph';
import { METADATA_FILE, MODEL_FILE, sha256Hex } from './resolve';

/** What {@link writeMlflowModelDir} writes. */
export interface MlflowModelDirContent {
  /** The ONNX bytes, written as `model.onnx`. */
  readonly onnx: Uint8Array;
  /** The serving description (or the part the graph cannot say), written as `metadata.model_gitops`. */
  readonly metadata: ModelMetadataInput;
}

/**
 * Writes an MLflow model directory, as `mlflow.onnx.save_model(..., metadata={"model_gitops": ...})` does:
 * `MLmodel` (onnx flavor, signature from the graph) and `model.onnx`, each atomically; removes a `model.json`
 * or labels file a previous write left (they would override the new description). Returns the ONNX sha256.
 */
export function writeMlflowModelDir(
  dir: string,
  content: MlflowModelDirContent,
  mlmodel: Partial<Pick<MlmodelFields, 'modelUuid' | 'created'>> = {},
): string {
  const graph = readOnnxGraph(content.onnx, join(dir, MODEL_FILE));
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, MODEL_FILE), content.onnx);
  writeFileAtomic(
    join(dir, MLMODEL_FILE),
    formatMlmodel({
      onnxFile: MODEL_FILE,
      description: metadataBlockOf(content.metadata),
      inputs: graph.inputs.map(signatureOf),
      outputs: graph.outputs.map(signatureOf),
      ...mlmodel,
    }),
  );
  for (const stale of [METADATA_FILE, LABELS_JSON_FILE, LABELS_TXT_FILE])
    rmSync(join(dir, stale), { force: true });
  return sha256Hex(content.onnx);
}

/** Writes `file` through a temp file + rename: readers see the old bytes or the new ones, never half a file. */
export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}
