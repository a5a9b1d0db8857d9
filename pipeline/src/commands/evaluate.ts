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
import { Git } from '../git';
import { MlflowClient, mlflowConnectionFromEnv } from '../mlflow';
import { downloadServingFiles } from '../model-artifacts';
import { envOption, nonEmptyOption, versionOption } from './options';

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
  /** Any directory inside the repository (for `env`). @default process.cwd() */
  readonly cwd?: string;
  /** Needed for `name`/`version`, golden sets in MLflow and the champion. */
  readonly client?: MlflowClient;
  readonly log?: Log;
}

/** Outcome of {@link evaluate}. */
export interface EvaluateResult {
  readonly challenger: Evaluation;
  readonly champion?: Evaluation;
  /** Set with `env`. */
  readonly verdict?: Verdict;
}

/**
 * The promotion gate's evaluation on demand: a model (directory or registered version) on a golden set
 * (directory, or an environment's policy with its thresholds and champion).
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
  // Loaded on first use: the evaluation brings onnxruntime-node and sharp.
  const { evaluateModelDir } = await import('../evaluation/evaluate');
  const { EvaluationRefused, evaluatePromotion } = await import('../evaluation/promotion-gate');
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
      return { challenger: await evaluateModelDir(modelDir, golden, { expectedFiles: files }) };
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
      const r = await evaluatePromotion(client, {
        env,
        repoRoot: root,
        policy,
        challengerDir: modelDir,
        challengerFiles: files,
        location: location ?? '',
        runId,
        champion: pin,
        log,
      });
      return { challenger: r.challenger, champion: r.champion, verdict: r.verdict };
    } catch (err) {
      if (!(err instanceof EvaluationRefused)) throw err;
      return {
        challenger: err.result.challenger,
        champion: err.result.champion,
        verdict: err.result.verdict,
      };
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Registers `evaluate` on the CLI. */
export function registerEvaluateCommand(program: Command): void {
  program
    .command('evaluate')
    .description(
      "Run the promotion gate's evaluation: a model on a labelled golden set (one folder per label)",
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
    .option('--json', 'print JSON (accuracy 0..1, samples, perClass[].recall, confusion) instead of text')
    .addHelpText(
      'after',
      '\nExit codes: 0 evaluated (and passed, with --env), 1 failed a threshold or error, 2 usage.\n' +
        'Environment (for --name/--version, golden sets in MLflow and the champion): MLFLOW_TRACKING_URI, ...',
    )
    .action(
      async (o: {
        modelDir?: string;
        name?: string;
        version?: string;
        golden?: string;
        env?: EnvironmentName;
        json?: boolean;
      }) => {
        const result = await evaluate(o);
        process.stdout.write(
          o.json
            ? `${JSON.stringify(jsonReport(result.challenger, result.champion, result.verdict), null, 2)}\n`
            : textReport(result.challenger, result.champion, result.verdict),
        );
        if (result.verdict && !result.verdict.passed) process.exitCode = 1;
      },
    );
}
