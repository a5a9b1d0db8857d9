import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mainThreadProfileFile, readCpuProfile, summariseProfile, type CpuProfile } from '../src/profile';
import { REPO_ROOT } from '../src/service-process';

/** A call frame of a hand-built profile. */
const frame = (functionName: string, url = ''): CpuProfile['nodes'][number]['callFrame'] => ({
  functionName,
  url,
  lineNumber: url === '' ? -1 : 9,
});

describe('summariseProfile on a real `node --cpu-prof` profile', () => {
  let dir: string;
  let pid: number;
  let marks: { busyFromUs: number; busyToUs: number; idleFromUs: number; idleToUs: number };

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'profile-test-'));
    // Busy in one named function, then idle on a timer; a worker thread writes a profile of its own.
    const script = path.join(dir, 'spin.js');
    writeFileSync(
      script,
      `const { Worker } = require('node:worker_threads');
new Worker('setTimeout(() => {}, 20)', { eval: true });
const now = () => Number(process.hrtime.bigint() / 1000n);
function spinHere(ms) { let x = 0; const end = now() + ms * 1000; do for (let i = 0; i < 1e5; i++) x += Math.sqrt(i + (x % 7)); while (now() < end); return x; }
const busyFromUs = now();
spinHere(300);
const busyToUs = now();
setTimeout(() => {
  process.stdout.write(JSON.stringify({ busyFromUs, busyToUs, idleFromUs: busyToUs + 20000, idleToUs: now(), pid: process.pid }));
}, 300);
`,
    );
    const out = execFileSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, script], {
      encoding: 'utf8',
    });
    const parsed = JSON.parse(out) as typeof marks & { pid: number };
    pid = parsed.pid;
    marks = parsed;
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("finds the main thread's profile among the process's files", () => {
    expect(readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).length).toBeGreaterThanOrEqual(2);
    expect(path.basename(mainThreadProfileFile(dir, pid))).toMatch(new RegExp(`^CPU\\..*\\.${pid}\\.0\\.`));
    expect(() => mainThreadProfileFile(dir, pid + 1)).toThrow(
      `no main-thread CPU profile of process ${pid + 1}`,
    );
  });

  it('charges the busy window to the function that spun, by name, file and line', () => {
    const p = summariseProfile(readCpuProfile(mainThreadProfileFile(dir, pid)), {
      fromUs: marks.busyFromUs,
      toUs: marks.busyToUs,
    });
    expect(p.functions[0]?.what).toBe(`spinHere ${path.join(dir, 'spin.js')}:4`);
    expect(p.functions[0]?.share).toBeGreaterThan(0.5);
    expect(p.idle).toBeLessThan(0.2);
    // Only the window's samples: ~300 ms of them, not the whole run.
    expect(p.wallMs).toBeGreaterThan(150);
    expect(p.wallMs).toBeLessThanOrEqual((marks.busyToUs - marks.busyFromUs) / 1000);
  });

  it('reads the timer wait as idle', () => {
    const p = summariseProfile(readCpuProfile(mainThreadProfileFile(dir, pid)), {
      fromUs: marks.idleFromUs,
      toUs: marks.idleToUs,
    });
    expect(p.idle).toBeGreaterThan(0.8);
    expect(p.functions.find((f) => f.what.startsWith('spinHere'))).toBeUndefined();
  });

  it('refuses a file that is not a CPU profile, naming it', () => {
    const file = path.join(dir, 'not-a-profile.json');
    writeFileSync(file, JSON.stringify({ nodes: [] }));
    expect(() => readCpuProfile(file)).toThrow(`${file} is not a V8 CPU profile`);
  });
});

describe('summariseProfile', () => {
  // root → dispatch (the service's build) → postMessage (node:internal/worker) → postMessage (native);
  // root → processTicks (node) → writeUtf8String (native); sharp's JavaScript; (idle), (garbage collector).
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 6, 7, 8, 9] },
      { id: 2, callFrame: frame('dispatch', `file://${REPO_ROOT}/build/service/src/pool.js`), children: [3] },
      { id: 3, callFrame: frame('postMessage', 'node:internal/worker'), children: [4] },
      { id: 4, callFrame: frame('postMessage') },
      { id: 5, callFrame: frame('writeUtf8String') },
      { id: 6, callFrame: frame('processTicks', 'node:internal/process/task_queues'), children: [5] },
      { id: 7, callFrame: frame('(idle)') },
      { id: 8, callFrame: frame('(garbage collector)') },
      { id: 9, callFrame: frame('', '/srv/app/node_modules/sharp/dist/output.cjs') },
    ],
    // Samples at 1000, 2000, 4000, 5000, 6000 and 7000 µs; the profile ends at 10 000.
    startTime: 0,
    endTime: 10_000,
    samples: [4, 4, 5, 8, 9, 7],
    timeDeltas: [1000, 1000, 2000, 1000, 1000, 1000],
  };

  it('counts each sample until the next one, and names a native with its caller outside Node', () => {
    const p = summariseProfile(profile);
    expect(p).toEqual({
      wallMs: 9,
      samples: 6,
      idle: 3 / 9,
      gc: 1 / 9,
      functions: [
        { what: 'postMessage (native, from dispatch build/service/src/pool.js)', share: 3 / 9 },
        { what: '(anonymous) sharp/dist/output.cjs:10', share: 1 / 9 },
        {
          what: 'writeUtf8String (native, from processTicks node:internal/process/task_queues)',
          share: 1 / 9,
        },
      ],
      packages: [
        { what: 'service', share: 3 / 9 },
        { what: 'node', share: 1 / 9 },
        { what: 'sharp', share: 1 / 9 },
      ],
    });
  });

  it('keeps only the samples inside the window, cut at its end, and at most `top` lines', () => {
    const p = summariseProfile(profile, { fromUs: 2000, toUs: 5500 }, 1);
    expect(p).toMatchObject({ wallMs: 3.5, samples: 3, gc: 0.5 / 3.5 });
    expect(p.functions).toEqual([
      { what: 'postMessage (native, from dispatch build/service/src/pool.js)', share: 2 / 3.5 },
    ]);
  });
});
