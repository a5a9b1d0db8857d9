import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { EnvironmentName, GoldenSetLocation } from '../../../charts/src/config';
import { writeFileAtomic } from '../../../service/src/model/format';
import { CliError } from '../cli-error';
import type { MlflowClient } from '../mlflow';
import type { Evaluation } from './evaluate';

/**
 * `charts/environments/<env>.evaluation.json`, written by `promote` in the same commit as the pin: what the gate
 * measured for exactly that version (golden set identity, accuracy, per-class recall) and, for a bounded,
 * stratified sample of golden images, the label and score the gate computed. `smoke` sends those images to the
 * live service and compares; reviewers read it in the diff.
 */
export const EvidenceSchema = z.strictObject({
  name: z.string().min(1),
  version: z.string().regex(/^[1-9][0-9]*$/),
  /** sha256 of model.onnx of the judged version. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  goldenSet: z.strictObject({
    from: z.enum(['repository', 'model-artifacts', 'run-artifacts']),
    /** A repository path or an `mlflow-artifacts:` location. */
    source: z.string().min(1),
    digest: z.string().regex(/^[0-9a-f]{64}$/),
    images: z.number().int().min(1),
  }),
  accuracy: z.number().min(0).max(1),
  perClass: z.array(
    z.strictObject({
      index: z.number().int().min(0),
      label: z.string(),
      count: z.number().int().min(0),
      recall: z.number().min(0).max(1),
    }),
  ),
  /** Largest accepted |score difference| between the gate and the live service. */
  scoreTolerance: z.number().min(0).max(1),
  expected: z
    .array(
      z.strictObject({
        path: z.string().min(1),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        index: z.number().int().min(0),
        label: z.string(),
        score: z.number().min(0).max(1),
      }),
    )
    .min(1),
});
export type Evidence = z.infer<typeof EvidenceSchema>;

/** `charts/environments/<env>.evaluation.json` below the repository root. */
export function evidencePath(repoRoot: string, env: EnvironmentName): string {
  return join(repoRoot, 'charts', 'environments', `${env}.evaluation.json`);
}

/** What {@link buildEvidence} needs besides the evaluation. */
export interface EvidenceInput {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
  readonly from: GoldenSetLocation['from'];
  readonly samples: number;
  readonly scoreTolerance: number;
}

/**
 * The evidence of an evaluation; the sample takes golden images round-robin over the classes, in path order, so
 * every class is represented and the same golden set always gives the same sample.
 */
export function buildEvidence(e: Evaluation, input: EvidenceInput): Evidence {
  const queues = e.perClass.map((c) => e.images.filter((i) => i.expected === c.index));
  const picked: Evaluation['images'][number][] = [];
  for (let round = 0; picked.length < input.samples && queues.some((q) => q.length > round); round++) {
    for (const q of queues) {
      const img = q[round];
      if (img && picked.length < input.samples) picked.push(img);
    }
  }
  return EvidenceSchema.parse({
    name: input.name,
    version: input.version,
    sha256: input.sha256,
    goldenSet: {
      from: input.from,
      source: e.goldenSet.source,
      digest: e.goldenSet.digest,
      images: e.samples,
    },
    accuracy: round6(e.accuracy),
    perClass: e.perClass.map((c) => ({
      index: c.index,
      label: c.label,
      count: c.count,
      recall: round6(c.recall),
    })),
    scoreTolerance: input.scoreTolerance,
    expected: picked.map((i) => ({
      path: i.path,
      sha256: i.sha256,
      index: i.predicted,
      label: i.label,
      score: round6(i.score),
    })),
  });
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

/** Writes the evidence file atomically, keys in schema order, with a trailing newline. */
export function writeEvidence(file: string, evidence: Evidence): void {
  writeFileAtomic(file, `${JSON.stringify(EvidenceSchema.parse(evidence), null, 2)}\n`);
}

/** Reads and validates an evidence file; the error names the file and the field. */
export function readEvidence(file: string): Evidence {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`${file}: cannot read the gate's evidence: ${(err as Error).message}`);
  }
  const parsed = EvidenceSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `'${i.path.join('.') || '(root)'}' ${i.message}`);
    throw new CliError(`${file}: invalid gate evidence: ${issues.join('; ')}`);
  }
  return parsed.data;
}

/** One sampled golden image, its bytes checked against the evidence. */
export interface EvidenceImage {
  readonly expected: Evidence['expected'][number];
  readonly bytes: Buffer;
}

/**
 * The sampled golden images of the evidence: read below `repoRoot` for a repository golden set, downloaded
 * through `client` otherwise. Each file must still have the sha256 the gate saw.
 */
export async function loadEvidenceImages(
  evidence: Evidence,
  repoRoot: string,
  client?: MlflowClient,
): Promise<EvidenceImage[]> {
  const out: EvidenceImage[] = [];
  const source = evidence.goldenSet.source;
  let tmp: string | undefined;
  try {
    for (const expected of evidence.expected) {
      let bytes: Buffer;
      if (evidence.goldenSet.from === 'repository') {
        try {
          bytes = readFileSync(join(repoRoot, source, expected.path));
        } catch (err) {
          throw new CliError(
            `golden image ${source}/${expected.path} cannot be read (${(err as NodeJS.ErrnoException).code}): ` +
              'run smoke from the repository checkout that holds the golden set',
          );
        }
      } else {
        if (!client) {
          throw new CliError(
            `the golden set of the evidence is in MLflow (${source}): set MLFLOW_TRACKING_URI so smoke can fetch it`,
          );
        }
        tmp ??= mkdtempSync(join(tmpdir(), 'model-gitops-smoke-'));
        const file = join(tmp, expected.sha256);
        await client.downloadArtifact(`${source}/${expected.path}`, file, { maxBytes: 64 * 1024 * 1024 });
        bytes = readFileSync(file);
      }
      const sha = createHash('sha256').update(bytes).digest('hex');
      if (sha !== expected.sha256) {
        throw new CliError(
          `golden image ${expected.path} changed since the gate judged it (sha256 ${sha}, evidence ${expected.sha256}): ` +
            'promote again so the evidence matches the golden set',
        );
      }
      out.push({ expected, bytes });
    }
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}
