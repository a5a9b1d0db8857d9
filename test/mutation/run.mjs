// `npm run mutate [-- <group>… [--concurrency N] [--incremental]]`: StrykerJS over the module groups of
// stryker.config.mjs, one group after another, then the mutation score per module as a Markdown table.
// With no group, every group. `--incremental` reuses the previous run's results for unchanged code and tests
// (reports/mutation/<group>.incremental.json). `--mutate GLOB` (repeatable) mutates only those files instead of the
// group's (its tests stay the group's). See docs/mutation-testing.md.
import { relative, resolve } from 'node:path';
import { Stryker } from '@stryker-mutator/core';
import { groupOptions, groups } from '../../stryker.config.mjs';

const root = resolve(import.meta.dirname, '../..');
process.chdir(root);

const usage = `usage: npm run mutate -- [group…] [--concurrency N] [--incremental] [--mutate GLOB]…\ngroups: ${Object.keys(groups).join(', ')}`;
const names = [];
const extra = {};
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--incremental') extra.incremental = true;
  else if (arg === '--concurrency') extra.concurrency = Number(args[++i]);
  else if (arg === '--mutate') (extra.mutate ??= []).push(args[++i]);
  else if (arg === '--help' || arg === '-h') {
    console.log(usage);
    process.exit(0);
  } else if (arg in groups) names.push(arg);
  else {
    console.error(`unknown group or option '${arg}'\n${usage}`);
    process.exit(2);
  }
}
if (extra.concurrency !== undefined && !(Number.isInteger(extra.concurrency) && extra.concurrency >= 1)) {
  console.error(`--concurrency takes a whole number ≥ 1\n${usage}`);
  process.exit(2);
}

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
/** Stryker's mutation score: detected / (detected + undetected); compile and runtime errors count in neither. */
function score(results) {
  const detected = results.filter((r) => DETECTED.has(r.status)).length;
  const undetected = results.filter((r) => UNDETECTED.has(r.status)).length;
  const total = detected + undetected;
  return { detected, undetected, text: total === 0 ? 'n/a' : `${((100 * detected) / total).toFixed(1)} %` };
}

const rows = [];
for (const name of names.length > 0 ? names : Object.keys(groups)) {
  const started = Date.now();
  const results = await new Stryker({
    configFile: 'stryker.config.mjs',
    ...groupOptions(name),
    ...extra,
  }).runMutationTest();
  const minutes = ((Date.now() - started) / 60000).toFixed(1);
  const byFile = Map.groupBy(results, (r) => relative(root, resolve(root, r.fileName)));
  for (const [file, fileResults] of [...byFile].sort(([a], [b]) => a.localeCompare(b))) {
    const s = score(fileResults);
    rows.push(`| ${name} | \`${file}\` | ${s.text} | ${s.detected} | ${s.undetected} | |`);
  }
  const s = score(results);
  rows.push(`| **${name}** | all | **${s.text}** | ${s.detected} | ${s.undetected} | ${minutes} min |`);
}
console.log(
  [
    '',
    '| group | module | score | killed | survived or no coverage | run time |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n'),
);
