import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  REPO_ROOT,
  RUNNING_COMPILED,
  entryFor,
  freshEntry,
  scriptBeside,
  startWorkerThread,
} from '../src/build-or-source';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'build-or-source-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

describe('in this process (ts-jest: sources)', () => {
  test('knows it runs sources and finds the checkout', () => {
    expect(RUNNING_COMPILED).toBe(false);
    expect(existsSync(join(REPO_ROOT, 'package.json'))).toBe(true);
    expect(existsSync(join(REPO_ROOT, 'service', 'src', 'build-or-source.ts'))).toBe(true);
  });

  test('runs a sibling script as .ts through tsx', () => {
    expect(scriptBeside('/x/y', 'load-worker')).toEqual({
      file: '/x/y/load-worker.ts',
      execArgv: ['--import', 'tsx'],
    });
  });

  test('starts a TypeScript worker thread with tsx registered in it', async () => {
    writeFileSync(
      join(tmp, 'echo.ts'),
      "import { parentPort, workerData } from 'node:worker_threads';\n" +
        'const n: number = (workerData as { n: number }).n;\n' +
        'parentPort?.postMessage(n * 2);\n',
    );
    const worker = startWorkerThread(tmp, 'echo', { workerData: { n: 21 } });
    const answer = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(answer).toBe(42);
  });
});

describe('compiled (build/, as the image runs it)', () => {
  test('the compiled module knows it is compiled and finds the same checkout', () => {
    const built = join(REPO_ROOT, 'build', 'service', 'src', 'build-or-source.js');
    const run = spawnSync(
      process.execPath,
      [
        '-e',
        `const m = require(${JSON.stringify(built)});` +
          "console.log(JSON.stringify([m.RUNNING_COMPILED, m.REPO_ROOT, m.scriptBeside('/d', 'w')]))",
      ],
      { encoding: 'utf8' },
    );
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual([true, REPO_ROOT, { file: '/d/w.js', execArgv: [] }]);
  });
});

describe('entryFor', () => {
  test('runs .js as it is and .ts through tsx', () => {
    expect(entryFor('/a/server.js')).toEqual({ args: ['/a/server.js'], kind: 'build' });
    expect(entryFor('/a/server.ts')).toEqual({ args: ['--import', 'tsx', '/a/server.ts'], kind: 'source' });
  });
});

describe('freshEntry', () => {
  const at = (file: string, seconds: number): void => {
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, '');
    utimesSync(file, seconds, seconds);
  };

  test('takes the compiled file when it is newer than every source of its folder', () => {
    at(join(tmp, 'app', 'src', 'main.ts'), 1000);
    at(join(tmp, 'app', 'src', 'lib', 'util.ts'), 2000);
    at(join(tmp, 'build', 'app', 'src', 'main.js'), 3000);
    expect(freshEntry('app/src/main.ts', 'app/src', tmp)).toEqual({
      args: [join(tmp, 'build', 'app', 'src', 'main.js')],
      kind: 'build',
    });
  });

  test('falls back to the source when any source is newer than the build, or nothing is built', () => {
    at(join(tmp, 'app', 'src', 'main.ts'), 1000);
    const source = { args: ['--import', 'tsx', join(tmp, 'app', 'src', 'main.ts')], kind: 'source' };
    expect(freshEntry('app/src/main.ts', 'app/src', tmp)).toEqual(source);
    at(join(tmp, 'build', 'app', 'src', 'main.js'), 3000);
    at(join(tmp, 'app', 'src', 'lib', 'util.ts'), 4000);
    expect(freshEntry('app/src/main.ts', 'app/src', tmp)).toEqual(source);
  });
});
