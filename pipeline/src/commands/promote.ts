import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Command, Option } from 'commander';
import {
  formatModelPin,
  modelPinPath,
  writeModelPin,
  type EnvironmentName,
  type EvaluationPolicy,
  type ModelPin,
} from '../../../charts/src/config';
import { CliError, stderrLog, type Log } from '../cli-error';
import {
  currentPin,
  describeSelector,
  environmentPolicy,
  environmentSelector,
  resolveSelector,
  type Selector,
} from '../environments';
import { buildEvidence, evidencePath, writeEvidence } from '../evaluation/evidence';
import type { PromotionEvaluation } from '../evaluation/promotion-gate';
import { commitLines, markdownReport } from '../evaluation/report';
import type { GateReport } from '../gate';
import { Git, pushOrCatchUp, type PushTarget } from '../git';
import { InterruptGuard } from '../interrupts';
import {
  PROMOTION_TRAILER,
  readPromotionHistory,
  rolledBackBy,
  rolledBackMessage,
} from '../promotion-history';
import { MlflowClient, mlflowConnectionFromEnv } from '../mlflow';
import { downloadServingFiles } from '../model-artifacts';
import {
  PROMOTION_PATHS,
  chartsSynth,
  listChanges,
  runSynth,
  stageEnvironmentChange,
  type SynthFn,
} from '../synth';
import {
  aliasOption,
  envOption,
  latencyBudgetOption,
  modelNameOption,
  nonEmptyOption,
  versionOption,
} from './options';

/** Options of {@link promote}. */
export interface PromoteOptions {
  /** Any directory inside the repository. */
  readonly cwd: string;
  readonly env: EnvironmentName;
  /** What to promote. @default - the environment's alias or stage from charts/environments/<env>.yaml */
  readonly selector?: Selector;
  /** Registered model name. @default - the name in the environment's current pin */
  readonly name?: string;
  /** Push the commit to the remote branch. @default false */
  readonly push?: boolean;
  /** Commit on a new branch, push it and return a pull request body instead of pushing the branch. @default false */
  readonly pr?: boolean;
  /** @default 'origin' */
  readonly remote?: string;
  /** Attempts when the push is rejected because the remote moved (each re-applies the promotion on top). @default 3 */
  readonly pushAttempts?: number;
  /** Median time budget per sample image in the gate. @default DEFAULT_LATENCY_BUDGET_MS (1000 ms) */
  readonly latencyBudgetMs?: number;
  /** @default - the charts' synth, in process */
  readonly synth?: SynthFn;
  readonly log?: Log;
}

/** Outcome of {@link promote}. */
export type PromoteResult =
  | { readonly status: 'unchanged'; readonly version: string }
  /** The selector names a version this environment rolled back (and nothing promoted it since): nothing done. */
  | { readonly status: 'rolled-back'; readonly version: string; readonly rollbackCommit: string }
  | {
      readonly status: 'promoted';
      readonly commit: string;
      readonly oldVersion: string | undefined;
      readonly newVersion: string;
      /** Set with `pr`: the branch pushed and the pull request body. */
      readonly branch?: string;
      readonly prBody?: string;
    };

/**
 * resolve → download → validate (gate) → pin → synth → one commit (→ push, or → branch + PR body).
 * Idempotent: an environment already pinned to the resolved version yields `unchanged` and no commit. An alias or
 * stage that still names a version this environment rolled back yields `rolled-back` and no commit (a rollback
 * changes git, not the registry); an explicit version selector overrides that. Any failure restores the repository
 * to the commit and files it started from.
 */
