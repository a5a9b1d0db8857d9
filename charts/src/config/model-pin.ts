import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/** The environments this kit deploys; each has `charts/environments/<env>.yaml` and `<env>.model.json`. */
export const ENVIRONMENTS = ['local', 'staging', 'production'] as const;
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

const sha256Hex = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex characters (the sha256 of the file)');

/** A registered model name the kit can pin (and name Kubernetes labels and metrics after). */
export const RegisteredModelNameSchema = z
  .string()
  .max(256)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a registered model name: letters, digits, . _ -');

/**
 * A registered model alias as MLflow accepts it (`_validate_model_alias_name` in mlflow/utils/validation.py):
 * word characters and dashes, at most 255, not `latest` (any case) and not `v<number>`, which name versions.
 */
export const ModelAliasSchema = z
  .string()
  .regex(/^[\p{L}\p{N}_-]{1,255}$/u, 'must be an alias: letters, digits, _ and - (at most 255)')
  .refine((a) => a.toLowerCase() !== 'latest', "must not be 'latest': MLflow reserves it")
  .refine((a) => !/^[vV]\d+$/.test(a), 'must not be v<number>: MLflow reserves those for versions');

/** The files of the kit's format before MLflow directories, which a legacy pin's two digests name. */
const LEGACY_ONNX_FILE = 'model.onnx';
const LEGACY_METADATA_FILE = 'model.json';
/** Files one of which must be pinned: they say how to serve the model (the model format's rule). */
const DESCRIPTORS = ['MLmodel', LEGACY_METADATA_FILE];

/**
 * A pin written before per-file digests (`sha256` of model.onnx, `metadataSha256` of model.json) reads as
 * the same pin with `files` naming those two files; `model-gitops pin migrate` rewrites the file.
 */
function fromLegacy(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || 'files' in raw || !('sha256' in raw)) return raw;
  const { metadataSha256, ...rest } = raw as Record<string, unknown>;
  const files: Record<string, unknown> = { [LEGACY_ONNX_FILE]: rest.sha256 };
  if (metadataSha256 !== undefined) files[LEGACY_METADATA_FILE] = metadataSha256;
  return { ...rest, files };
}

/** True when a parsed pin file still has the legacy shape (no `files`). */
export function isLegacyPin(raw: unknown): boolean {
  return fromLegacy(raw) !== raw;
}

/**
 * The model pinned for one environment. The promotion job rewrites this file; humans review its diff.
 * `files` holds the sha256 of every file the service reads (MLmodel, the ONNX file, the labels file,
 * model.json when present): `model-fetch` downloads exactly these and verifies each. MLflow versions are
 * strings of digits (MLflow answers them as JSON strings).
 */
/**
 * Text MLflow reported (the version's source, its run): one line, since promote and rollback copy it into their
 * commit messages, where a line break would add lines of MLflow's choosing to the message a reviewer reads.
 */
const oneLine = z
  .string()
  .min(1)
  .regex(/^\P{Cc}+$/u, 'must be one line without control characters (as MLflow reported it)');

export const ModelPinSchema = z.preprocess(
  fromLegacy,
  z
    .object({
      /** Registered model name in the MLflow Model Registry. */
      name: RegisteredModelNameSchema,
      /** Registered model version. */
      version: z.string().regex(/^[1-9][0-9]*$/, 'must be a positive integer written as a string, e.g. "3"'),
      /** sha256 of the ONNX file (the model's identity in metrics and logs; also listed in `files`). */
      sha256: sha256Hex,
      /** sha256 of each file that influences serving, by file name in the model directory. */
      files: z.record(z.string(), sha256Hex),
      /** Resolved artifact location of the version (e.g. `mlflow-artifacts:/1/<run>/artifacts/model`). */
      source: oneLine,
      /** The MLflow run that produced the artifacts, when known. */
      runId: oneLine.optional(),
    })
    .strict()
    .superRefine((pin, ctx) => {
      for (const file of Object.keys(pin.files)) {
        if (!/^(?!\.{1,2}$)[A-Za-z0-9._-]{1,255}$/.test(file)) {
          ctx.addIssue({
            code: 'custom',
            path: ['files', file],
            message: 'must be a file name in the model directory (letters, digits, . _ -)',
          });
        }
      }
      if (!Object.values(pin.files).includes(pin.sha256)) {
        ctx.addIssue({
          code: 'custom',
          path: ['sha256'],
          message: "must be the digest of one of 'files' (the ONNX file)",
        });
      }
      if (!DESCRIPTORS.some((f) => f in pin.files)) {
        ctx.addIssue({
          code: 'custom',
          path: ['files'],
          message:
            `must name ${DESCRIPTORS.join(' or ')}, which says how to serve the model ` +
            '(a legacy pin without metadataSha256 cannot be migrated offline: promote the version again)',
        });
      }
    }),
);

export type ModelPin = z.infer<typeof ModelPinSchema>;

/** `charts/environments/<env>.model.json` below the repository root. */
export function modelPinPath(repoRoot: string, env: EnvironmentName): string {
  return join(repoRoot, 'charts', 'environments', `${env}.model.json`);
}

/** Reads and validates a pin file; the error names the file and the field. */
export function readModelPin(file: string): ModelPin {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: cannot read the model pin: ${(err as Error).message}`);
  }
  return parseModelPin(raw, file);
}

/** Validates a parsed pin (either shape); the error names `where` and the field. */
export function parseModelPin(raw: unknown, where: string): ModelPin {
  const parsed = ModelPinSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `'${i.path.join('.') || '(root)'}' ${i.message}`);
    throw new Error(`${where}: invalid model pin: ${issues.join('; ')}`);
  }
  return parsed.data;
}

/** Serialises a pin with a fixed key order and a trailing newline, so the file diffs cleanly. */
export function formatModelPin(pin: ModelPin): string {
  const valid = parseModelPin(pin, 'model pin');
  const files: Record<string, string> = {};
  for (const name of Object.keys(valid.files).sort()) files[name] = valid.files[name] as string;
  const ordered = {
    name: valid.name,
    version: valid.version,
    sha256: valid.sha256,
    files,
    source: valid.source,
    ...(valid.runId !== undefined ? { runId: valid.runId } : {}),
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/** Validates and writes a pin atomically (temp file + rename): readers never see half a file. */
export function writeModelPin(file: string, pin: ModelPin): void {
  const text = formatModelPin(pin);
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}
