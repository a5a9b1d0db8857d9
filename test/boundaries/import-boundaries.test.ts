import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const REPO_ROOT = join(__dirname, '..', '..');
const execFileAsync = promisify(execFile);

interface LintCase {
  /** Where the linted text pretends to live, from the repository root. */
  readonly file: string;
  readonly code: string;
}

interface LintOutcome {
  readonly entryModules: Readonly<Record<string, readonly string[]>>;
  /** Per case, `<rule>: <message>` of every problem the boundary rules reported (not e.g. unused imports). */
  readonly problems: readonly string[][];
}

// ESLint's Node API on the repository's own eslint.config.mjs, in a plain Node process: Jest's sandbox cannot
// import() the ES module config file.
const LINT_TEXTS = `
import { readFileSync } from 'node:fs';
import { ESLint } from 'eslint';
import { ENTRY_MODULES } from './eslint.config.mjs';
const cases = JSON.parse(readFileSync(0, 'utf8'));
const BOUNDARY_RULES = ['no-restricted-imports', 'no-restricted-syntax'];
const eslint = new ESLint({ cwd: process.cwd() });
const problems = [];
for (const { file, code } of cases) {
  const [result] = await eslint.lintText(code, { filePath: file });
  const boundary = result.messages.filter((m) => BOUNDARY_RULES.includes(m.ruleId));
  problems.push(boundary.map((m) => m.ruleId + ': ' + m.message));
}
console.log(JSON.stringify({ entryModules: ENTRY_MODULES, problems }));
`;

async function lint(cases: readonly LintCase[]): Promise<LintOutcome> {
  const child = execFileAsync(process.execPath, ['--input-type=module', '--eval', LINT_TEXTS], {
    cwd: REPO_ROOT,
  });
  child.child.stdin?.end(JSON.stringify(cases));
  return JSON.parse((await child).stdout) as LintOutcome;
}

const refused = (from: string, to: string) =>
  expect.stringMatching(
    new RegExp(`^no-restricted-imports: .*${from}/ may import ${to}/ only through its entry modules`),
  );

// Each case with the problems `npm run lint` must report for it (none: the import is allowed).
const CASES: readonly (LintCase & { readonly name: string; readonly expected: readonly unknown[] })[] = [
  {
    name: 'fails when pipeline imports a service internal',
    file: 'pipeline/src/gate.ts',
    code: "import { runBatch } from '../../service/src/model/loader';\n",
    expected: [refused('pipeline', 'service')],
  },
  {
    name: 'fails when pipeline imports a charts internal for its type only',
    file: 'pipeline/src/commands/evaluate.ts',
    code: "import type { EnvironmentName } from '../../../charts/src/config/model-pin';\n",
    expected: [refused('pipeline', 'charts')],
  },
  {
    name: 'fails when pipeline loads a charts internal on first use (import())',
    file: 'pipeline/src/synth.ts',
    code: "export const load = () => import('../../charts/src/synth');\n",
    expected: [expect.stringMatching(/^no-restricted-syntax: pipeline\/ may import charts\/ only through/)],
  },
  {
    name: 'fails when test/ re-exports a bench internal',
    file: 'test/reliability/support/x.ts',
    code: "export { generateImage } from '../../../bench/src/images';\n",
    expected: [refused('test', 'bench')],
  },
  {
    name: 'fails when a charts test imports a pipeline internal',
    file: 'charts/test/x.test.ts',
    code: "import { WEBHOOK_PATH } from '../../pipeline/src/relay/app';\n",
    expected: [refused('charts', 'pipeline')],
  },
  {
    name: "fails when bench imports the charts' generated CRD bindings",
    file: 'bench/src/x.ts',
    code: "import { Rollout } from '../../imports/argo-rollouts-rollout-argoproj.io';\n",
    expected: [expect.stringMatching(/^no-restricted-imports: .*bench\/ may not import imports\//)],
  },
  {
    name: 'fails when a script require()s a service internal',
    file: 'test/support/x.js',
    code: "module.exports = require('../../service/src/model/loader');\n",
    expected: [expect.stringMatching(/^no-restricted-syntax: test\/ may import service\/ only through/)],
  },
  {
    name: "allows the service's library and model-format entries",
    file: 'pipeline/src/gate.ts',
    code: "import { runBatch } from '../../service/src';\nimport { sha256Hex } from '../../service/src/model/format';\n",
    expected: [],
  },
  {
    name: 'allows the charts config entry, and the charts library on first use',
    file: 'pipeline/src/commands/x.ts',
    code: "import type { EnvironmentName } from '../../../charts/src/config';\nexport const load = () => import('../../../charts/src');\n",
    expected: [],
  },
  {
    name: 'allows a path within the folder that passes a directory named like another folder',
    file: 'service/test/format/x.test.ts',
    code: "import { tempDir } from '../../test/helpers';\n",
    expected: [],
  },
  {
    name: 'allows the charts their own CRD bindings',
    file: 'charts/src/x.ts',
    code: "import { Rollout } from '../../imports/argo-rollouts-rollout-argoproj.io';\n",
    expected: [],
  },
];

let outcome: LintOutcome;
beforeAll(async () => {
  outcome = await lint(CASES);
}, 60_000);

describe('npm run lint: imports across top-level folders', () => {
  test.each(CASES.map((c, i) => [c.name, i] as const))('%s', (_name, i) => {
    expect(outcome.problems[i]).toEqual(CASES[i].expected);
  });

  test('every entry module exists and its folder README names it', () => {
    const undocumented: string[] = [];
    for (const [folder, entries] of Object.entries(outcome.entryModules)) {
      for (const entry of entries) {
        const exists =
          existsSync(join(REPO_ROOT, `${entry}.ts`)) || existsSync(join(REPO_ROOT, entry, 'index.ts'));
        const readme = readFileSync(join(REPO_ROOT, folder, 'README.md'), 'utf8');
        if (!exists || !readme.includes(`\`${entry}\``)) undocumented.push(entry);
      }
    }
    expect(undocumented).toEqual([]);
  });
});
