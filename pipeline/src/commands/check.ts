import { Command } from 'commander';
import { ENVIRONMENTS, type EnvironmentName } from '../../../charts/src/config';
import { CliError } from '../cli-error';
import { currentPin, describeSelector, environmentSelector, resolveSelector } from '../environments';
import { Git } from '../git';
import { MlflowClient, MlflowError, mlflowConnectionFromEnv } from '../mlflow';
import {
  readPromotionHistory,
  rolledBackBy,
  rolledBackMessage,
  type TrailerCommit,
} from '../promotion-history';

/** Where one environment stands. */
export interface CheckRow {
  readonly env: EnvironmentName;
  /**
   * `in-sync`: the pin is the registry's version. `pending`: the registry points elsewhere (a promotion is due).
   * `rolled-back`: the registry points at a version this environment rolled back (not promoted again; see
   * `rollbackCommit`). `unset`: the alias/stage has no version. `baked`: the env does not follow the registry.
   * `error`: lookup failed.
   */
  readonly status: 'in-sync' | 'pending' | 'rolled-back' | 'unset' | 'baked' | 'error';
  readonly selector?: string;
  readonly pinned?: string;
  readonly registry?: string;
  /** With `rolled-back`: the rollback commit that took the registry's version out of this environment. */
  readonly rollbackCommit?: string;
  readonly detail: string;
}

/** Exit code of `check` when at least one promotion is pending (and nothing failed). */
export const EXIT_PENDING = 3;

/**
 * For every environment, compares the version the registry designates (the env's alias or stage from
 * `charts/environments/<env>.yaml`) with the version pinned in git. A version the environment rolled back is not
 * pending: the registry still names it because a rollback changes git only, and `promote` would not take it again.
 */
export async function check(client: MlflowClient, cwd: string): Promise<CheckRow[]> {
  const git = new Git(cwd);
  const root = await git.topLevel();
  const rows: CheckRow[] = [];
  let history: Promise<TrailerCommit[]> | undefined;
  for (const env of ENVIRONMENTS) {
    const pin = currentPin(root, env);
    const selector = await environmentSelector(root, env);
    if (!selector) {
      rows.push({
        env,
        status: 'baked',
        pinned: pin?.version,
        detail: 'serves the model baked into the image',
      });
      continue;
    }
    const sel = describeSelector(selector);
    const name = pin?.name;
    if (!name) {
      rows.push({
        env,
        status: 'error',
        selector: sel,
        detail: 'no pin file: promote once with --name <model>',
      });
      continue;
    }
    try {
      const v = await resolveSelector(client, name, selector);
      const found = { env, selector: sel, pinned: pin.version, registry: v.version };
      if (v.version === pin.version) {
        rows.push({ ...found, status: 'in-sync', detail: `pinned ${pin.version} = registry ${sel}` });
        continue;
      }
      history ??= readPromotionHistory(git); // read once, and only when some environment differs
      const rollbackCommit = rolledBackBy(await history, env, name, v.version);
      rows.push(
        rollbackCommit
          ? {
              ...found,
              status: 'rolled-back',
              rollbackCommit,
              detail:
                `pinned ${pin.version}, registry ${sel} → ${v.version}: ` +
                rolledBackMessage(env, name, v.version, selector, rollbackCommit),
            }
          : {
              ...found,
              status: 'pending',
              detail: `pinned ${pin.version}, registry ${sel} → ${v.version}: promotion pending`,
            },
      );
    } catch (err) {
      // Only an alias or stage without a version is `unset`: a model or server that is not there is an error.
      if (err instanceof MlflowError && err.kind === 'unassigned') {
        rows.push({ env, status: 'unset', selector: sel, pinned: pin.version, detail: err.message });
      } else {
        rows.push({
          env,
          status: 'error',
          selector: sel,
          pinned: pin.version,
          detail: (err as Error).message,
        });
      }
    }
  }
  return rows;
}

/** 1 when a lookup failed, {@link EXIT_PENDING} when a promotion is pending, else 0 (in sync or rolled back). */
export function checkExitCode(rows: readonly CheckRow[]): number {
  if (rows.some((r) => r.status === 'error')) return 1;
  return rows.some((r) => r.status === 'pending') ? EXIT_PENDING : 0;
}

/** Registers `check` on the CLI. */
export function registerCheckCommand(program: Command): void {
  program
    .command('check')
    .description('Compare, for every environment, the registry version (alias or stage) with the pin in git')
    .option('--json', 'print the rows as JSON on stdout instead of text')
    .addHelpText(
      'after',
      `\nExit codes: 0 nothing to promote (in sync, or the registry names a version rolled back in git), ` +
        `${EXIT_PENDING} a promotion is pending, 1 a lookup failed, 2 usage.\n` +
        'Environment: MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD.',
    )
    .action(async (o: { json?: boolean }) => {
      const client = new MlflowClient({ connection: mlflowConnectionFromEnv() });
      const rows = await check(client, process.cwd());
      if (o.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else for (const r of rows) process.stdout.write(`${r.env}: ${r.status}: ${r.detail}\n`);
      const code = checkExitCode(rows);
      if (code === 1) throw new CliError('check: a registry lookup failed', 1);
      process.exitCode = code;
    });
}
