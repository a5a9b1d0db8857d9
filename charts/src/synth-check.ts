/**
 * `npm run synth:check` (CI): regenerates dist/ and argocd/, then fails when git sees any difference — the
 * committed manifests are stale, or someone edited generated files by hand.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { synthesize, writeFiles } from './synth';

const repoRoot = resolve(__dirname, '..', '..');
try {
  writeFiles(repoRoot, synthesize(repoRoot));
} catch (err) {
  console.error(`synth failed: ${(err as Error).message}`);
  process.exit(1);
}
const status = execFileSync(
  'git',
  ['status', '--porcelain', '--untracked-files=all', '--', 'dist', 'argocd'],
  {
    cwd: repoRoot,
    encoding: 'utf8',
  },
);
if (status.trim() !== '') {
  console.error(
    'synth:check failed: dist/ or argocd/ differ from what charts/ generates:\n' +
      status +
      '\nRun `npm run synth` and commit the result (never edit dist/ or argocd/ by hand).',
  );
  process.exit(1);
}
console.log('synth:check: dist/ and argocd/ are up to date');
