import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  DESCRIPTION_FILES,
  METADATA_FILE,
  MLMODEL_FILE,
  missingExternalData,
  onnxFileOf,
  readOnnxGraph,
} from '../../service/src/model/format';
import { CliError } from './cli-error';
import type { MlflowClient } from './mlflow';

/** sha256 of each downloaded file, by file name. */
export type FileDigests = Record<string, string>;

/** Reports download progress of one file. */
export type ProgressFn = (file: string, bytes: number, total: number | undefined) => void;

/**
 * Downloads exactly `names` from an `mlflow-artifacts:` directory into `destDir` (created), streaming each to
 * disk and hashing it on the way. Fails naming the file when the directory lacks one of them.
 */
export async function downloadArtifactFiles(
  client: MlflowClient,
  location: string,
  destDir: string,
  names: readonly string[],
  onProgress?: ProgressFn,
): Promise<FileDigests> {
  const sizes = await listFiles(client, location);
  const absent = names.filter((n) => !sizes.has(n));
  if (absent.length > 0) {
    throw new CliError(
      `the registered artifacts at '${location}' have no ${absent.join(', ')} (found: ${[...sizes.keys()].join(', ') || 'nothing'}): ` +
        'the registry content changed since the version was pinned; promote the version again to re-pin it',
    );
  }
  mkdirSync(destDir, { recursive: true });
  const digests: FileDigests = {};
  for (const file of names) {
    const result = await client.downloadArtifact(`${location}/${file}`, join(destDir, file), {
      expectedBytes: sizes.get(file),
      onProgress: (b, t) => onProgress?.(file, b, t),
    });
    digests[file] = result.sha256;
  }
  return digests;
}

/**
 * Downloads the files of a registered model that can influence serving (the model format's
 * `DESCRIPTION_FILES` present in the directory, then the ONNX file its `MLmodel` names, then the external-data
 * files that graph names: `mlflow.onnx.log_model`'s default puts the weights there) into `destDir`.
 * Other artifacts (conda.yaml, requirements.txt, input examples) are left out. Fails naming what is missing
 * when the directory holds neither an `MLmodel` nor a `model.json`.
 */
export async function downloadServingFiles(
  client: MlflowClient,
  location: string,
  destDir: string,
  onProgress?: ProgressFn,
): Promise<FileDigests> {
  const sizes = await listFiles(client, location);
  if (!sizes.has(MLMODEL_FILE) && !sizes.has(METADATA_FILE)) {
    throw new CliError(
      `the registered artifacts at '${location}' have no ${MLMODEL_FILE} (found: ${[...sizes.keys()].join(', ') || 'nothing'}): ` +
        'a servable version is an MLflow model with the onnx flavor; log it with ' +
        'mlflow.onnx.log_model(onnx_model, name="model", metadata={"model_gitops": {...}}) and register that, ' +
        "or use 'model-gitops register'",
    );
  }
  const described = DESCRIPTION_FILES.filter((f) => sizes.has(f));
  const digests = await downloadArtifactFiles(client, location, destDir, described, onProgress);
  const notServable = (why: string): CliError =>
    new CliError(`the registered model at '${location}' is not servable: ${why}`);
  const mlmodelPath = join(destDir, MLMODEL_FILE);
  let onnxFile: string;
  try {
    onnxFile = onnxFileOf(
      sizes.has(MLMODEL_FILE) ? readFileSync(mlmodelPath, 'utf8') : undefined,
      mlmodelPath,
    );
  } catch (err) {
    throw notServable((err as Error).message);
  }
  if (!sizes.has(onnxFile)) {
    throw notServable(
      `its ${MLMODEL_FILE} names the ONNX file '${onnxFile}' (flavors.onnx.data) but the directory has no such ` +
        `file (found: ${[...sizes.keys()].join(', ')})`,
    );
  }
  Object.assign(digests, await downloadArtifactFiles(client, location, destDir, [onnxFile], onProgress));
  let external: readonly string[];
  try {
    external = readOnnxGraph(readFileSync(join(destDir, onnxFile)), join(destDir, onnxFile)).externalData;
  } catch (err) {
    throw notServable((err as Error).message);
  }
  const absent = external.filter((f) => !sizes.has(f));
  if (absent.length > 0) {
    throw notServable(missingExternalData(onnxFile, absent, [...sizes.keys()]));
  }
  return { ...digests, ...(await downloadArtifactFiles(client, location, destDir, external, onProgress)) };
}

async function listFiles(client: MlflowClient, location: string): Promise<Map<string, number | undefined>> {
  const listing = await client.listArtifacts(location);
  return new Map(
    listing.filter((f) => !f.is_dir).map((f) => [f.path.split('/').pop() ?? f.path, f.file_size] as const),
  );
}

/** A fresh temp directory next to `dest` (same filesystem, so a rename onto `dest` is atomic). */
export function siblingTempDir(dest: string, tag: string): string {
  return join(dirname(dest), `.${basename(dest)}.${tag}-${randomBytes(6).toString('hex')}`);
}

/** Replaces `dest` with `src` by renames: readers see the old directory or the new one, never a mix. */
export function replaceDir(src: string, dest: string): void {
  const old = siblingTempDir(dest, 'old');
  let moved = false;
  try {
    renameSync(dest, old);
    moved = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    renameSync(src, dest);
  } catch (err) {
    if (moved) renameSync(old, dest);
    throw err;
  }
  if (moved) rmSync(old, { recursive: true, force: true });
}

/** Removes temp directories a killed earlier run left next to `dest` (see {@link siblingTempDir}). */
export function removeStaleTempDirs(dest: string): void {
  const prefix = `.${basename(dest)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(dest));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return; // no parent yet, so nothing stale
    throw new CliError(
      `${dest}: its parent ${dirname(dest)} cannot be listed (${code}): ` +
        'the destination must be a path inside a directory this process can read and write',
    );
  }
  for (const name of names) {
    if (name.startsWith(prefix) && /\.(fetch|old)-[0-9a-f]{12}$/.test(name)) {
      rmSync(join(dirname(dest), name), { recursive: true, force: true });
    }
  }
}

/** A TTY progress line writer for downloads; undefined when stderr is not a terminal. */
export function ttyProgress(stream: NodeJS.WriteStream = process.stderr): ProgressFn | undefined {
  if (!stream.isTTY) return undefined;
  let last = 0;
  return (file, bytes, total) => {
    const now = Date.now();
    const done = total !== undefined && bytes >= total;
    if (!done && now - last < 100) return;
    last = now;
    const mb = (n: number): string => (n / 1_048_576).toFixed(1);
    const of =
      total === undefined ? '' : ` / ${mb(total)} MiB (${Math.floor((100 * bytes) / Math.max(total, 1))}%)`;
    stream.write(`\r${file}: ${mb(bytes)} MiB${of}\x1b[K${done ? '\n' : ''}`);
  };
}
