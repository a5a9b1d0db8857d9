import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { METADATA_FILE, MODEL_FILE } from '../../service/src/model/metadata';
import { CliError } from './cli-error';
import type { MlflowClient } from './mlflow';

/** Digests of a downloaded model directory. */
export interface ModelDigests {
  /** sha256 of model.onnx. */
  readonly sha256: string;
  /** sha256 of model.json. */
  readonly metadataSha256: string;
}

/** Reports download progress of one file. */
export type ProgressFn = (file: string, bytes: number, total: number | undefined) => void;

/**
 * Downloads `model.onnx` and `model.json` from an `mlflow-artifacts:` directory into `destDir` (created),
 * streaming each to disk. Fails naming the missing file when the directory lacks one of them.
 */
export async function downloadModelFiles(
  client: MlflowClient,
  location: string,
  destDir: string,
  onProgress?: ProgressFn,
): Promise<ModelDigests> {
  const listing = await client.listArtifacts(location);
  const sizes = new Map(listing.filter((f) => !f.is_dir).map((f) => [f.path.split('/').pop(), f.file_size]));
  const names = new Set(sizes.keys());
  for (const file of [MODEL_FILE, METADATA_FILE]) {
    if (!names.has(file)) {
      throw new CliError(
        `the registered artifacts at '${location}' have no ${file} (found: ${[...names].join(', ') || 'nothing'}): ` +
          `a servable model directory holds ${MODEL_FILE} and ${METADATA_FILE}; register it with 'model-gitops register'`,
      );
    }
  }
  mkdirSync(destDir, { recursive: true });
  const fetchOne = (file: string): ReturnType<MlflowClient['downloadArtifact']> =>
    client.downloadArtifact(`${location}/${file}`, join(destDir, file), {
      expectedBytes: sizes.get(file),
      onProgress: (b, t) => onProgress?.(file, b, t),
    });
  const model = await fetchOne(MODEL_FILE);
  const meta = await fetchOne(METADATA_FILE);
  return { sha256: model.sha256, metadataSha256: meta.sha256 };
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
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // no parent yet, so nothing stale
    throw err;
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
