import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EnvironmentName, EvaluationPolicy, ModelPin } from '../../../charts/src/config';
import { CliError, type Log } from '../cli-error';
import { validateModelDir, type GateReport } from '../gate';
import type { MlflowClient } from '../mlflow';
import { downloadArtifactFiles } from '../model-artifacts';
import { evaluateModelDir, type Evaluation } from './evaluate';
import { loadGoldenSet } from './golden-source';
import { judge, type Verdict } from './policy';
import { textReport } from './report';

/** What the evaluation part of the promotion gate decided. */
export interface PromotionEvaluation {
  readonly challenger: Evaluation;
  /** Undefined on a first promotion (nothing pinned yet). */
  readonly champion?: Evaluation;
  readonly championVersion?: string;
  readonly verdict: Verdict;
  /** What the structural checks measured, when {@link gateChallenger} ran them first. */
  readonly structure?: GateReport;
}

/** Inputs of {@link evaluatePromotion}. */
export interface PromotionEvaluationInput {
  readonly env: EnvironmentName;
  readonly repoRoot: string;
  readonly policy: EvaluationPolicy;
  /** The challenger: a downloaded model directory and the sha256 of each file it was downloaded with. */
  readonly challengerDir: string;
  readonly challengerFiles?: Readonly<Record<string, string>>;
  /** The challenger's resolved artifact location and run (for golden sets shipped with the model). */
  readonly location: string;
  readonly runId?: string;
  /** The pin of the environment now: the champion. */
  readonly champion?: ModelPin;
  readonly log: Log;
}

/** Thrown when the challenger misses a threshold: the message holds the report; `result` the numbers. */
export class EvaluationRefused extends CliError {
  constructor(
    message: string,
    readonly result: PromotionEvaluation,
  ) {
    super(message);
    this.name = 'EvaluationRefused';
  }
}

/**
 * Evaluates the challenger and the champion (downloaded from its pinned source, sha256 checked) on the same
 * golden set with the service's own code and applies the policy. Throws {@link EvaluationRefused} with the
 * report when a threshold fails.
 */
export async function evaluatePromotion(
  client: MlflowClient | undefined,
  input: PromotionEvaluationInput,
): Promise<PromotionEvaluation> {
  const { policy, log } = input;
  const work = mkdtempSync(join(tmpdir(), 'model-gitops-evaluate-'));
  try {
    const golden = await loadGoldenSet(policy.goldenSet, policy.limits, {
      repoRoot: input.repoRoot,
      client,
      modelLocation: input.location,
      runId: input.runId,
      downloadDir: join(work, 'golden'),
    });
    log(`promote: evaluating on golden set ${golden.source} (${golden.images.length} images)`);
    const challenger = await evaluateModelDir(input.challengerDir, golden, {
      expectedFiles: input.challengerFiles,
      role: 'challenger',
    });
    let champion: Evaluation | undefined;
    const pin = input.champion;
    if (pin) {
      const dir = join(work, 'champion');
      try {
        if (!client) throw new CliError('MLflow is not configured (MLFLOW_TRACKING_URI)');
        const digests = await downloadArtifactFiles(client, pin.source, dir, Object.keys(pin.files));
        for (const [file, sha] of Object.entries(pin.files)) {
          if (digests[file] !== sha) {
            throw new CliError(`its ${file} has sha256 ${digests[file]}, the pin says ${sha}`);
          }
        }
      } catch (err) {
        throw new CliError(
          `evaluation: cannot fetch the champion (${pin.name} version ${pin.version}, pinned in ${input.env}) ` +
            `to compare with: ${(err as Error).message}`,
        );
      }
      champion = await evaluateModelDir(dir, golden, {
        expectedFiles: pin.files,
        role: `champion (version ${pin.version})`,
        // A class the challenger adds is one the champion cannot predict, not an error.
        unknownFolders: 'miss',
      });
    }
    const verdict = judge(policy, challenger, champion);
    const result = { challenger, champion, championVersion: pin?.version, verdict };
    if (!verdict.passed) {
      throw new EvaluationRefused(
        `validation gate: the challenger fails ${verdict.failures.map((f) => f.threshold).join(', ')} in ` +
          `${input.env}:\n${textReport(challenger, champion, verdict)}`,
        result,
      );
    }
    return result;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Inputs of {@link gateChallenger}: the evaluation's, and the structural checks' latency budget. */
export interface ChallengerGateInput extends PromotionEvaluationInput {
  /** Median time budget per sample image (`--latency-budget-ms`). @default DEFAULT_LATENCY_BUDGET_MS (1000 ms) */
  readonly latencyBudgetMs?: number;
}

/** What the promotion gate decided on a challenger it passed. */
export interface ChallengerGate extends PromotionEvaluation {
  readonly structure: GateReport;
}

/**
 * The promotion gate on a challenger, the one sequence `promote` runs and `evaluate --env` runs on demand: the
 * structural checks ({@link validateModelDir}: the model format and digests, the session, the sample images, logits
 * vs probabilities, the latency budget), then, once they pass, {@link evaluatePromotion}. Throws the structural
 * checks' `GateRefused` when they fail, and {@link EvaluationRefused} (its `result` with `structure`) when a
 * threshold does.
 */
export async function gateChallenger(
  client: MlflowClient | undefined,
  input: ChallengerGateInput,
): Promise<ChallengerGate> {
  const structure = await validateModelDir(input.challengerDir, {
    files: input.challengerFiles,
    latencyBudgetMs: input.latencyBudgetMs,
  });
  try {
    return { ...(await evaluatePromotion(client, input)), structure };
  } catch (err) {
    if (err instanceof EvaluationRefused) {
      throw new EvaluationRefused(err.message, { ...err.result, structure });
    }
    throw err;
  }
}

/** Tag keys written on a judged version: `model_gitops.<env>.<key>`. */
export function gateTagKey(env: EnvironmentName, key: string): string {
  return `model_gitops.${env}.${key}`;
}

/** MLflow's limit for a tag value. */
const MAX_TAG_VALUE = 5000;

/**
 * Writes the verdict on the judged version as model version tags (`model_gitops.<env>.gate` = passed|failed,
 * accuracy, golden set and digest, champion version, and the commit or the reason), so the MLflow UI shows which
 * versions were judged, where, and how.
 */
export async function tagVerdict(
  client: MlflowClient,
  name: string,
  version: string,
  env: EnvironmentName,
  result: PromotionEvaluation,
  outcome: { readonly commit: string } | { readonly reason: string },
): Promise<void> {
  const tags: [string, string][] = [
    ['gate', 'commit' in outcome ? 'passed' : 'failed'],
    ['accuracy', result.challenger.accuracy.toFixed(4)],
    ...result.challenger.perClass.map((c): [string, string] => [
      `recall.${c.label.replace(/[^A-Za-z0-9_.-]/g, '_')}`,
      c.recall.toFixed(4),
    ]),
    ['golden_set', result.challenger.goldenSet.source],
    ['golden_set_sha256', result.challenger.goldenSet.digest],
    ['champion_version', result.championVersion ?? 'none'],
    'commit' in outcome ? ['commit', outcome.commit] : ['reason', outcome.reason.slice(0, MAX_TAG_VALUE)],
  ];
  for (const [key, value] of tags)
    await client.setModelVersionTag(name, version, gateTagKey(env, key), value);
}
