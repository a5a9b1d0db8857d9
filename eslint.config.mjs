import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/**
 * The public entry modules of each top-level folder: all another top-level folder may import of it (from the
 * repository root, without extension or `/index`). The rest of a folder is its own; each folder's README lists
 * its entries and what they load.
 */
export const ENTRY_MODULES = {
  service: [
    'service/src', // the service as a library: Classifier, InferencePool, sessions, preprocessing, scores
    'service/src/model/format', // the model format, without ONNX Runtime or sharp (model-fetch, register)
    'service/src/model/builders', // ONNX model builders and the seeded random source (tests, bench, fixtures)
    'service/src/config', // the service's environment: schema and loader
    'service/src/build-or-source', // how a process picks build/ or the sources (bench's processes)
    'service/src/api/service-protocol', // the HTTP API's schemas (zod): what /predict and /model answer (smoke)
    'service/src/model/ort-telemetry', // imported for its effect: ONNX Runtime telemetry off
    'service/test/mlflow-fixtures', // test fixtures: recorded MLflow model files
  ],
  charts: [
    'charts/src', // the constructs, their config and synth (loads cdk8s)
    'charts/src/config', // environments, pins, evaluation policy: zod only (the pod's CLI reads them)
    'charts/src/config/environment-config', // the environment config schema and reader: cdk8s core (Duration/Size), no cdk8s-plus
    'charts/src/monitoring', // Prometheus rules, dashboards, canary analysis queries
  ],
  pipeline: ['pipeline/src/relay'], // the webhook relay's route and environment
  bench: ['bench/src/harness'], // the service as a process, seeded images, latency summaries
  test: [],
  imports: [], // the generated CRD bindings belong to the charts
};

/** Deepest directory level under a top-level folder whose files the boundary rules check. */
const MAX_DEPTH = 8;

const escapeRegex = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Config blocks that make a file of `folder` importing another top-level folder's internals a lint error:
 * static imports and re-exports (`no-restricted-imports`), `import()` and `require()` (`no-restricted-syntax`).
 * One block per directory depth, so that the number of `../` in a specifier says exactly which folder it reaches.
 */
function boundaryBlocks(folder) {
  const others = Object.keys(ENTRY_MODULES).filter(
    (o) => o !== folder && !(o === 'imports' && folder === 'charts'),
  );
  return Array.from({ length: MAX_DEPTH + 1 }, (_, depth) => {
    const up = `(?:\\./)?(?:\\.\\./){${depth + 1}}`;
    const restrictions = others.map((other) => {
      const entries = ENTRY_MODULES[other];
      const allowed = entries.map((e) => escapeRegex(e.slice(other.length + 1)));
      const regex = `^${up}${other}/${allowed.length > 0 ? `(?!(?:${allowed.join('|')})$)` : ''}`;
      const message =
        entries.length > 0
          ? `${folder}/ may import ${other}/ only through its entry modules: ${entries.join(', ')} (see ${other}/README.md).`
          : `${folder}/ may not import ${other}/: it has no entry modules.`;
      return { regex, message };
    });
    // esquery's regex literals cannot hold '/': spell it \x2F there.
    const selectorRegex = (regex) => regex.replaceAll('/', '\\x2F');
    return {
      files: [`${folder}/${'*/'.repeat(depth)}*.{ts,js,mjs}`],
      rules: {
        'no-restricted-imports': [
          'error',
          { patterns: restrictions.map(({ regex, message }) => ({ regex, message })) },
        ],
        'no-restricted-syntax': [
          'error',
          ...restrictions.flatMap(({ regex, message }) => [
            { selector: `ImportExpression[source.value=/${selectorRegex(regex)}/]`, message },
            {
              selector: `CallExpression[callee.name="require"][arguments.0.value=/${selectorRegex(regex)}/]`,
              message,
            },
          ]),
        ],
      },
    };
  });
}

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'build/',
      'dist/',
      'argocd/',
      'imports/',
      'coverage/',
      '.stryker-tmp/',
      'reports/',
      'bench/results/',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // ONNX Runtime loads only through service/src/model/loader.ts, which turns its telemetry off first.
    files: ['**/*.ts'],
    ignores: ['service/src/model/loader.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'onnxruntime-node',
              message:
                'Import ONNX Runtime through service/src/model/loader.ts (it turns telemetry off first).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        process: 'readonly',
        console: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  ...['service', 'charts', 'pipeline', 'bench', 'test'].flatMap(boundaryBlocks),
  prettier,
);
