import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GoldenSetLimitsSchema, type GoldenSetLimits } from '../../../charts/src/config';
import { CliError } from '../cli-error';
import type { MlflowClient } from '../mlflow';

/** One labelled image of a golden set. */
export interface GoldenImage {
  /** `<folder>/<file>`, with `/` separators: the image's identity in reports and evidence. */
  readonly path: string;
  /** The folder name: the label the image is expected to get. */
  readonly folder: string;
  readonly bytes: Buffer;
  readonly sha256: string;
}

/** A golden set as read: where it came from, a digest of its contents, its images sorted by path. */
export interface GoldenSet {
  /** Where it was read from: a repository path or an `mlflow-artifacts:` location. */
  readonly source: string;
  /** sha256 over every `<path> <sha256 of the file>` line, sorted by path: changes with any file or name. */
  readonly digest: string;
  /** Folder names (expected labels), sorted. */
  readonly folders: readonly string[];
  readonly images: readonly GoldenImage[];
}

/** Files that are never images of a golden set (OS and editor droppings). */
const IGNORED = /^(\.|Thumbs\.db$|desktop\.ini$)/;

/** The default limits (those of `evaluation.limits` in the environment config). */
export const DEFAULT_LIMITS: GoldenSetLimits = GoldenSetLimitsSchema.parse({});

/**
 * Reads a golden set directory: one sub-folder per label, each holding at least one image file (hidden files
 * ignored); nothing else. Files are checked against `limits` by size before they are read. Throws a
 * {@link CliError} naming the directory, the file and the fix. Whether a file decodes is found out when it is
 * classified.
 */
export function readGoldenSet(
  dir: string,
  source: string,
  limits: GoldenSetLimits = DEFAULT_LIMITS,
): GoldenSet {
  try {
    return readDir(dir, source, limits);
  } catch (err) {
    if (err instanceof CliError) throw err;
    // A file that vanished or cannot be read mid-way (permissions, a dangling link): named, never a crash.
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`golden set ${source}: ${e.path ?? 'a file'} cannot be read (${e.code ?? e.message})`);
  }
}

function readDir(dir: string, source: string, limits: GoldenSetLimits): GoldenSet {
  const fail = (what: string): never => {
    throw new CliError(`golden set ${source}: ${what}`);
  };
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) fail('is not a directory');
    entries = readdirSync(dir).filter((n) => !IGNORED.test(n));
  } catch (err) {
    if (err instanceof CliError) throw err;
    return fail(
      `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): ` +
        'check evaluation.goldenSet in the environment config or --golden',
    );
  }
  const folders = entries.filter((n) => statSync(join(dir, n)).isDirectory()).sort();
  const stray = entries.filter((n) => !folders.includes(n));
  if (stray.length > 0) {
    fail(
      `'${stray[0]}' is a file at the top level: a golden set holds one folder per label ` +
        '(e.g. cat/001.jpg, dog/001.jpg) and nothing else',
    );
  }
  if (folders.length === 0) fail('has no label folders: put the images in one folder per label');
  if (folders.length === 1) {
    fail(
      `has one label folder only ('${folders[0]}'): a model that answers '${folders[0]}' for every image would ` +
        'score 100 % on it; add a folder of images of at least one other label',
    );
  }
  const images: GoldenImage[] = [];
  let total = 0;
  for (const folder of folders) {
    const files = readdirSync(join(dir, folder))
      .filter((n) => !IGNORED.test(n))
      .sort();
    if (files.length === 0) {
      fail(`folder '${folder}' is empty: add images of '${folder}' or remove the folder`);
    }
    for (const file of files) {
      const path = `${folder}/${file}`;
      const st = statSync(join(dir, folder, file));
      if (!st.isFile()) fail(`'${path}' is not a file: label folders hold image files only, no sub-folders`);
      if (images.length >= limits.maxImages) {
        fail(`has more than ${limits.maxImages} images (evaluation.limits.maxImages): use a smaller set`);
      }
      if (st.size > limits.maxImageBytes) {
        fail(
          `'${path}' has ${st.size} bytes, over evaluation.limits.maxImageBytes (${limits.maxImageBytes}): ` +
            'shrink or remove it',
        );
      }
      total += st.size;
      if (total > limits.maxTotalBytes) {
        fail(`is over evaluation.limits.maxTotalBytes (${limits.maxTotalBytes} bytes): use a smaller set`);
      }
      const bytes = readFileSync(join(dir, folder, file));
      images.push({ path, folder, bytes, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
  }
  return { source, digest: goldenSetDigest(images), folders, images };
}

/** The digest of a golden set: sha256 of `<path> <sha256>\n` per image, sorted by path. */
export function goldenSetDigest(images: readonly Pick<GoldenImage, 'path' | 'sha256'>[]): string {
  const lines = [...images]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((i) => `${i.path} ${i.sha256}\n`);
  return createHash('sha256').update(lines.join('')).digest('hex');
}

/**
 * Downloads a golden set from an `mlflow-artifacts:` directory into `destDir` through the client (listed first,
 * every file checked against `limits` from the listing, then streamed with the size as a bound) and reads it.
 */
export async function downloadGoldenSet(
  client: MlflowClient,
  location: string,
  destDir: string,
  limits: GoldenSetLimits = DEFAULT_LIMITS,
): Promise<GoldenSet> {
  const fail = (what: string): never => {
    throw new CliError(`golden set ${location}: ${what}`);
  };
  const top = await client.listArtifacts(location);
  if (top.length === 0) {
    fail(
      'does not exist or is empty in the artifact store: log the images as <label>/<file> artifacts there',
    );
  }
  const files: { path: string; size: number | undefined }[] = [];
  let total = 0;
  const safe = (name: string): string => {
    if (name === '' || name === '.' || name === '..')
      fail(`the listing names an entry '${name}': not a file name`);
    return name;
  };
  for (const entry of top) {
    const folder = safe(entry.path.split('/').pop() as string);
    if (!entry.is_dir) {
      fail(
        `'${folder}' is a file at the top level: a golden set holds one folder per label and nothing else`,
      );
    }
    const inside = await client.listArtifacts(`${location}/${folder}`);
    if (inside.length === 0)
      fail(`folder '${folder}' is empty: add images of '${folder}' or remove the folder`);
    for (const f of inside) {
      const name = safe(f.path.split('/').pop() as string);
      if (f.is_dir) fail(`'${folder}/${name}' is not a file: label folders hold image files only`);
      if (files.length >= limits.maxImages) {
        fail(`has more than ${limits.maxImages} images (evaluation.limits.maxImages): use a smaller set`);
      }
      if (f.file_size !== undefined && f.file_size > limits.maxImageBytes) {
        fail(
          `'${folder}/${name}' has ${f.file_size} bytes, over evaluation.limits.maxImageBytes ` +
            `(${limits.maxImageBytes}): shrink or remove it`,
        );
      }
      total += f.file_size ?? 0;
      if (total > limits.maxTotalBytes) {
        fail(`is over evaluation.limits.maxTotalBytes (${limits.maxTotalBytes} bytes): use a smaller set`);
      }
      files.push({ path: `${folder}/${name}`, size: f.file_size });
    }
  }
  for (const f of files) {
    mkdirSync(join(destDir, f.path, '..'), { recursive: true });
    await client.downloadArtifact(`${location}/${f.path}`, join(destDir, f.path), {
      expectedBytes: f.size,
      maxBytes: limits.maxImageBytes,
    });
  }
  return readGoldenSet(destDir, location, limits);
}
