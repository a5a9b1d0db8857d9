/**
 * `npm run synth` (and the cdk8s.yaml app): regenerates dist/<env>/ and argocd/ from charts/. Exits 1 with the
 * validation message when a config or pin is invalid.
 */
import { resolve } from 'node:path';
import { synthesize, writeFiles } from './synth';

const repoRoot = resolve(__dirname, '..', '..');
try {
  const files = synthesize(repoRoot);
  const { written, removed } = writeFiles(repoRoot, files);
  for (const f of written) console.log(`wrote   ${f}`);
  for (const f of removed) console.log(`removed ${f}`);
  console.log(`synth: ${files.size} files, ${written.length} written, ${removed.length} removed`);
} catch (err) {
  console.error(`synth failed: ${(err as Error).message}`);
  process.exit(1);
}
