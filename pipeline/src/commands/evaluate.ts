import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import type { EnvironmentName } from '../../../charts/src/config';
import { CliError, stderrLog, type Log } from '../cli-error';
import { currentPin, environmentPolicy } from '../environments';
import type { Evaluation } from '../evaluation/evaluate';
import { DEFAULT_LIMITS, readGoldenSet } from '../evaluation/golden-set';
import type { Verdict } from '../evaluation/policy';
import { jsonReport, textReport } from '../evaluation/report';
import type { GateReport } from '../gate';
import { Git } from '../git';
import { MlflowClient, mlflowConnectionFromEnv } from '../mlflow';
import { downloadServingFiles } from '../model-artifacts';
import { envOption, latencyBudgetOption, nonEmptyOption, versionOption } from './options';

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** A local model directory … */
  readonly modelDir?: string;
  /** … or a registered version (downloaded through MLflow). */
  readonly name?: string;
  readonly version?: string;
  /** A local golden set directory … */
  readonly golden?: string;
  /** … or an environment: its golden set, thresholds and champion, exactly as `promote` judges. */
  readonly env?: EnvironmentName;
  /** Median time budget per sample image in the gate's structural checks. @default DEFAULT_LATENCY_BUDGET_MS (1000 ms) */
  readonly latencyBudgetMs?: number;
  /** Any directory inside the repository (for `env`). @default process.cwd() */
  readonly cwd?: string;
  /** Needed for `name`/`version`, golden sets in MLflow and the champion. */
  readonly client?: MlflowClient;
  readonly log?: Log;
}

/** Outcome of {@link evaluate}: the gate's structural checks refused the model, or passed it and it was evaluated. */
export type EvaluateResult =
  | {
      /** The structural checks' message ("validation gate: …"); nothing was evaluated: promote stops there too. */
      readonly refused: string;
    }
  | {
      /** What the structural checks measured. */
      readonly structure: GateReport;
      readonly challenger: Evaluation;
      readonly champion?: Evaluation;
      /** Set with `env`. */
      readonly verdict?: Verdict;
    };

/**
 * The promotion gate on demand: a model (directory or registered version) through the gate's structural checks,
 * then on a golden set (a directory, or an environment's policy with its thresholds and champion: then exactly
 * the gate `promote` runs).
 */
