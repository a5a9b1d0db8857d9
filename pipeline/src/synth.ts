import { relative } from 'node:path';
import { modelPinPath, type EnvironmentName } from '../../charts/src/config';
import { CliError } from './cli-error';
import { evidencePath } from './evaluation/evidence';
import type { Git } from './git';

/** Regenerates `dist/` and `argocd/` of the repository at `repoRoot`. */
export type SynthFn = (repoRoot: string) => void | Promise<void>;

/** The paths a promotion or rollback may change: pins, generated manifests, Argo CD objects. */
export const PROMOTION_PATHS: readonly string[] = ['charts/environments', 'dist', 'argocd'];

/**
 * The charts' own synth (what `npm run synth` runs), called in process on `repoRoot`. Loaded on first use so
 * that commands without a synth (model-fetch in the init container, relay) do not load cdk8s.
 */
export const chartsSynth: SynthFn = async (repoRoot) => {
  const { synthesize, writeFiles } = await import('../../charts/src');
  writeFiles(repoRoot, synthesize(repoRoot));
};

/** Runs a synth, turning its failure into a CLI message. */
export async function runSynth(synth: SynthFn, repoRoot: string): Promise<void> {
  try {
    await synth(repoRoot);
  } catch (err) {
    throw new CliError(`synth failed: ${(err as Error).message}`);
  }
}

/** A change staged outside the environment's own files: git's status letter (A, M, D) and the path. */
export interface ForeignChange {
  readonly status: string;
  readonly path: string;
}

/**
 * Stages what a pin change and its synth changed under {@link PROMOTION_PATHS} and returns the staged changes
 * outside `env`'s own files (its pin, its evidence, `dist/<env>/`). A synth changes nothing else unless `dist/`
 * did not match `charts/` before (a change committed without `npm run synth`): such changes must not ship under a
 * model's name, unreviewed, in a commit verify-deploy judges by `env` alone.
 */
export async function stageEnvironmentChange(
  git: Git,
  root: string,
  env: EnvironmentName,
): Promise<ForeignChange[]> {
  await git.run(['add', '--all', '--', ...PROMOTION_PATHS]);
  const own = [modelPinPath(root, env), evidencePath(root, env)].map((p) => relative(root, p));
  const staged = await git.run(['diff', '--cached', '--name-status', '--no-renames']);
  return staged
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [status = '', path = ''] = line.split('\t');
      return { status, path };
    })
    .filter((c) => !own.includes(c.path) && !c.path.startsWith(`dist/${env}/`));
}

/** Takes `changes` back out of the index and the tree: those paths stay as HEAD has them. */
export async function dropChanges(git: Git, changes: readonly ForeignChange[]): Promise<void> {
  if (changes.length === 0) return;
  const paths = changes.map((c) => c.path);
  await git.run(['reset', '--quiet', '--', ...paths]);
  const tracked = changes.filter((c) => c.status !== 'A').map((c) => c.path);
  if (tracked.length > 0) await git.run(['checkout', 'HEAD', '--', ...tracked]);
  const added = changes.filter((c) => c.status === 'A').map((c) => c.path);
  if (added.length > 0) await git.run(['clean', '-fq', '--', ...added]);
}

/** `a, b, c, d, e, …`: the first five paths of `changes`, for a message. */
export function listChanges(changes: readonly ForeignChange[]): string {
  return `${changes
    .slice(0, 5)
    .map((c) => c.path)
    .join(', ')}${changes.length > 5 ? ', …' : ''}`;
}
