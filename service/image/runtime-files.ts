/**
 * What the service image's runtime stage holds: the one home of that selection. `service/Dockerfile` runs
 * this file (compiled) in its build stage to assemble `/runtime`, which the runtime stage copies whole;
 * `service/test/runtime-files.test.ts` runs the same selection on a checkout, so CI checks the image's
 * contents without a Docker engine.
 *
 * The selection is traced, not listed: from the processes the image runs (the server, its inference
 * workers, the pipeline CLI for the init container and the relay) it follows every `require` of the
 * compiled JavaScript, then the packages those reach through their `dependencies`. Build-time generators
 * (cdk8s, the charts, the imports, the bench) are never reached, so they stay out by construction.
 *
 *   node build/service/image/runtime-files.js <app dir> <production node_modules> <out dir>
 *
 * copies the tree, or exits 1 listing what must not be in it (see {@link runtimeProblems}).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, posix, relative, sep } from 'node:path';

/** The compiled files the image runs, relative to the app directory. */
export const ENTRY_POINTS: readonly string[] = [
  'build/service/src/server.js',
  'build/service/src/inference/worker.js', // started by path (new Worker), never required
  'build/pipeline/src/cli.js', // init container (model-fetch) and webhook relay
];

/**
 * Files the image holds besides the traced code: the default model, an MLflow model directory (MODEL_DIR
 * defaults to it).
 */
export const DATA_FILES: readonly string[] = [
  'package.json',
  'service/models/default/MLmodel',
  'service/models/default/model.onnx',
];

/**
 * Imports the image never takes, by importing file and specifier, each with the reason. The CLI's
 * `promote`, `rollback` and `check` run in GitHub workflows with a full checkout, not in the pod.
 */
export const IMPORTS_NOT_IN_IMAGE: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'build/pipeline/src/commands/promote.js': { '../gate': 'the model gate runs in promote.yml' },
  'build/pipeline/src/synth.js': { '../../charts/src': 'synthesizing manifests needs cdk8s' },
  'build/pipeline/src/environments.js': {
    '../../charts/src/config/environment-config': 'environment files are read in the workflows',
  },
  'build/service/src/build-or-source.js': {
    'tsx/cjs/api': 'in a string a worker evaluates only when running TypeScript sources',
  },
};

/** Package dependencies never loaded at run time, by package. */
export const DEPENDENCIES_NOT_IN_IMAGE: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'onnxruntime-node': {
    'adm-zip': 'used only by its install script (which npm does not run: package.json allowScripts)',
    'global-agent': 'used only by its install script',
  },
};

/**
 * Directories no package needs at run time, at the top of a package (`pino/test`). Only there: deeper down
 * the same names hold code (`yaml/dist/doc/directives.js` is part of the YAML parser).
 */
const SKIPPED_DIRS = new Set([
  'test',
  'tests',
  '__tests__',
  'doc',
  'docs',
  'example',
  'examples',
  'benchmark',
  'benchmarks',
  'coverage',
  '.github',
]);

/** File names no package needs at run time: source maps, TypeScript sources and types, Markdown. */
const SKIPPED_FILE = /\.(map|ts|mts|cts|md|markdown|tsbuildinfo)$/i;

/** Package-relative prefixes to drop: native binaries of other platforms, install scripts. */
function skippedInPackage(name: string, platform: string, arch: string): (path: string) => boolean {
  if (name === 'onnxruntime-node') {
    const keep = `bin/napi-v6/${platform}/${arch}/`;
    return (p) =>
      p.startsWith('script/') || (p.startsWith('bin/') && !p.startsWith(keep) && !keep.startsWith(p));
  }
  return () => false;
}

/** One file of the runtime tree. */
export interface RuntimeFile {
  /** Absolute path of the source file. */
  readonly from: string;
  /** Path inside the image's app directory (`/app`), with `/` separators. */
  readonly to: string;
  readonly bytes: number;
}

/** Where to select from. */
export interface RuntimeSelectionOptions {
  /** Directory holding `build/`, `package.json` and `service/models/default/`. */
  readonly appDir: string;
  /** The production `node_modules` (`npm ci --omit=dev`). */
  readonly nodeModulesDir: string;
  /** @default process.platform */
  readonly platform?: string;
  /** @default process.arch */
  readonly arch?: string;
}

