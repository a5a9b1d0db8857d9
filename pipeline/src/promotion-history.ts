import type { EnvironmentName } from '../../charts/src/config';
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
interface TrailerCommit {
  readonly sha: string;
  readonly promotions: readonly PinChange[];
  readonly rollbacks: readonly PinChange[];
  readonly reverts: readonly string[];
}

/** The commits of HEAD's history that carry a promotion or rollback trailer, newest first. */
async function trailerCommits(git: Git): Promise<TrailerCommit[]> {
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
  for (const commit of await trailerCommits(git)) {
    for (const r of commit.reverts) reverted.add(r);
    if (commit.promotions.some((p) => p.env === env) && !reverted.has(commit.sha)) return commit.sha;
  }
  return undefined;
}
