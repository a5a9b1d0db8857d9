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

/**
 * The model pinned for one environment. The promotion job rewrites this file; humans review its diff.
 * MLflow versions are strings of digits (MLflow answers them as JSON strings).
 */
export const ModelPinSchema = z
  .object({
    /** Registered model name in the MLflow Model Registry. */
    name: z
      .string()
      .min(1)
      .max(256)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a registered model name: letters, digits, . _ -'),
    /** Registered model version. */
    version: z.string().regex(/^[1-9][0-9]*$/, 'must be a positive integer written as a string, e.g. "3"'),
    /** sha256 of model.onnx. */
    sha256: sha256Hex,
    /** sha256 of the service's metadata file (model.json), verified by model-fetch when present. */
    metadataSha256: sha256Hex.optional(),
    /** Resolved artifact location of the version (e.g. `mlflow-artifacts:/1/<run>/artifacts/model`). */
    source: z.string().min(1),
    /** The MLflow run that produced the artifacts, when known. */
    runId: z.string().min(1).optional(),
  })
  .strict();

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
  const parsed = ModelPinSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `'${i.path.join('.') || '(root)'}' ${i.message}`);
    throw new Error(`${file}: invalid model pin: ${issues.join('; ')}`);
  }
  return parsed.data;
}

/** Serialises a pin with a fixed key order and a trailing newline, so the file diffs cleanly. */
export function formatModelPin(pin: ModelPin): string {
  const valid = ModelPinSchema.parse(pin);
  const ordered: Record<string, string> = {};
  for (const key of ['name', 'version', 'sha256', 'metadataSha256', 'source', 'runId'] as const) {
    const value = valid[key];
    if (value !== undefined) ordered[key] = value;
  }
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