export async function promote(client: MlflowClient, opts: PromoteOptions): Promise<PromoteResult> {
  const log = opts.log ?? stderrLog;
  const git = new Git(opts.cwd);
  const root = await git.topLevel();
  await requireClean(git, 'promote');
  const branch = await git.branch();
  const remote = opts.remote ?? 'origin';
  const startHead = await git.head();

  const before = currentPin(root, opts.env);
  const name = opts.name ?? before?.name;
  if (!name) {
    throw new CliError(
      `${relative(root, modelPinPath(root, opts.env))} does not exist: pass --name <model>`,
      2,
    );
  }
  const wanted = opts.selector ?? (await environmentSelector(root, opts.env));
  if (!wanted) {
    throw new CliError(
      `environment '${opts.env}' serves a model baked into the image (model.from: baked): ` +
        'pass --version, --alias or --stage to promote a registry version anyway',
      2,
    );
  }
  const version = await resolveSelector(client, name, wanted);
  // Stage names are case-insensitive on input; record MLflow's spelling.
  const selector: Selector =
    wanted.kind === 'stage' ? { kind: 'stage', value: version.current_stage ?? wanted.value } : wanted;
  log(`promote: ${opts.env}: ${describeSelector(selector)} of '${name}' is version ${version.version}`);
  if (version.status !== undefined && version.status !== 'READY') {
    throw new CliError(
      `version ${version.version} of model '${name}' has status ${version.status}, not READY: ` +
        'wait until MLflow finished registering it (or register it again when it FAILED_REGISTRATION)',
    );
  }
  if (before && before.name === name && before.version === version.version) {
    log(`promote: ${opts.env} is already pinned to ${name} version ${version.version}; nothing to do`);
    return { status: 'unchanged', version: version.version };
  }
  if (selector.kind !== 'version') {
    const rollbackCommit = rolledBackBy(await readPromotionHistory(git), opts.env, name, version.version);
    if (rollbackCommit) {
      log(`promote: ${rolledBackMessage(opts.env, name, version.version, selector, rollbackCommit)}`);
      return { status: 'rolled-back', version: version.version, rollbackCommit };
    }
  }

  const policy = await environmentPolicy(root, opts.env);
  // Loaded on first use: the gate and the evaluation bring onnxruntime-node and sharp.
  const { EvaluationRefused, gateChallenger, tagVerdict } = await import('../evaluation/promotion-gate');
  const location = await client.resolveArtifactLocation(version);
  const work = mkdtempSync(join(tmpdir(), 'model-gitops-promote-'));
  let pin: ModelPin;
  let gate: GateReport;
  let evaluation: PromotionEvaluation;
  try {
    const downloaded = await downloadServingFiles(client, location, work);
    // The gate resolves the directory with the model format and fails unless the files read are exactly the
    // ones downloaded, so the pin covers them.
    try {
      const gated = await gateChallenger(client, {
        env: opts.env,
        repoRoot: root,
        policy,
        challengerDir: work,
        challengerFiles: downloaded,
        location,
        runId: version.run_id,
        champion: before,
        latencyBudgetMs: opts.latencyBudgetMs,
        log,
      });
      gate = gated.structure;
      evaluation = gated;
    } catch (err) {
      if (err instanceof EvaluationRefused) {
        await tagVerdict(client, name, version.version, opts.env, err.result, {
          reason: err.result.verdict.failures.map((f) => f.message).join('; '),
        }).catch((e: unknown) =>
          log(`promote: could not tag the refusal in MLflow: ${(e as Error).message}`),
        );
      }
      throw err;
    }
    pin = {
      name,
      version: version.version,
      sha256: gate.sha256,
      files: downloaded,
      source: location,
      ...(version.run_id ? { runId: version.run_id } : {}),
    };
    formatModelPin(pin); // validates before anything is written
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const evidence = buildEvidence(evaluation.challenger, {
    name,
    version: pin.version,
    sha256: pin.sha256,
    from: policy.goldenSet.from,
    samples: policy.smokeSamples,
    scoreTolerance: policy.scoreTolerance,
  });
  /** Tags the version `passed` once its commit exists (and is pushed); a tagging failure only warns. */
  const tagPassed = async (commit: string): Promise<void> => {
    await tagVerdict(client, name, pin.version, opts.env, evaluation, { commit }).catch((e: unknown) =>
      log(`promote: committed, but could not tag the version in MLflow: ${(e as Error).message}`),
    );
  };

  const synth = opts.synth ?? chartsSynth;
  const pushTarget: PushTarget = {
    remote,
    branch,
    attempts: opts.pushAttempts ?? 3,
    paths: PROMOTION_PATHS,
    command: 'promote',
    log,
  };
  // From here on the tree is rewritten: a signal stops at the next step and the tree is restored.
  const interrupts = new InterruptGuard();
  log(
    `promote: gate passed: ${gate.samples} sample images, median ${gate.medianMs.toFixed(1)} ms ` +
      `(max ${gate.maxMs.toFixed(1)} ms); accuracy ${(evaluation.challenger.accuracy * 100).toFixed(1)} % on ` +
      `${evaluation.challenger.samples} golden images`,
  );
  let prBranch: string | undefined;
  try {
    for (let attempt = 1; ; attempt++) {
      const old = currentPin(root, opts.env);
      if (old && old.name === pin.name && old.version === pin.version) {
        log(`promote: ${opts.env} was pinned to version ${pin.version} meanwhile; nothing to do`);
        return { status: 'unchanged', version: pin.version };
      }
      if (attempt > 1) await requireSameGate(root, opts.env, { pin: before, policy }, old);
      const base = await git.head();
      if (opts.pr) {
        const name = `model-promotion/${opts.env}/${pin.name}-v${pin.version}`;
        await git.run(['checkout', '--quiet', '-b', name]);
        // Set only once created: the cleanup below must never delete a branch an earlier run left.
        prBranch = name;
      }
      writeModelPin(modelPinPath(root, opts.env), pin);
      writeEvidence(evidencePath(root, opts.env), evidence);
      interrupts.check();
      await runSynth(synth, root);
      interrupts.check();
      const foreign = await stageEnvironmentChange(git, root, opts.env);
      if (foreign.length > 0) {
        throw new CliError(
          `promote: the synth also changed ${foreign.length} file(s) outside ${opts.env} (${listChanges(foreign)}): ` +
            `dist/ on ${branch} does not match charts/, so a change was committed without npm run synth; run ` +
            'npm run synth, commit that on its own and promote again (nothing was committed)',
        );
      }
      const commit = await git.commit(promotionMessage(opts.env, old, pin, selector, gate, evaluation));
      interrupts.check(); // the last point before anything leaves this machine
      log(
        `promote: committed ${commit.slice(0, 12)} (${opts.env}: ${old?.version ?? 'none'} → ${pin.version})`,
      );
      if (opts.pr && prBranch) {
        await git.run(['push', '--quiet', '--set-upstream', remote, prBranch]);
        const body = await pullRequestBody(git, base, opts.env, old, pin, gate, evaluation);
        await git.run(['checkout', '--quiet', branch]);
        log(`promote: pushed branch ${prBranch}; open a pull request with the body printed on stdout`);
        await tagPassed(commit);
        return {
          status: 'promoted',
          commit,
          oldVersion: old?.version,
          newVersion: pin.version,
          branch: prBranch,
          prBody: body,
        };
      }
      if (!opts.push || (await pushOrCatchUp(git, pushTarget, attempt, base))) {
        await tagPassed(commit);
        return { status: 'promoted', commit, oldVersion: old?.version, newVersion: pin.version };
      }
    }
  } catch (err) {
    // A failed cleanup step is reported, but never hides the error that stopped the promotion.
    const cleanup = async (what: string, args: string[]): Promise<void> => {
      await git.run(args).catch((e: unknown) => log(`promote: could not ${what}: ${(e as Error).message}`));
    };
    if (prBranch) await cleanup(`switch back to ${branch}`, ['checkout', '--quiet', '--force', branch]);
    await git.restore(startHead, PROMOTION_PATHS);
    if (prBranch) await cleanup(`delete branch ${prBranch}`, ['branch', '--quiet', '-D', prBranch]);
    throw interrupts.failure('promote', err, startHead);
  } finally {
    interrupts.dispose();
  }
}

/**
 * After a lost push race, the promotion is re-applied on top of what won only if the gate's inputs are still
 * those it judged by: the same champion and the same evaluation policy. Otherwise the version was never
 * compared with what now serves, and the promotion stops (the tree is restored).
 */
async function requireSameGate(
  root: string,
  env: EnvironmentName,
  judged: { pin: ModelPin | undefined; policy: EvaluationPolicy },
  now: ModelPin | undefined,
): Promise<void> {
  const pinName = (p: ModelPin | undefined): string => (p ? `${p.name} version ${p.version}` : 'no model');
  if (pinName(now) !== pinName(judged.pin) || now?.sha256 !== judged.pin?.sha256) {
    throw new CliError(
      `promote: ${env} was pinned to ${pinName(now)} meanwhile; the gate compared the candidate with ` +
        `${pinName(judged.pin)}, not with it: run promote again to evaluate against what now serves`,
    );
  }
  if (JSON.stringify(await environmentPolicy(root, env)) !== JSON.stringify(judged.policy)) {
    throw new CliError(
      `promote: the evaluation policy of ${env} (charts/environments/${env}.yaml) changed meanwhile; ` +
        'run promote again to evaluate under it',
    );
  }
}

/** Refuses to run on a tree with uncommitted changes that a restore would lose or a commit would include. */
export async function requireClean(git: Git, command: string): Promise<void> {
  const dirty = await git.dirtyEntries(PROMOTION_PATHS);
  if (dirty.length > 0) {
    throw new CliError(
      `${command} needs a clean working tree but found: ${listChanges(dirty)}: commit or stash these changes first`,
    );
  }
}

/** The commit message of a promotion: subject, the facts a reviewer needs, and the trailer rollback searches. */
export function promotionMessage(
  env: EnvironmentName,
  old: ModelPin | undefined,
  pin: ModelPin,
  selector: Selector,
  gate: GateReport,
  evaluation: PromotionEvaluation,
): string {
  const oldVersion = old?.version ?? 'none';
  return [
    `promote(${env}): ${pin.name} ${oldVersion} -> ${pin.version}`,
    '',
    `Environment: ${env}`,
    `Model: ${pin.name}`,
    `Version: ${oldVersion} -> ${pin.version} (${describeSelector(selector)})`,
    `sha256: ${pin.sha256}`,
    ...Object.entries(pin.files).map(([file, sha]) => `File: ${file} ${sha}`),
    `Source: ${pin.source}`,
    `Source run: ${pin.runId ?? 'unknown'}`,
    `Gate: ${gate.samples} sample images, median ${gate.medianMs.toFixed(1)} ms/image`,
    ...commitLines(evaluation.challenger, evaluation.champion, evaluation.verdict),
    '',
    `${PROMOTION_TRAILER}: ${env} ${pin.name} ${oldVersion}->${pin.version}`,
    '',
  ].join('\n');
}

async function pullRequestBody(
  git: Git,
  base: string,
  env: EnvironmentName,
  old: ModelPin | undefined,
  pin: ModelPin,
  gate: GateReport,
  evaluation: PromotionEvaluation,
): Promise<string> {
  const status = await git.run(['diff', '--name-status', base, 'HEAD', '--', 'dist', 'argocd']);
  const numstat = await git.run(['diff', '--numstat', base, 'HEAD', '--', 'dist', 'argocd']);
  const counts = new Map<string, string>();
  for (const line of numstat.split('\n').filter(Boolean)) {
    const [add, del, file] = line.split('\t');
    counts.set(file ?? '', `+${add} −${del}`);
  }
  const verbs: Record<string, string> = { A: 'added', M: 'changed', D: 'deleted' };
  const objects = status
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [code, file] = line.split('\t');
      return `- ${verbs[code?.[0] ?? ''] ?? code} \`${file}\` (${counts.get(file ?? '') ?? ''})`;
    });
  const diff = await git.run(['diff', '--unified=0', base, 'HEAD', '--', 'dist', 'argocd']);
  const changedLines = diff
    .split('\n')
    .filter((l) => /^[+-]/.test(l) && !/^(\+\+\+|---)/.test(l))
    .slice(0, 60);
  const row = (label: string, a: string | undefined, b: string | undefined): string =>
    `| ${label} | ${a ?? '—'} | ${b ?? '—'} |`;
  return [
    `## Promote \`${pin.name}\` in **${env}**: ${old?.version ?? 'none'} → ${pin.version}`,
    '',
    '| | current | proposed |',
    '|---|---|---|',
    row('version', old?.version, pin.version),
    row('ONNX sha256', old?.sha256, pin.sha256),
    ...[...new Set([...Object.keys(old?.files ?? {}), ...Object.keys(pin.files)])]
      .sort()
      .map((file) => row(`${file} sha256`, old?.files[file], pin.files[file])),
    row('source', old?.source, pin.source),
    row('run', old?.runId, pin.runId),
    '',
    `Validation gate: passed on ${gate.samples} sample images (median ${gate.medianMs.toFixed(1)} ms/image, ` +
      `max ${gate.maxMs.toFixed(1)} ms); top labels: ${gate.predictions.join(', ')}.`,
    '',
    ...markdownReport(evaluation.challenger, evaluation.champion, evaluation.verdict),
    '',
    `### Objects in dist/ that change (${objects.length})`,
    ...(objects.length ? objects : ['- none']),
    '',
    '<details><summary>Changed lines</summary>',
    '',
    '```diff',
    ...changedLines,
    '```',
    '</details>',
    '',
    `Merging this deploys it through Argo CD; \`model-gitops rollback --env ${env}\` reverts it.`,
    '',
  ].join('\n');
}

