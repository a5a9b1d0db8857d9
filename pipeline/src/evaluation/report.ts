import type { Evaluation } from './evaluate';
import type { Verdict } from './policy';

const pct = (v: number): string => `${(v * 100).toFixed(1)} %`;

/** The per-class table (images, correct, recall) of one model or of challenger and champion side by side. */
export function classTable(challenger: Evaluation, champion?: Evaluation): string[] {
  const rows: string[][] = [
    ['class', 'images', champion ? 'challenger recall' : 'recall', ...(champion ? ['champion recall'] : [])],
  ];
  for (const c of challenger.perClass) {
    const old = champion?.perClass.find((p) => p.label === c.label);
    rows.push([
      `${c.label} (#${c.index})`,
      String(c.count),
      `${pct(c.recall)} (${c.correct}/${c.count})`,
      ...(champion ? [old ? `${pct(old.recall)} (${old.correct}/${old.count})` : '—'] : []),
    ]);
  }
  rows.push([
    'accuracy',
    String(challenger.samples),
    `${pct(challenger.accuracy)} (${challenger.correct}/${challenger.samples})`,
    ...(champion ? [`${pct(champion.accuracy)} (${champion.correct}/${champion.samples})`] : []),
  ]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

/** `golden set <source> (sha256 <digest>, N images)`. */
export function describeGoldenSet(e: Evaluation): string {
  return `golden set ${e.goldenSet.source} (sha256 ${e.goldenSet.digest}, ${e.samples} images)`;
}

/** The text report `evaluate` prints and a refused promotion shows. */
export function textReport(challenger: Evaluation, champion?: Evaluation, verdict?: Verdict): string {
  const lines = [describeGoldenSet(challenger), ...classTable(challenger, champion).map((l) => `  ${l}`)];
  if (verdict?.agreement !== undefined)
    lines.push(`top-1 agreement with the champion: ${pct(verdict.agreement)}`);
  if (verdict) {
    lines.push(
      verdict.passed ? 'verdict: passed' : `verdict: failed`,
      ...verdict.failures.map((f) => `  - ${f.message}`),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The commit message lines of a passed evaluation. */
export function commitLines(
  challenger: Evaluation,
  champion: Evaluation | undefined,
  verdict: Verdict,
): string[] {
  const recall = (e: Evaluation): string => e.perClass.map((c) => `${c.label} ${pct(c.recall)}`).join(', ');
  return [
    `Golden set: ${challenger.goldenSet.source} (sha256 ${challenger.goldenSet.digest}, ${challenger.samples} images)`,
    `Accuracy: ${pct(challenger.accuracy)}${champion ? ` (champion ${pct(champion.accuracy)})` : ' (no champion)'}`,
    `Recall: ${recall(challenger)}`,
    ...(champion ? [`Champion recall: ${recall(champion)}`] : []),
    ...(verdict.agreement !== undefined ? [`Agreement with champion: ${pct(verdict.agreement)}`] : []),
  ];
}

/** The Markdown section of a pull request body: the per-class table and the challenger's confusion matrix. */
export function markdownReport(
  challenger: Evaluation,
  champion: Evaluation | undefined,
  verdict: Verdict,
): string[] {
  const head = champion
    ? '| class | images | challenger recall | champion recall |'
    : '| class | images | recall |';
  const sep = champion ? '|---|---:|---:|---:|' : '|---|---:|---:|';
  const rows = challenger.perClass.map((c) => {
    const old = champion?.perClass.find((p) => p.label === c.label);
    const oldCell = champion ? ` ${old ? `${pct(old.recall)} (${old.correct}/${old.count})` : '—'} |` : '';
    return `| ${c.label} (#${c.index}) | ${c.count} | ${pct(c.recall)} (${c.correct}/${c.count}) |${oldCell}`;
  });
  const acc = champion
    ? `| **accuracy** | ${challenger.samples} | **${pct(challenger.accuracy)}** | ${pct(champion.accuracy)} |`
    : `| **accuracy** | ${challenger.samples} | **${pct(challenger.accuracy)}** |`;
  const predicted = challenger.labels.map((l, i) => `${l} (#${i})`);
  const matrix = [
    `| golden \\ predicted | ${predicted.join(' | ')} |`,
    `|---|${predicted.map(() => '---:').join('|')}|`,
    ...challenger.perClass.map((c, r) => `| ${c.label} | ${challenger.confusion[r]!.join(' | ')} |`),
  ];
  return [
    `### Evaluation: ${verdict.passed ? 'passed' : 'failed'}`,
    '',
    `Golden set \`${challenger.goldenSet.source}\`, sha256 \`${challenger.goldenSet.digest}\`, ${challenger.samples} images.`,
    ...(verdict.agreement !== undefined
      ? [`Top-1 agreement with the champion: ${pct(verdict.agreement)}.`]
      : []),
    '',
    head,
    sep,
    ...rows,
    acc,
    '',
    '<details><summary>Confusion matrix (challenger)</summary>',
    '',
    ...matrix,
    '</details>',
  ];
}

/** The `--json` form of `evaluate`. */
export function jsonReport(e: Evaluation, champion?: Evaluation, verdict?: Verdict): unknown {
  const one = (x: Evaluation): unknown => ({
    accuracy: x.accuracy,
    samples: x.samples,
    correct: x.correct,
    perClass: x.perClass.map((c) => ({
      index: c.index,
      label: c.label,
      count: c.count,
      correct: c.correct,
      recall: c.recall,
    })),
    confusion: x.confusion,
  });
  return {
    goldenSet: { ...e.goldenSet, images: e.samples },
    labels: e.labels,
    ...(one(e) as object),
    ...(champion ? { champion: one(champion) } : {}),
    ...(verdict
      ? {
          verdict: {
            passed: verdict.passed,
            failures: verdict.failures,
            ...(verdict.agreement !== undefined ? { agreement: verdict.agreement } : {}),
          },
        }
      : {}),
  };
}
