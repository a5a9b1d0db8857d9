import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const REPO_ROOT = join(__dirname, '..', '..');
const execFileAsync = promisify(execFile);

// Imports one module (through tsx) in a fresh process and prints the packages it loaded, from require.cache.
const PRINT_LOADED_PACKAGES = `
require(process.argv[1]);
const names = Object.keys(require.cache).flatMap((f) => /[\\\\/]node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)[\\\\/]/.exec(f)?.[1] ?? []);
console.log(JSON.stringify([...new Set(names)].sort()));
`;

/** The npm packages a fresh Node process has loaded after importing `entry` (a path from the repository root). */
async function packagesLoadedBy(entry: string): Promise<string[]> {
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--require', 'tsx/cjs', '--eval', PRINT_LOADED_PACKAGES, join(REPO_ROOT, entry)],
    { cwd: REPO_ROOT },
  );
  return JSON.parse(stdout) as string[];
}

const RUNTIMES = ['onnxruntime-node', 'sharp'];
const CDK8S = ['cdk8s', 'cdk8s-plus-28', 'constructs'];

describe('what importing an entry module loads', () => {
  test.each([
    ['service/src/model/format', RUNTIMES],
    ['service/src/model/builders', RUNTIMES],
    ['service/src/config', RUNTIMES],
    ['service/src/api/service-protocol', RUNTIMES],
    ['charts/src/config', CDK8S],
    // Its values are the constructs' own Duration/Size (cdk8s core); the constructs' library stays out.
    ['charts/src/config/environment-config', ['cdk8s-plus-28']],
  ])('%s loads none of %j', async (entry, heavy) => {
    const loaded = await packagesLoadedBy(entry);
    expect(loaded).toContain('zod'); // the probe sees what the entry loads
    expect(loaded.filter((p) => heavy.includes(p))).toEqual([]);
  });

  test('an inference worker loads ONNX Runtime and none of the model format parsers, nor sharp', async () => {
    // Each worker pays for what it loads at every start (cold start, bench/README.md).
    const loaded = await packagesLoadedBy('service/src/inference/worker');
    expect(loaded).toContain('onnxruntime-node');
    expect(loaded.filter((p) => ['zod', 'yaml', 'protobufjs', 'onnx-proto', 'sharp'].includes(p))).toEqual(
      [],
    );
  });

  test.each([
    ['service/src', RUNTIMES],
    ['charts/src', CDK8S],
  ])('%s, the full library, loads %j', async (entry, heavy) => {
    expect(await packagesLoadedBy(entry)).toEqual(expect.arrayContaining(heavy));
  });
});