export async function evaluate(opts: EvaluateOptions): Promise<EvaluateResult> {
  const log = opts.log ?? stderrLog;
  if ((opts.modelDir === undefined) === (opts.name === undefined || opts.version === undefined)) {
    throw new CliError('pass either --model-dir DIR or --name N --version V', 2);
  }
  if ((opts.golden === undefined) === (opts.env === undefined)) {
    throw new CliError('pass either --golden DIR or --env E', 2);
  }
  const needClient = (): MlflowClient =>
    opts.client ?? new MlflowClient({ connection: mlflowConnectionFromEnv() });
  // Loaded on first use: the gate and the evaluation bring onnxruntime-node and sharp.
  const { GateRefused, validateModelDir } = await import('../gate');
  const { evaluateModelDir } = await import('../evaluation/evaluate');
  const { EvaluationRefused, gateChallenger } = await import('../evaluation/promotion-gate');
  const work = mkdtempSync(join(tmpdir(), 'model-gitops-evaluate-cmd-'));
  try {
    let modelDir = opts.modelDir;
    let location: string | undefined;
    let runId: string | undefined;
    let files: Readonly<Record<string, string>> | undefined;
    if (modelDir === undefined) {
      const client = needClient();
      const version = await client.getModelVersion(opts.name as string, opts.version as string);
      location = await client.resolveArtifactLocation(version);
      runId = version.run_id;
      modelDir = join(work, 'model');
      files = await downloadServingFiles(client, location, modelDir);
    }
    if (opts.golden !== undefined) {
      const golden = readGoldenSet(opts.golden, opts.golden, DEFAULT_LIMITS);
      const structure = await validateModelDir(modelDir, {
        files,
        latencyBudgetMs: opts.latencyBudgetMs,
      });
      return { structure, challenger: await evaluateModelDir(modelDir, golden, { expectedFiles: files }) };
    }
    const env = opts.env as EnvironmentName;
    const root = await new Git(opts.cwd ?? process.cwd()).topLevel();
    const policy = await environmentPolicy(root, env);
    let pin = currentPin(root, env);
    let client = opts.client;
    if (!client && (process.env.MLFLOW_TRACKING_URI || policy.goldenSet.from !== 'repository')) {
      client = needClient();
    }
    if (pin && !client) {
      log(
        `evaluate: MLFLOW_TRACKING_URI is not set: the champion (${env} version ${pin.version}) is not compared`,
      );
      pin = undefined;
    }
    try {
      const r = await gateChallenger(client, {
        env,
        repoRoot: root,
        policy,
        challengerDir: modelDir,
        challengerFiles: files,
        location: location ?? '',
        runId,
        champion: pin,
        latencyBudgetMs: opts.latencyBudgetMs,
        log,
      });
      return { structure: r.structure, challenger: r.challenger, champion: r.champion, verdict: r.verdict };
    } catch (err) {
      if (!(err instanceof EvaluationRefused)) throw err;
      return {
        // gateChallenger refuses only after the structural checks passed, and says what they measured.
        structure: err.result.structure as GateReport,
        challenger: err.result.challenger,
        champion: err.result.champion,
        verdict: err.result.verdict,
      };
    }
  } catch (err) {
    if (err instanceof GateRefused) return { refused: err.message };
    throw err;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** `evaluate`'s text: the structural checks' line, then the evaluation's report; or the refusal. */
function evaluateText(r: EvaluateResult): string {
  if ('refused' in r) {
    return (
      "verdict: failed (the gate's structural checks refused the model; the golden set was not evaluated)\n" +
      `  - ${r.refused}\n`
    );
  }
  const g = r.structure;
  return (
    `validation gate: passed on ${g.samples} sample images (median ${g.medianMs.toFixed(1)} ms/image, ` +
    `max ${g.maxMs.toFixed(1)} ms)\n${textReport(r.challenger, r.champion, r.verdict)}`
  );
}

/**
 * `evaluate --json`: the evaluation's report and `gate`, what the structural checks measured. When they refused the
 * model, only `gate` (`passed: false`, `message`) and, with `--env`, a failed `verdict` naming it.
 */
function evaluateJson(r: EvaluateResult, withEnv: boolean): unknown {
  if ('refused' in r) {
    return {
      gate: { passed: false, message: r.refused },
      ...(withEnv
        ? { verdict: { passed: false, failures: [{ threshold: 'gate', message: r.refused }] } }
        : {}),
    };
  }
  const g = r.structure;
  return {
    ...(jsonReport(r.challenger, r.champion, r.verdict) as object),
    gate: { passed: true, samples: g.samples, medianMs: g.medianMs, maxMs: g.maxMs },
  };
}

/** Registers `evaluate` on the CLI. */
export function registerEvaluateCommand(program: Command): void {
  program
    .command('evaluate')
    .description(
      'Run the promotion gate: its structural checks, then a model on a labelled golden set (one folder per label)',
    )
    .addOption(new Option('--model-dir <dir>', 'local model directory').conflicts(['name', 'version']))
    .option('--name <model>', 'registered model name (with --version)', nonEmptyOption('--name'))
    .option('--version <n>', 'registered model version (with --name)', versionOption('--version'))
    .addOption(new Option('--golden <dir>', 'golden set directory: <label>/<image> files').conflicts('env'))
    .option(
      '--env <env>',
      "the environment's golden set, thresholds and champion (as promote judges)",
      envOption,
    )
    .addOption(latencyBudgetOption())
    .option(
      '--json',
      'print JSON (gate, accuracy 0..1, samples, perClass[].recall, confusion) instead of text',
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 evaluated (and passed, with --env), 1 refused by the gate, failed a threshold or error, ' +
        '2 usage.\n' +
        'Environment (for --name/--version, golden sets in MLflow and the champion): MLFLOW_TRACKING_URI, ...',
    )
    .action(
      async (o: {
        modelDir?: string;
        name?: string;
        version?: string;
        golden?: string;
        env?: EnvironmentName;
        latencyBudgetMs: number;
        json?: boolean;
      }) => {
        const result = await evaluate(o);
        process.stdout.write(
          o.json
            ? `${JSON.stringify(evaluateJson(result, o.env !== undefined), null, 2)}\n`
            : evaluateText(result),
        );
        if ('refused' in result || (result.verdict && !result.verdict.passed)) process.exitCode = 1;
      },
    );
}
