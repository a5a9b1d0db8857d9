/**
 * @jest-environment ./test/support/ort-environment.js
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENVIRONMENTS, modelPinPath, readModelPin } from '../../../charts/src/config';
import { environmentConfigPath, readEnvironmentConfig } from '../../../charts/src/config/environment-config';
import { buildDefaultModel } from '../../../service/src/model/builders';
import {
  DEFAULT_GOLDEN_SET_PATH,
  generateGoldenSet,
  writeGeneratedImages,
} from '../../src/evaluation/default-golden-set';
import { evaluateModelDir } from '../../src/evaluation/evaluate';
import { buildEvidence, evidencePath, readEvidence } from '../../src/evaluation/evidence';
import { readGoldenSet } from '../../src/evaluation/golden-set';
import { judge } from '../../src/evaluation/policy';
import { writeModel } from '../support/models';
import { REPO_ROOT } from '../support/repo';

describe('the default golden set and the default setup', () => {
  it('is committed exactly as the generator writes it (npm run golden:default)', async () => {
    const dir = join(REPO_ROOT, DEFAULT_GOLDEN_SET_PATH);
    const committed = readdirSync(dir).flatMap((folder) =>
      readdirSync(join(dir, folder)).map((f) => `${folder}/${f}`),
    );
    const generated = await generateGoldenSet();
    expect(committed.sort()).toEqual(generated.map((g) => g.path).sort());
    for (const g of generated) expect(readFileSync(join(dir, g.path)).equals(g.bytes)).toBe(true);
  });

  it('the committed configuration passes its own gate: the default model meets every environment policy, as its evidence says', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'default-gate-'));
    try {
      const { sha256 } = writeModel(tmp, buildDefaultModel());
      for (const env of ENVIRONMENTS) {
        const policy = readEnvironmentConfig(environmentConfigPath(REPO_ROOT, env)).evaluation;
        expect(policy?.goldenSet).toEqual({ from: 'repository', path: DEFAULT_GOLDEN_SET_PATH });
        const golden = readGoldenSet(
          join(REPO_ROOT, policy!.goldenSet.path),
          policy!.goldenSet.path,
          policy!.limits,
        );
        const e = await evaluateModelDir(tmp, golden, { expectedSha256: sha256 });
        // The pinned champion is the same default model: challenger and champion agree.
        expect(judge(policy!, e, e)).toMatchObject({ passed: true, failures: [] });
        expect(e.accuracy).toBe(1);
        // The committed evidence next to the pin is what the gate computes for it (scores up to float noise
        // between CPUs), so smoke after a fresh deployment of the committed pins compares with the truth.
        const pin = readModelPin(modelPinPath(REPO_ROOT, env));
        expect(pin.sha256).toBe(sha256);
        const computed = buildEvidence(e, {
          name: pin.name,
          version: pin.version,
          sha256: pin.sha256,
          from: policy!.goldenSet.from,
          samples: policy!.smokeSamples,
          scoreTolerance: policy!.scoreTolerance,
        });
        const committed = readEvidence(evidencePath(REPO_ROOT, env));
        const withoutScores = (x: typeof committed): unknown => ({
          ...x,
          expected: x.expected.map((i) => ({ ...i, score: undefined })),
        });
        expect(withoutScores(committed)).toEqual(withoutScores(computed));
        committed.expected.forEach((i, n) => expect(i.score).toBeCloseTo(computed.expected[n]!.score, 4));
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('generateGoldenSet and writeGeneratedImages', () => {
  it('gives a one-image class the low end of its red range (bright 170 … 175, dark 85 … 105)', async () => {
    const { default: sharp } = await import('sharp');
    const images = await generateGoldenSet({ perClass: 1, size: 4, labels: ['a', 'b'] });
    expect(images.map((i) => i.path)).toEqual(['a/a-01.png', 'b/b-01.png']);
    const reds = await Promise.all(
      images.map(async (i) => {
        const raw = await sharp(i.bytes).raw().toBuffer();
        return [...raw].filter((_, n) => n % 3 === 0);
      }),
    );
    for (const r of reds[0]!) expect(r >= 170 && r <= 175).toBe(true);
    for (const r of reds[1]!) expect(r >= 85 && r <= 105).toBe(true);
  });

  it('replaces the directory whole: a stale file never survives, no temporary directory is left', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'golden-write-'));
    try {
      const out = join(tmp, 'golden');
      mkdirSync(join(out, 'fox'), { recursive: true });
      writeFileSync(join(out, 'fox', 'old.png'), 'stale');
      writeGeneratedImages(out, [
        { path: 'cat/a.png', bytes: Buffer.from('A') },
        { path: 'dog/b.png', bytes: Buffer.from('B') },
      ]);
      expect(readdirSync(tmp)).toEqual(['golden']);
      expect(readdirSync(out).sort()).toEqual(['cat', 'dog']);
      expect(readFileSync(join(out, 'cat', 'a.png'), 'utf8')).toBe('A');
      expect(readFileSync(join(out, 'dog', 'b.png'), 'utf8')).toBe('B');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
