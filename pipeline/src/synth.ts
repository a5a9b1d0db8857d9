import { CliError } from './cli-error';

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