/** `require('x')` and `require.resolve('x/…')` (a package read as files, e.g. swagger-ui-dist's assets). */
const REQUIRE = /require(?:\.resolve)?\(\s*(['"])([^'"]+)\1\s*\)/g;

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function toPosix(p: string): string {
  return p.split(sep).join('/');
}

function resolveBuildFile(appDir: string, from: string, specifier: string): string {
  const base = posix.normalize(posix.join(posix.dirname(from), specifier));
  for (const candidate of [base, `${base}.js`, `${base}/index.js`]) {
    const abs = join(appDir, candidate);
    if (existsSync(abs) && statSync(abs).isFile()) return candidate;
  }
  throw new Error(`${from} requires '${specifier}', which is not in ${appDir}: run \`npm run build\` first`);
}

/** The compiled files reachable from {@link ENTRY_POINTS}, and the packages they require. */
function traceBuild(appDir: string): { files: string[]; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [...ENTRY_POINTS];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (files.has(file)) continue;
    files.add(file);
    const source = readFileSync(join(appDir, file), 'utf8');
    const skipped = IMPORTS_NOT_IN_IMAGE[file] ?? {};
    for (const [, , specifier] of source.matchAll(REQUIRE)) {
      if (specifier in skipped || specifier.startsWith('node:')) continue;
      if (specifier.startsWith('.')) queue.push(resolveBuildFile(appDir, file, specifier));
      else packages.add(packageName(specifier));
    }
  }
  return { files: [...files].sort(), packages };
}

function findPackage(nodeModulesDir: string, fromDir: string, name: string): string | undefined {
  // Node's lookup: node_modules of the requiring package and its ancestors, up to the top level.
  for (let dir = fromDir; dir.startsWith(nodeModulesDir); dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === nodeModulesDir) break;
  }
  const top = join(nodeModulesDir, name);
  return existsSync(join(top, 'package.json')) ? top : undefined;
}

interface PackageJson {
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
}

/** Package directories reachable from `roots` through dependencies (optional and peer ones when installed). */
function packageClosure(nodeModulesDir: string, roots: Iterable<string>): Map<string, string> {
  const dirs = new Map<string, string>(); // directory -> package name
  const queue: { name: string; fromDir: string; required: boolean }[] = [...roots].map((name) => ({
    name,
    fromDir: nodeModulesDir,
    required: true,
  }));
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const dir = findPackage(nodeModulesDir, next.fromDir, next.name);
    if (dir === undefined) {
      if (next.required) {
        throw new Error(
          `package '${next.name}' is needed at run time but not installed in ${nodeModulesDir}`,
        );
      }
      continue;
    }
    if (dirs.has(dir)) continue;
    dirs.set(dir, next.name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
    const skipped = DEPENDENCIES_NOT_IN_IMAGE[next.name] ?? {};
    const deps: [Record<string, string> | undefined, boolean][] = [
      [pkg.dependencies, true],
      [pkg.optionalDependencies, false], // other platforms' binaries are not installed
      [pkg.peerDependencies, false],
    ];
    for (const [group, required] of deps) {
      for (const name of Object.keys(group ?? {})) {
        if (!(name in skipped)) queue.push({ name, fromDir: dir, required });
      }
    }
  }
  return dirs;
}

function packageFiles(dir: string, skip: (path: string) => boolean, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      // Nested node_modules hold other packages: included only when the closure reaches them.
      if (entry.name === 'node_modules' || (prefix === '' && SKIPPED_DIRS.has(entry.name)) || skip(`${rel}/`))
        continue;
      out.push(...packageFiles(dir, skip, rel));
    } else if (entry.isFile() && !SKIPPED_FILE.test(entry.name) && !skip(rel)) {
      out.push(rel);
    }
  }
  return out;
}

/** Every file of the image's app directory, sorted by path inside the image. */
export function selectRuntimeFiles(opts: RuntimeSelectionOptions): RuntimeFile[] {
  const appDir = normalize(opts.appDir);
  const nodeModulesDir = normalize(opts.nodeModulesDir);
  const platform = opts.platform ?? process.platform;
  const arch = opts.arch ?? process.arch;
  const { files, packages } = traceBuild(appDir);
  const selected: { from: string; to: string }[] = [...files, ...DATA_FILES].map((f) => ({
    from: join(appDir, f),
    to: f,
  }));
  for (const [dir, name] of packageClosure(nodeModulesDir, packages)) {
    const skip = skippedInPackage(name, platform, arch);
    const inImage = `node_modules/${toPosix(relative(nodeModulesDir, dir))}`;
    for (const f of packageFiles(dir, skip)) selected.push({ from: join(dir, f), to: `${inImage}/${f}` });
  }
  return selected
    .map((f) => ({ ...f, bytes: statSync(f.from).size }))
    .sort((a, b) => (a.to < b.to ? -1 : a.to > b.to ? 1 : 0));
}

