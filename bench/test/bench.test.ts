import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchReport } from '../src/bench';
import { generateImages } from '../src/images';
import { readCpuProfile } from '../src/profile';
import { TARGETS, targetText } from '../src/targets';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Runs the bench command as its own process, as `npm run bench -- --quick` does (from the TypeScript
 * source through tsx; onnxruntime cannot run inside Jest's VM context anyway).
 */
function runBenchCommand(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'bench', 'src', 'bench.ts'), ...args],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

jest.setTimeout(120_000);

describe('npm run bench (smoke, tiny settings)', () => {
  let outDir: string;
  let report: BenchReport;
  let run: { code: number | null; output: string };

  beforeAll(async () => {
    outDir = mkdtempSync(path.join(os.tmpdir(), 'bench-smoke-'));
    run = await runBenchCommand(['--quick', '--duration', '0.2', '--out', outDir]);
    report = JSON.parse(readFileSync(path.join(outDir, 'bench-quick.json'), 'utf8')) as BenchReport;
  });

  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('generates the same input images on every run', async () => {
    const specs = [
      { format: 'jpeg', width: 64, height: 48 },
      { format: 'png', width: 48, height: 64 },
    ] as const;
    const [a, b, other] = await Promise.all([
      generateImages(specs),
      generateImages(specs),
      generateImages(specs, 7),
    ]);
    expect(a.map((img, i) => img.bytes.equals(b[i].bytes))).toEqual([true, true]);
    expect(a[0].bytes.equals(other[0].bytes)).toBe(false);
    expect(a.map((i) => i.name)).toEqual(['jpeg-64x48', 'png-48x64']);
    expect(report.images.map((i) => i.name)).toEqual([
      'jpeg-640x480',
      'jpeg-800x600',
      'png-640x480',
      'jpeg-1280x960',
    ]);
  });

  it('exits 0 and prints the targets table', () => {
    expect(run.code).toBe(0);
    expect(run.output).toContain('| target | measured | met | missed by |');
    for (const t of TARGETS) expect(run.output).toContain(`| ${targetText(t)} |`);
  });

  it('measures the CPU floor in isolation and keeps every target, evaluated, in the JSON', () => {
    const model = report.models[0];
    expect(model.floor.preprocess.map((p) => p.name)).toEqual(report.images.map((i) => i.name));
    expect(model.floor.preprocessCpuMs).toBeGreaterThan(0);
    expect(model.floor.inferenceCpuMs).toBeGreaterThan(0);
    expect(model.floor.imagesPerSec).toBeCloseTo(
      (model.floor.cores * 1000) / (model.floor.preprocessCpuMs + model.floor.inferenceCpuMs),
    );
    expect(model.targets.map((t) => t.id)).toEqual(TARGETS.map((t) => t.id));
    for (const t of model.targets) {
      if (TARGETS.find((x) => x.id === t.id)?.needs === 'peer') {
        // --quick runs no peer: said so, never counted as met or missed.
        expect(t).toMatchObject({ value: null, met: null, measured: 'not measured (run with --peer)' });
      } else {
        expect(typeof t.value).toBe('number');
        expect(typeof t.met).toBe('boolean');
        expect(t.missedBy === null).toBe(t.met);
        // A missed target says what limits it; a met one does not.
        expect(t.limitedBy === null).toBe(t.met);
      }
    }
    expect(model.peer).toBeUndefined();
  });

  it('measures the in-process ceiling and the service over HTTP without failed requests, /predict and v2 infer', () => {
    const model = report.models[0];
    expect(model.model).toBe('default');
    expect(model.ceiling.best.images).toBeGreaterThan(0);
    expect(model.ceiling.best.cpuMsPerImage).toBeGreaterThan(0);
    expect(model.variants.map((v) => v.variant.api ?? 'predict')).toEqual(['predict', 'v2-bytes']);
    for (const v of model.variants) {
      for (const level of [...v.sweep, v.halfRate]) {
        expect(level.load.ok).toBeGreaterThan(0);
        expect(level.load.completed - level.load.ok + level.load.errors).toBe(0);
        expect(level.peakRssMiB).toBeGreaterThan(0);
        // Read from the service's /metrics: counts, not NaN (a failed scrape).
        expect(Number.isInteger(level.gc.major.count) && Number.isInteger(level.gc.minor.count)).toBe(true);
      }
      expect(v.coldStart.readyMs).toBeGreaterThan(0);
      // Start-up loads modules on the main thread and a model in each inference worker.
      expect(v.coldStart.threadCpuMs.MainThread).toBeGreaterThan(0);
      expect(v.coldStart.threadCpuMs.WorkerThread).toBeGreaterThan(0);
      expect(v.exit.code).toBe(0);
    }
  });

  it("profiles the main thread at the default option's saturation and keeps the profile beside the report", () => {
    const { profile, variants } = report.models[0];
    expect(profile).toMatchObject({ connections: variants[0].saturation.connections });
    if (!profile) return;
    expect(profile.samples).toBeGreaterThan(0);
    expect(profile.imagesPerSec).toBeGreaterThan(0);
    // The service's own code runs on the main thread under load, and its shares are parts of one whole.
    expect(profile.packages.map((p) => p.what)).toContain('service');
    const shares = [profile.idle, profile.gc, ...profile.functions.map((f) => f.share)];
    expect(shares.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1 + 1e-9);
    expect(readCpuProfile(path.join(outDir, profile.file)).samples.length).toBeGreaterThanOrEqual(
      profile.samples,
    );
  });

  it('writes JSON and a Markdown table with the machine and every target', () => {
    expect(report.machine.onnxruntimeNode).toMatch(/^\d+\.\d+/);
    expect(report.machine.logicalCpus).toBeGreaterThan(0);
    expect(report.models[0].variants).toHaveLength(2);
    const md = readFileSync(path.join(outDir, 'bench-quick.md'), 'utf8');
    expect(md).toContain('onnxruntime-node');
    for (const t of TARGETS) expect(md).toContain(targetText(t));
    expect(md).toContain('CPU floor');
    expect(md).toContain('| OIP v2 infer, BYTES (base64 image) | 4 |'); // reported beside /predict
  });
});
