import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { z } from 'zod';
import type { EnvironmentName } from '../../../charts/src/config';
import { CliError, stderrLog, type Log } from '../cli-error';
import { Git } from '../git';
import { currentPin } from '../environments';
import { envOption, versionOption } from './options';
import { rollback, type RollbackResult } from './rollback';

/**
 * Where an Argo Rollouts canary of the expected model version stands:
 * - `promoted`: the Rollout is Healthy and the new ReplicaSet is the stable one (exit 0);
 * - `aborted`: Argo Rollouts aborted it (a failed analysis or smoke Job, or a progress deadline) and scaled the
 *   canary back to the stable pods, or it is Degraded (exit 1);
 * - `inconclusive`: paused because an analysis could not judge the canary (too little traffic) (exit 1);
 * - `progressing`: steps, pauses or analyses still running (exit 3: ask again later);
 * - `syncing`: the Rollout does not carry the expected version yet: Argo CD has not synced the commit (exit 3).
 */
export type RolloutVerdict = 'promoted' | 'aborted' | 'inconclusive' | 'progressing' | 'syncing';

/** A verdict and the reason, for the log. */
export interface RolloutJudgement {
  readonly verdict: RolloutVerdict;
  readonly detail: string;
}

/** The fields of `kubectl get rollout <name> -o json` this command reads (others are ignored). */
const RolloutJsonSchema = z.object({
  kind: z.string().optional(),
  metadata: z.object({ name: z.string().optional(), generation: z.number().optional() }).optional(),
  spec: z
    .object({
      template: z
        .object({
          spec: z
            .object({
              initContainers: z
                .array(
                  z.object({ command: z.array(z.string()).optional(), args: z.array(z.string()).optional() }),
                )
                .optional(),
            })
            .optional(),
        })
        .optional(),
    })
    .optional(),
  status: z
    .object({
      phase: z.string().optional(),
      message: z.string().optional(),
      abort: z.boolean().optional(),
      observedGeneration: z.union([z.string(), z.number()]).optional(),
      currentPodHash: z.string().optional(),
      stableRS: z.string().optional(),
      pauseConditions: z.array(z.object({ reason: z.string().optional() })).optional(),
    })
    .optional(),
});
type RolloutJson = z.infer<typeof RolloutJsonSchema>;

/** Argo Rollouts' pause reason for an inconclusive analysis (`PauseReasonInconclusiveAnalysis` in its API). */
const INCONCLUSIVE_ANALYSIS = 'InconclusiveAnalysisRun';

/** The model version the Rollout's pod template fetches: the argument after `--version` of model-fetch. */
export function rolloutModelVersion(rollout: RolloutJson): string | undefined {
  for (const c of rollout.spec?.template?.spec?.initContainers ?? []) {
    const argv = [...(c.command ?? []), ...(c.args ?? [])];
    if (!argv.includes('model-fetch')) continue;
    const i = argv.indexOf('--version');
    if (i >= 0) return argv[i + 1];
    return argv.find((a) => a.startsWith('--version='))?.slice('--version='.length);
  }
  return undefined;
}

/** Judges a Rollout (as `kubectl get rollout -o json` prints it) against the version that should be rolling out. */
export function judgeRollout(rollout: RolloutJson, expectVersion: string): RolloutJudgement {
  const name = rollout.metadata?.name ?? '(unnamed)';
  const version = rolloutModelVersion(rollout);
  if (version !== expectVersion) {
    return {
      verdict: 'syncing',
      detail: `Rollout ${name} fetches version ${version ?? '(none)'}, not ${expectVersion}: Argo CD has not synced it yet`,
    };
  }
  const s = rollout.status ?? {};
  const generation = rollout.metadata?.generation;
  if (generation !== undefined && String(s.observedGeneration ?? '') !== String(generation)) {
    return {
      verdict: 'progressing',
      detail: `the controller has not observed generation ${generation} yet (observed ${s.observedGeneration ?? 'none'})`,
    };
  }
  const message = s.message ? `: ${s.message}` : '';
  if (s.abort === true) return { verdict: 'aborted', detail: `Rollout ${name} was aborted${message}` };
  if (s.phase === 'Degraded') return { verdict: 'aborted', detail: `Rollout ${name} is Degraded${message}` };
  if (s.phase === 'Paused' && (s.pauseConditions ?? []).some((p) => p.reason === INCONCLUSIVE_ANALYSIS)) {
    return {
      verdict: 'inconclusive',
      detail: `Rollout ${name} paused on an inconclusive analysis (too little canary traffic to judge)${message}`,
    };
  }
  if (s.phase === 'Healthy' && s.currentPodHash !== undefined && s.currentPodHash === s.stableRS) {
    return {
      verdict: 'promoted',
      detail: `Rollout ${name} is Healthy at version ${version} (stable ${s.stableRS})`,
    };
  }
  return { verdict: 'progressing', detail: `Rollout ${name} is ${s.phase ?? 'without a phase'}${message}` };
}

