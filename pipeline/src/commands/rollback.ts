import { rmSync } from 'node:fs';
import { relative } from 'node:path';
import { Command } from 'commander';
import {
  ModelPinSchema,
  modelPinPath,
  writeModelPin,
  type EnvironmentName,
  type ModelPin,
} from '../../../charts/src/config';
import { CliError, stderrLog, type Log } from '../cli-error';
import { currentPin } from '../environments';
import { evidencePath } from '../evaluation/evidence';
import { Git, GitError, pushOrCatchUp, type PushTarget } from '../git';
import { InterruptGuard } from '../interrupts';
import {
  PROMOTION_TRAILER,
  REVERTS_TRAILER,
  ROLLBACK_TRAILER,
  newestUnrevertedPromotion,
} from '../promotion-history';
import {
  PROMOTION_PATHS,
  chartsSynth,
  dropChanges,
  listChanges,
  runSynth,
  stageEnvironmentChange,
  type SynthFn,
} from '../synth';
import { envOption } from './options';
import { requireClean } from './promote';

/** Options of {@link rollback}. */
export interface RollbackOptions {
  readonly cwd: string;
  readonly env: EnvironmentName;
  /** Push the commit to the remote branch. @default false */
  readonly push?: boolean;
  /** @default 'origin' */
  readonly remote?: string;
  /** Attempts when the push is rejected because the remote moved (each re-applies the rollback on top). @default 3 */
  readonly pushAttempts?: number;
  /** @default - the charts' synth, in process */
  readonly synth?: SynthFn;
  readonly log?: Log;
}

/** Outcome of {@link rollback}. */
export interface RollbackResult {
  readonly commit: string;
  /** The promotion commit that was undone. */
  readonly reverted: string;
  readonly fromVersion: string;
  readonly toVersion: string;
}

/** What a rollback undoes: the promotion commit, the pin it wrote and the pin before it. */
interface RollbackPlan {
  readonly target: string;
  readonly promoted: ModelPin;
  readonly previous: ModelPin;
}

/**
 * Undoes the newest promotion of `env` that has not been rolled back yet (found by its `Model-Promotion`
 * trailer): the pin goes back to its content before that commit, dist/ is re-synthesized from the current
 * charts, and one commit records it (`git revert` semantics for the pin, fresh synth for the manifests).
 * Refuses when there is no such promotion or the pin changed since. With `push`, a push rejected because the
 * remote moved on is re-applied on top of it as long as the remote still pins the version being rolled back.
 * Any failure restores the tree.
 */
export async function rollback(opts: RollbackOptions): Promise<RollbackResult> {
  const log = opts.log ?? stderrLog;
  const git = new Git(opts.cwd);
  const root = await git.topLevel();
  await requireClean(git, 'rollback');
  const branch = await git.branch();
  const startHead = await git.head();
  const pinFile = modelPinPath(root, opts.env);
  const pushTarget: PushTarget = {
    remote: opts.remote ?? 'origin',
    branch,
    attempts: opts.pushAttempts ?? 3,
    paths: PROMOTION_PATHS,
    command: 'rollback',
    log,
  };

  const plan = await planRollback(git, root, opts.env);
  const { target, promoted, previous } = plan;
  // From here on the tree is rewritten: a signal stops at the next step and the tree is restored.
  const interrupts = new InterruptGuard();
  log(`rollback: reverting ${target.slice(0, 12)} (${opts.env}: ${promoted.version} → ${previous.version})`);
  // The plan does not change between attempts (requireSameRollback stops when it would): neither does what
  // the commit restores and says.
  const evidenceRel = relative(root, evidencePath(root, opts.env));
  const hadEvidence = await git.succeeds(['cat-file', '-e', `${target}^:${evidenceRel}`]);
  const message = [
    `rollback(${opts.env}): ${promoted.name} ${promoted.version} -> ${previous.version}`,
    '',
    `Environment: ${opts.env}`,
    `Model: ${promoted.name}`,
    `Version: ${promoted.version} -> ${previous.version}`,
    `sha256: ${previous.sha256}`,
    `Source: ${previous.source}`,
    '',
    `This reverts the pin change of commit ${target}.`,
    '',
    `${ROLLBACK_TRAILER}: ${opts.env} ${promoted.name} ${promoted.version}->${previous.version}`,
    `${REVERTS_TRAILER}: ${target}`,
    '',
  ].join('\n');
  try {
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) await requireSameRollback(git, root, opts.env, plan, pushTarget);
      const base = await git.head();
      writeModelPin(pinFile, previous);
      // The gate's evidence goes back with the pin, so smoke compares against what the gate saw for that version.
      if (hadEvidence) {
        await git.run(['checkout', `${target}^`, '--', evidenceRel]);
      } else {
        rmSync(evidencePath(root, opts.env), { force: true });
      }
      interrupts.check();
      await runSynth(opts.synth ?? chartsSynth, root);
      interrupts.check();
      // Rolling back is the way out of an incident, so it is not refused for a stale dist/: it commits this
      // environment's change alone and leaves the rest as it was, saying so.
      const foreign = await stageEnvironmentChange(git, root, opts.env);
      if (foreign.length > 0) {
        await dropChanges(git, foreign);
        log(
          `rollback: left out ${foreign.length} file(s) outside ${opts.env} that the synth changed (${listChanges(foreign)}): ` +
            'dist/ does not match charts/; run npm run synth and commit that on its own',
        );
      }
      const commit = await git.commit(message);
      interrupts.check(); // the last point before anything leaves this machine
      log(
        `rollback: committed ${commit.slice(0, 12)} (${opts.env}: ${promoted.version} → ${previous.version})`,
      );
      const result = { commit, reverted: target, fromVersion: promoted.version, toVersion: previous.version };
      if (!opts.push || (await pushOrCatchUp(git, pushTarget, attempt, base))) return result;
    }
  } catch (err) {
    await git.restore(startHead, PROMOTION_PATHS);
    throw interrupts.failure('rollback', err, startHead);
  } finally {
    interrupts.dispose();
  }
}