/**
 * Packages `package.json` lists as dependencies that are build-time only (synthesizing manifests,
 * onnxruntime-node's install script): the image must never hold them.
 */
export const BUILD_TIME_PACKAGES: readonly string[] = [
  'cdk8s',
  'cdk8s-plus-28',
  'constructs',
  'adm-zip',
  'global-agent',
];

/** Compiled outputs that are never run in the image (generators, benchmark, the selection itself). */
const BUILD_TIME_OUTPUT = [
  /^build\/(bench|imports)\//,
  // The zod-only config schemas the CLI reads in the pod (model-fetch: the pin; smoke: the golden-set limits;
  // relay: the default model name), through their entry module.
  /^build\/charts\/(?!src\/config\/(index|model-pin|evaluation-policy|names)\.js$)/,
  /^build\/service\/image\//,
  /^build\/service\/src\/model\/(build-default-model|onnx-builder)\.js$/,
];

/** The `packages` map of package-lock.json (lockfileVersion 3). */
export interface PackageLock {
  readonly packages: Readonly<Record<string, { readonly dev?: boolean }>>;
}

/** `node_modules/a/node_modules/@s/b/x.js` -> `node_modules/a/node_modules/@s/b`. */
function packagePath(to: string): string | undefined {
  const parts = to.split('/');
  let end = -1;
  for (let i = 0; i < parts.length - 1; i++) {
    if (parts[i] !== 'node_modules') continue;
    end = parts[i + 1].startsWith('@') ? i + 2 : i + 1;
    i = end;
  }
  return end < 0 ? undefined : parts.slice(0, end + 1).join('/');
}

/**
 * What must never be in the image, found in `files`: source maps, TypeScript, Markdown, test and doc
 * directories, dev-only packages (package-lock.json's `dev` flag), build-time packages and outputs.
 * One line per problem; empty when the runtime tree is clean.
 */
export function runtimeProblems(files: readonly Pick<RuntimeFile, 'to'>[], lock: PackageLock): string[] {
  const problems = new Set<string>();
  for (const { to } of files) {
    const name = posix.basename(to);
    const pkg = packagePath(to);
    if (SKIPPED_FILE.test(name)) problems.add(`${to}: source map, TypeScript or Markdown`);
    const inPackage = pkg === undefined ? undefined : to.slice(pkg.length + 1).split('/');
    if (inPackage !== undefined && inPackage.length > 1 && SKIPPED_DIRS.has(inPackage[0] ?? '')) {
      problems.add(`${to}: test, doc or example directory`);
    }
    if (BUILD_TIME_OUTPUT.some((re) => re.test(to))) problems.add(`${to}: build-time output`);
    if (pkg === undefined) continue;
    const entry = lock.packages[pkg];
    if (entry === undefined) problems.add(`${pkg}: not in package-lock.json`);
    else if (entry.dev) problems.add(`${pkg}: dev-only package`);
    if (BUILD_TIME_PACKAGES.includes(pkg.slice(pkg.lastIndexOf('node_modules/') + 13))) {
      problems.add(`${pkg}: build-time package`);
    }
  }
  return [...problems];
}

/** Copies `files` into `outDir` (keeping modes: native binaries stay executable). */
export function copyRuntimeFiles(files: readonly RuntimeFile[], outDir: string): void {
  for (const f of files) {
    const dest = join(outDir, f.to);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(f.from, dest);
  }
}

if (require.main === module) {
  const [appDir, nodeModulesDir, outDir] = process.argv.slice(2);
  if (!appDir || !nodeModulesDir || !outDir) {
    process.stderr.write('usage: runtime-files.js <app dir> <production node_modules> <out dir>\n');
    process.exit(2);
  }
  const files = selectRuntimeFiles({ appDir, nodeModulesDir });
  const lock = JSON.parse(readFileSync(join(appDir, 'package-lock.json'), 'utf8')) as PackageLock;
  const problems = runtimeProblems(files, lock);
  if (problems.length > 0) {
    process.stderr.write(`the runtime tree would hold what never runs:\n${problems.join('\n')}\n`);
    process.exit(1);
  }
  copyRuntimeFiles(files, outDir);
  const mib = files.reduce((sum, f) => sum + f.bytes, 0) / 2 ** 20;
  process.stdout.write(`runtime tree: ${files.length} files, ${mib.toFixed(1)} MiB in ${outDir}\n`);
}