/** Options of {@link rolloutStatus}. */
export interface RolloutStatusOptions {
  /** The repository (for the rollback). */
  readonly cwd: string;
  readonly env: EnvironmentName;
  /** The Rollout as JSON text (`kubectl get rollout <name> -o json`). */
  readonly statusJson: string;
  /** Where the JSON came from, for error messages. */
  readonly source: string;
  readonly expectVersion: string;
  /** On `aborted` or `inconclusive`, revert the promotion in git (`model-gitops rollback`). @default false */
  readonly rollbackOnAbort?: boolean;
  /** Push the rollback commit. @default false */
  readonly push?: boolean;
  /** @default 'origin' */
  readonly remote?: string;
  readonly log?: Log;
}

/** Outcome of {@link rolloutStatus}. */
export interface RolloutStatusResult extends RolloutJudgement {
  /** The rollback commit, when one was made. */
  readonly rollback?: RollbackResult;
}

/**
 * Judges the Rollout and, when it was aborted (or paused on an inconclusive analysis) and `rollbackOnAbort` is
 * set, reverts the promotion in git, so Argo CD syncs the previous pin instead of retrying the same canary.
 * Nothing is reverted when the pin in git no longer names the expected version (already rolled back, or a newer
 * promotion superseded it).
 */
export async function rolloutStatus(opts: RolloutStatusOptions): Promise<RolloutStatusResult> {
  const log = opts.log ?? stderrLog;
  let parsed: unknown;
  try {
    parsed = JSON.parse(opts.statusJson);
  } catch (err) {
    throw new CliError(
      `${opts.source} is not JSON (${(err as Error).message}): pass the output of ` +
        '`kubectl get rollout <name> -o json`',
    );
  }
  const shape = RolloutJsonSchema.safeParse(parsed);
  if (!shape.success || shape.data.kind !== 'Rollout') {
    const issue = shape.error?.issues[0];
    const why = issue
      ? `'${issue.path.join('.')}' ${issue.message}`
      : `kind ${JSON.stringify(shape.data?.kind)}`;
    throw new CliError(
      `${opts.source} is not a Rollout as kubectl prints it (${why}): pass the output of ` +
        '`kubectl get rollout <name> -o json`',
    );
  }
  const rollout = shape.data;
  const judgement = judgeRollout(rollout, opts.expectVersion);
  log(`rollout-status: ${judgement.verdict}: ${judgement.detail}`);
  if ((judgement.verdict !== 'aborted' && judgement.verdict !== 'inconclusive') || !opts.rollbackOnAbort) {
    return judgement;
  }
  const root = await new Git(opts.cwd).topLevel();
  const pinned = currentPin(root, opts.env)?.version;
  if (pinned !== opts.expectVersion) {
    log(
      `rollout-status: not rolling back: ${opts.env} is pinned to version ${pinned ?? 'none'} now, not ` +
        `${opts.expectVersion} (already rolled back or superseded)`,
    );
    return judgement;
  }
  const result = await rollback({ cwd: opts.cwd, env: opts.env, push: opts.push, remote: opts.remote, log });
  return { ...judgement, rollback: result };
}

/** Exit code of each verdict. */
export const VERDICT_EXIT_CODES: Readonly<Record<RolloutVerdict, number>> = {
  promoted: 0,
  aborted: 1,
  inconclusive: 1,
  progressing: 3,
  syncing: 3,
};

/** Registers `rollout-status` on the CLI. */
export function registerRolloutStatusCommand(program: Command): void {
  program
    .command('rollout-status')
    .description(
      'Judge an Argo Rollouts canary from `kubectl get rollout -o json`; on an abort, optionally revert the pin in git',
    )
    .requiredOption('--env <env>', 'environment: local, staging or production', envOption)
    .requiredOption(
      '--expect-version <n>',
      'the model version being rolled out',
      versionOption('--expect-version'),
    )
    .requiredOption('--status-file <path>', "the Rollout's JSON (`-` for stdin)")
    .option('--rollback-on-abort', 'on an aborted or inconclusive canary, run `rollback` for the environment')
    .option('--push', 'push the rollback commit to the current branch of the remote')
    .option('--remote <name>', 'git remote to push to', 'origin')
    .addHelpText(
      'after',
      '\nPrints the verdict on stdout. Exit codes: 0 promoted, 1 aborted or inconclusive (rolled back with ' +
        '--rollback-on-abort), 2 usage, 3 still progressing or not synced yet (ask again).',
    )
    .action(
      async (o: {
        env: EnvironmentName;
        expectVersion: string;
        statusFile: string;
        rollbackOnAbort?: boolean;
        push?: boolean;
        remote: string;
      }) => {
        let text: string;
        try {
          text = readFileSync(o.statusFile === '-' ? 0 : o.statusFile, 'utf8');
        } catch (err) {
          throw new CliError(`cannot read --status-file ${o.statusFile}: ${(err as Error).message}`, 2);
        }
        const result = await rolloutStatus({
          cwd: process.cwd(),
          env: o.env,
          statusJson: text,
          source: o.statusFile === '-' ? 'stdin' : o.statusFile,
          expectVersion: o.expectVersion,
          rollbackOnAbort: o.rollbackOnAbort,
          push: o.push,
          remote: o.remote,
        });
        process.stdout.write(`${result.verdict}\n`);
        process.exitCode = VERDICT_EXIT_CODES[result.verdict];
      },
    );
}