/** Finds the promotion to undo and checks that the pin still is the one it wrote. */
async function planRollback(git: Git, root: string, env: EnvironmentName): Promise<RollbackPlan> {
  const pinRel = relative(root, modelPinPath(root, env));
  const target = await newestUnrevertedPromotion(git, env);
  if (!target) {
    throw new CliError(
      `nothing to roll back in '${env}': no commit with a '${PROMOTION_TRAILER}: ${env} …' trailer ` +
        'that has not been rolled back already',
    );
  }
  const promoted = await pinAt(git, target, pinRel);
  const previous = await pinAt(git, `${target}^`, pinRel);
  const now = currentPin(root, env);
  if (!promoted || !previous) {
    throw new CliError(
      `cannot roll back ${target.slice(0, 12)}: the pin ${pinRel} did not exist before it; promote a version instead`,
    );
  }
  if (!stillPins(now, promoted)) {
    throw new CliError(
      `cannot roll back ${target.slice(0, 12)} (${promoted.name} ${previous.version} -> ${promoted.version}): ` +
        `${pinRel} has changed since (now version ${now?.version ?? 'none'}); promote the version you want instead`,
    );
  }
  return { target, promoted, previous };
}

/** Whether the environment's pin is still the one the promotion being rolled back wrote. */
function stillPins(now: ModelPin | undefined, promoted: ModelPin): boolean {
  return (
    now !== undefined &&
    now.name === promoted.name &&
    now.version === promoted.version &&
    now.sha256 === promoted.sha256
  );
}

/**
 * After a lost push race, the rollback is re-applied on top of what won only if the remote still pins the version
 * being rolled back, by the same promotion. Otherwise someone else changed the pin meanwhile (a newer promotion, a
 * rollback of their own, a hand edit) and the rollback stops (the tree is restored, nothing is pushed).
 */
async function requireSameRollback(
  git: Git,
  root: string,
  env: EnvironmentName,
  plan: RollbackPlan,
  target: PushTarget,
): Promise<void> {
  const { promoted } = plan;
  const where = `${target.remote}/${target.branch}`;
  const stop = `someone else changed it; nothing was pushed: check what ${env} should serve and run rollback again if it still needs one`;
  const now = currentPin(root, env);
  if (!stillPins(now, promoted)) {
    const pinned = now ? `${now.name} version ${now.version}` : 'no model';
    throw new CliError(
      `rollback: ${where} pins ${env} to ${pinned} now, not version ${promoted.version} that this rollback reverts: ${stop}`,
    );
  }
  const newest = await newestUnrevertedPromotion(git, env);
  if (newest !== plan.target) {
    throw new CliError(
      `rollback: on ${where} the newest promotion of ${env} is ${newest?.slice(0, 12) ?? 'none'} now, not ` +
        `${plan.target.slice(0, 12)} that this rollback reverts: ${stop}`,
    );
  }
}

async function pinAt(git: Git, rev: string, path: string): Promise<ModelPin | undefined> {
  try {
    return ModelPinSchema.parse(JSON.parse(await git.run(['show', `${rev}:${path}`])));
  } catch (err) {
    if (err instanceof GitError) return undefined;
    throw new CliError(`${path} at ${rev.slice(0, 12)} is not a valid pin: ${(err as Error).message}`);
  }
}

/** Registers `rollback` on the CLI. */
export function registerRollbackCommand(program: Command): void {
  program
    .command('rollback')
    .description('Revert the newest promotion of an environment (found by its trailer), re-synth and commit')
    .requiredOption('--env <env>', 'environment: local, staging or production', envOption)
    .option('--push', 'push the commit to the current branch of the remote')
    .option('--remote <name>', 'git remote to push to', 'origin')
    .addHelpText(
      'after',
      '\nExit codes: 0 rolled back, 1 nothing to roll back or failure (tree restored), 2 usage, ' +
        '130/143 interrupted by SIGINT/SIGTERM (tree restored).',
    )
    .action(async (o: { env: EnvironmentName; push?: boolean; remote: string }) => {
      await rollback({ cwd: process.cwd(), env: o.env, push: o.push, remote: o.remote });
    });
}
