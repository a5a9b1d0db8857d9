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

/**
 * Stages what a pin change and its synth changed under {@link PROMOTION_PATHS} and returns the staged paths
 * outside `env`'s own files (its pin, its evidence, `dist/<env>/`). A synth changes nothing else unless `dist/`
 * did not match `charts/` before (a change committed without `npm run synth`): such changes must not ship under a
 * model's name, unreviewed, in a commit verify-deploy judges by `env` alone.
 */
export async function stageEnvironmentChange(
  git: Git,
  root: string,
  env: EnvironmentName,
): Promise<string[]> {
  await git.run(['add', '--all', '--', ...PROMOTION_PATHS]);
  const own = [modelPinPath(root, env), evidencePath(root, env)].map((p) => relative(root, p));
  const staged = await git.run(['diff', '--cached', '--name-only', '--no-renames']);
  return staged
    .split('\n')
    .filter(Boolean)
    .filter((path) => !own.includes(path) && !path.startsWith(`dist/${env}/`));
}

/** Takes `paths` back out of the index and the tree, added, changed or deleted: they stay as HEAD has them. */
export async function dropChanges(git: Git, paths: readonly string[]): Promise<void> {
  if (paths.length > 0) await git.run(['restore', '--source=HEAD', '--staged', '--worktree', '--', ...paths]);
}

/** `a, b, c, d, e, …`: the first five of `paths`, for a message. */
export function listChanges(paths: readonly string[]): string {
  return `${paths.slice(0, 5).join(', ')}${paths.length > 5 ? ', …' : ''}`;
}