/** Registers `promote` on the CLI. */
export function registerPromoteCommand(program: Command): void {
  program
    .command('promote')
    .description('Resolve a registry version, validate it, pin it for an environment, re-synth and commit')
    .requiredOption('--env <env>', 'environment: local, staging or production', envOption)
    .addOption(
      new Option('--version <n>', 'promote this version, even one rolled back in this environment')
        .argParser(versionOption('--version'))
        .conflicts(['alias', 'stage']),
    )
    .addOption(
      new Option('--alias <alias>', 'promote the version this alias points to')
        .argParser(aliasOption('--alias'))
        .conflicts('stage'),
    )
    .option(
      '--stage <stage>',
      'promote the newest version in this stage (Staging, Production)',
      nonEmptyOption('--stage'),
    )
    .option(
      '--name <model>',
      'registered model name (default: the name in the current pin)',
      modelNameOption('--name'),
    )
    .addOption(new Option('--push', 'push the commit to the current branch of the remote').conflicts('pr'))
    .option('--pr', 'commit on a new branch, push it and print a pull request body on stdout')
    .option('--remote <name>', 'git remote to push to', 'origin')
    .addOption(latencyBudgetOption())
    .addHelpText(
      'after',
      "\nWithout --version/--alias/--stage the environment's model.alias or model.stage from " +
        'charts/environments/<env>.yaml is used. A version rolled back in the environment is not promoted again\n' +
        'from an alias or stage (exit 0, nothing done); --version promotes it deliberately.\n' +
        'Exit codes: 0 promoted, already pinned or rolled back before, 1 failure (tree restored), 2 usage,\n' +
        '130/143 interrupted by SIGINT/SIGTERM (tree restored).\n' +
        'Environment: MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD.',
    )
    .action(async (o: PromoteCliOptions) => {
      const selector: Selector | undefined =
        o.version !== undefined
          ? { kind: 'version', value: o.version }
          : o.alias !== undefined
            ? { kind: 'alias', value: o.alias }
            : o.stage !== undefined
              ? { kind: 'stage', value: o.stage }
              : undefined;
      const client = new MlflowClient({ connection: mlflowConnectionFromEnv() });
      const result = await promote(client, {
        cwd: process.cwd(),
        env: o.env,
        selector,
        name: o.name,
        push: o.push,
        pr: o.pr,
        remote: o.remote,
        latencyBudgetMs: o.latencyBudgetMs,
      });
      if (result.status === 'promoted' && result.prBody) process.stdout.write(result.prBody);
    });
}

interface PromoteCliOptions {
  env: EnvironmentName;
  version?: string;
  alias?: string;
  stage?: string;
  name?: string;
  push?: boolean;
  pr?: boolean;
  remote: string;
  latencyBudgetMs: number;
}
