// StrykerJS mutation testing: `npm run mutate` (every group, one after another) or `npm run mutate -- <group>…`
// (see test/mutation/run.mjs and docs/mutation-testing.md). Not part of `npm test` or CI: a full run takes
// hours on two cores. `npx stryker run` alone mutates every group in one run.

/**
 * The module groups. Negated `mutate` globs apply to every group in a combined run, so they only name files
 * no other group mutates. Each mutates directories rather than single files (modules move between them) and runs
 * only the fast unit tests of that group: suites that spawn the CLI or the service for seconds per test are
 * left out, so a mutant they alone would kill shows as "survived" or "no coverage" here.
 * `tests` are Jest `testMatch` globs relative to the repository root.
 */
export const groups = {
  'service-config': {
    mutate: ['service/src/config.ts', 'service/src/config/**/*.ts'],
    tests: [
      'service/test/config.test.ts',
      'service/test/config/**/*.test.ts',
      'charts/test/dist-runtime-config.test.ts',
      'charts/test/config/names.test.ts',
    ],
  },
  // The format's parts (MLmodel, labels, description, graph I/O rules, writing), then the resolver that reads a
  // model directory through them: together 1116 mutants, estimated at over 1.5 h on two shared cores.
  'model-format': {
    mutate: ['service/src/model/format/**/*.ts', '!service/src/model/format/resolve.ts'],
    tests: [
      'service/test/format/**/*.test.ts',
      'service/test/loader.test.ts',
      'pipeline/test/model-artifacts.test.ts',
    ],
  },
  'model-format-resolve': {
    mutate: ['service/src/model/format/resolve.ts'],
    tests: [
      'service/test/format/**/*.test.ts',
      'service/test/loader.test.ts',
      'pipeline/test/model-artifacts.test.ts',
    ],
  },
  'charts-config': {
    mutate: ['charts/src/config/**/*.ts'],
    tests: [
      'charts/test/config/**/*.test.ts',
      'charts/test/model-pin.test.ts',
      'charts/test/environment-chart.test.ts',
      'pipeline/test/environments.test.ts',
    ],
  },
  'charts-constructs': {
    // Every construct and its helpers; not the config (its own group), the monitoring generators, nor the
    // `npm run synth`/`synth:check` entry scripts.
    mutate: [
      'charts/src/*.ts',
      'charts/src/!(config|monitoring)/**/*.ts',
      '!charts/src/**/index.ts',
      '!charts/src/main.ts',
      '!charts/src/synth-check.ts',
    ],
    tests: ['charts/test/**/*.test.ts', '!charts/test/{dist-,main,monitoring-}*.test.ts'],
  },
  'pipeline-evaluation': {
    mutate: ['pipeline/src/evaluation/**/*.ts'],
    tests: ['pipeline/test/evaluation/**/*.test.ts', 'pipeline/test/gate.test.ts'],
  },
  'pipeline-mlflow': {
    mutate: ['pipeline/src/mlflow/**/*.ts'],
    tests: ['pipeline/test/mlflow/**/*.test.ts'],
  },
  'pipeline-relay': {
    // The relay's parsing, signature check, config and delivery log; server.ts and command.ts are the process
    // (their tests spawn it).
    mutate: ['pipeline/src/relay/**/*.ts', '!pipeline/src/relay/{server,command}.ts'],
    tests: [
      'pipeline/test/relay.test.ts',
      'pipeline/test/relay-signature.test.ts',
      'pipeline/test/relay-config.test.ts',
      'pipeline/test/relay-delivery-log.test.ts',
      'pipeline/test/relay-github.test.ts',
    ],
  },
};

/** Stryker options for one group (or, with no name, for all groups at once). */
export function groupOptions(name) {
  const selected = name === undefined ? Object.values(groups) : [groups[name]];
  const file = name ?? 'all';
  return {
    mutate: selected.flatMap((g) => g.mutate),
    jest: {
      projectType: 'custom',
      configFile: 'jest.config.js',
      // Only the tests importing the mutated file, and with perTest coverage only those that run the mutant.
      enableFindRelatedTests: true,
      config: { testMatch: selected.flatMap((g) => g.tests).map(rooted) },
    },
    htmlReporter: { fileName: `reports/mutation/${file}.html` },
    jsonReporter: { fileName: `reports/mutation/${file}.json` },
    incrementalFile: `reports/mutation/${file}.incremental.json`,
  };
}

function rooted(glob) {
  return glob.startsWith('!') ? `!<rootDir>/${glob.slice(1)}` : `<rootDir>/${glob}`;
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  coverageAnalysis: 'perTest',
  // The machine is shared; `npm run mutate -- --concurrency 2` where there are cores to spare.
  concurrency: 1,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  clearTextReporter: { allowColor: false, logTests: false },
  // Git-ignored, outside Jest's roots, ignored by ESLint and Prettier.
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  ...groupOptions(undefined),
};
