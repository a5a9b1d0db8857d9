import type { EnvironmentName } from '../../charts/src/config';
import { CliError } from './cli-error';
import type { Selector } from './environments';
import type { Git } from './git';

/** The trailer of a promotion commit: `Model-Promotion: <env> <model> <old>-><new>`. */
export const PROMOTION_TRAILER = 'Model-Promotion';
/** The trailer of a rollback commit: `Model-Rollback: <env> <model> <from>-><to>`. */
export const ROLLBACK_TRAILER = 'Model-Rollback';
/** The trailer of a rollback commit that names the promotion commit it undid. */
export const REVERTS_TRAILER = 'Reverts-Promotion';

/** One pin change as a trailer records it; only `env` is certain in a hand-written trailer. */
interface PinChange {
  readonly env: string;
  readonly name?: string;
  readonly from?: string;
  readonly to?: string;
}

/** A commit carrying at least one of the trailers above. */
export interface TrailerCommit {
  readonly sha: string;
  readonly promotions: readonly PinChange[];
  readonly rollbacks: readonly PinChange[];
  readonly reverts: readonly string[];
}

/**
 * The commits of HEAD's history that carry a promotion or rollback trailer, newest first. Refuses a shallow clone:
 * a rollback older than its boundary would silently go unseen.
 */
export async function readPromotionHistory(git: Git): Promise<TrailerCommit[]> {
  if ((await git.run(['rev-parse', '--is-shallow-repository'])).trim() === 'true') {
    throw new CliError(
      'the repository is a shallow clone, so its promotion and rollback history is incomplete: fetch the full ' +
        'history (git fetch --unshallow; in a workflow, actions/checkout with fetch-depth: 0)',
    );
  }
  const keys = [PROMOTION_TRAILER, ROLLBACK_TRAILER, REVERTS_TRAILER];
  const field = (key: string): string => `%(trailers:key=${key},valueonly,separator=%x1d)`;
  // Only commits carrying a trailer are listed, so the output stays small however long the history.
  const log = await git.run([
    'log',
    '--extended-regexp',
    `--grep=^(${keys.join('|')}): `,
    `--format=%H%x1f${keys.map(field).join('%x1f')}%x1e`,
  ]);
  const values = (text: string | undefined): string[] =>
    (text ?? '')
      .split('\x1d')
      .map((v) => v.trim())
      .filter(Boolean);
  const commits: TrailerCommit[] = [];
  for (const record of log.split('\x1e')) {
    const [sha, promotions, rollbacks, reverts] = record.trim().split('\x1f');
    if (!sha) continue;
    commits.push({
      sha,
      promotions: values(promotions).map(parsePinChange),
      rollbacks: values(rollbacks).map(parsePinChange),
      reverts: values(reverts),
    });
  }
  return commits;
}

/** `production cats-dogs-classifier 1->2` (model names hold no spaces). */
function parsePinChange(value: string): PinChange {
  const [env = '', name, versions] = value.split(/\s+/);
  const [from, to] = versions?.split('->') ?? [];
  return { env, name, from, to };
}

/** The newest promotion commit of `env` in HEAD's history that no rollback has reverted yet. */
export async function newestUnrevertedPromotion(git: Git, env: EnvironmentName): Promise<string | undefined> {
  const reverted = new Set<string>();
  for (const commit of await readPromotionHistory(git)) {
    for (const r of commit.reverts) reverted.add(r);
    if (commit.promotions.some((p) => p.env === env) && !reverted.has(commit.sha)) return commit.sha;
  }
  return undefined;
}

/**
 * The rollback commit that took `version` of model `name` out of `env`, when that is the version's latest fate in
 * `history` ({@link readPromotionHistory}) (a promotion of the version into `env` after the rollback, e.g. with an explicit `--version`,
 * clears it); undefined otherwise.
 */
export function rolledBackBy(
  history: readonly TrailerCommit[],
  env: EnvironmentName,
  name: string,
  version: string,
): string | undefined {
  for (const commit of history) {
    const of = (c: PinChange): boolean => c.env === env && c.name === name;
    if (commit.rollbacks.some((c) => of(c) && c.from === version)) return commit.sha;
    if (commit.promotions.some((c) => of(c) && c.to === version)) return undefined;
  }
  return undefined;
}

/**
 * Why a rolled-back version is not promoted again, and the ways forward: `check` and `promote` say the same. The
 * registry still designates the version (a rollback changes git only), so without this the next scheduled run
 * would promote it again.
 */
export function rolledBackMessage(
  env: EnvironmentName,
  name: string,
  version: string,
  selector: Selector,
  rollbackCommit: string,
): string {
  const move =
    selector.kind === 'stage'
      ? `move another version to stage '${selector.value}'`
      : selector.kind === 'alias'
        ? `point alias '${selector.value}' at another version`
        : 'choose another version';
  return (
    `version ${version} of '${name}' was rolled back in ${env} by ${rollbackCommit.slice(0, 12)}, so it is not ` +
    `promoted again: register a new version, ${move}, or promote it deliberately with ` +
    `'promote --env ${env} --version ${version}'`
  );
}
