import { synthesize, writeFiles } from '../../charts/src/synth';
import { CliError } from './cli-error';

/** Regenerates `dist/` and `argocd/` of the repository at `repoRoot`. */
export type SynthFn = (repoRoot: string) => void;

/** The paths a promotion or rollback may change: pins, generated manifests, Argo CD objects. */
export const PROMOTION_PATHS: readonly string[] = ['charts/environments', 'dist', 'argocd'];

/** The charts' own synth (what `npm run synth` runs), called in process on `repoRoot`. */
export const chartsSynth: SynthFn = (repoRoot) => {
  writeFiles(repoRoot, synthesize(repoRoot));
};

/** Runs a synth, turning its failure into a CLI message. */
export function runSynth(synth: SynthFn, repoRoot: string): void {
  try {
    synth(repoRoot);
  } catch (err) {
    throw new CliError(`synth failed: ${(err as Error).message}`);
  }
}
