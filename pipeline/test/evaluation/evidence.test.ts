import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildEvidence,
  evidencePath,
  loadEvidenceImages,
  readEvidence,
  writeEvidence,
  type Evidence,
} from '../../src/evaluation/evidence';
import { evaluation, GOLDEN_DIGEST } from '../support/evaluations';
import { FakeMlflow } from '../support/fake-mlflow';
import { fakeClient } from '../support/models';
import { tempDirsCreatedBy } from '../support/temp-dirs';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const A64 = 'a'.repeat(64);

/** cat: 3 images (the last answered 'dog'), dog: 1 image. */
const e = evaluation(['cat', 'dog'], [[0, 0, 1], [1]]);
const input = { name: 'clf', version: '4', sha256: A64, from: 'repository' as const, scoreTolerance: 0.01 };

describe('buildEvidence', () => {
  it('records the golden set, rounded numbers and a round-robin sample over the classes, in path order', () => {
    expect(buildEvidence(e, { ...input, samples: 3 })).toEqual({
      name: 'clf',
      version: '4',
      sha256: A64,
      goldenSet: { from: 'repository', source: 'g', digest: GOLDEN_DIGEST, images: 4 },
      accuracy: 0.75,
      perClass: [
        { index: 0, label: 'cat', count: 3, recall: 0.666667 },
        { index: 1, label: 'dog', count: 1, recall: 1 },
      ],
      scoreTolerance: 0.01,
      expected: [
        { path: 'cat/0.png', sha256: '0'.repeat(64), index: 0, label: 'cat', score: 0.9 },
        { path: 'dog/0.png', sha256: '0'.repeat(64), index: 1, label: 'dog', score: 0.9 },
        { path: 'cat/1.png', sha256: '1'.repeat(64), index: 0, label: 'cat', score: 0.9 },
      ],
    });
  });

  it('takes every image, the longest class last, when asked for more than the golden set has', () => {
    const evidence = buildEvidence(e, { ...input, samples: 10 });
    expect(evidence.expected.map((x) => [x.path, x.label])).toEqual([
      ['cat/0.png', 'cat'],
      ['dog/0.png', 'dog'],
      ['cat/1.png', 'cat'],
      ['cat/2.png', 'dog'],
    ]);
  });

  it('stops at the sample size in the middle of a round', () => {
    expect(buildEvidence(e, { ...input, samples: 1 }).expected.map((x) => x.path)).toEqual(['cat/0.png']);
  });
});

describe('writeEvidence and readEvidence', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'evidence-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const valid = (): Evidence => buildEvidence(e, { ...input, samples: 2 });
  /** Writes `raw` as JSON and reads it back as evidence. */
  const roundTrip = (raw: unknown): Evidence => {
    const file = join(tmp, 'x.evaluation.json');
    writeFileSync(file, JSON.stringify(raw));
    return readEvidence(file);
  };
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

  it('is charts/environments/<env>.evaluation.json', () => {
    expect(evidencePath('/repo', 'production')).toBe('/repo/charts/environments/production.evaluation.json');
  });

  it('writes two-space JSON in schema key order with a trailing newline, and reads it back', () => {
    const file = join(tmp, 'dev.evaluation.json');
    const { expected, perClass, name, ...rest } = valid();
    // Keys given in another order are written in the schema's.
    writeEvidence(file, { expected, perClass, ...rest, name } as Evidence);
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('{\n  "name": "clf",\n  "version": "4",\n  "sha256": "')).toBe(true);
    expect(text.endsWith('\n    }\n  ]\n}\n')).toBe(true);
    expect(readEvidence(file)).toEqual(valid());
    expect(readdirSync(tmp)).toEqual(['dev.evaluation.json']);
  });

  it('accepts every golden set location, multi-digit versions and fractions below 1', () => {
    for (const from of ['repository', 'model-artifacts', 'run-artifacts'] as const) {
      const v = { ...valid(), version: '120', goldenSet: { ...valid().goldenSet, from } };
      expect(roundTrip(v)).toEqual(v);
    }
  });

  it.each([
    ['a version with a leading zero', { version: '04' }, 'version'],
    ['a version with a suffix', { version: '4a' }, 'version'],
    ['a sha256 with a prefix', { sha256: `x${A64}` }, 'sha256'],
    ['a sha256 with a suffix', { sha256: `${A64}x` }, 'sha256'],
    ['an accuracy over 1', { accuracy: 1.5 }, 'accuracy'],
  ])('fails naming the field when the file has %s', (_, over, field) => {
    const file = join(tmp, 'x.evaluation.json');
    expect(() => roundTrip({ ...valid(), ...over })).toThrow(
      new RegExp(`^${escape(file)}: invalid gate evidence: '${field}' [^;]+$`),
    );
  });

  it.each([
    [
      'a golden set digest with a prefix',
      (v: Evidence) => (v.goldenSet.digest = `x${A64}`),
      'goldenSet.digest',
    ],
    [
      'a golden set digest with a suffix',
      (v: Evidence) => (v.goldenSet.digest = `${A64}x`),
      'goldenSet.digest',
    ],
    [
      'an image sha256 with a prefix',
      (v: Evidence) => (v.expected[1]!.sha256 = `x${A64}`),
      'expected.1.sha256',
    ],
    [
      'an image sha256 with a suffix',
      (v: Evidence) => (v.expected[1]!.sha256 = `${A64}x`),
      'expected.1.sha256',
    ],
    ['a recall over 1', (v: Evidence) => (v.perClass[0]!.recall = 1.01), 'perClass.0.recall'],
  ])('fails naming the nested field when the file has %s', (_, edit, field) => {
    const v = valid();
    edit(v);
    expect(() => roundTrip(v)).toThrow(new RegExp(`: invalid gate evidence: '${escape(field)}' [^;]+$`));
  });

  it('fails listing every invalid field, and (root) for a file that is no object', () => {
    const file = join(tmp, 'x.evaluation.json');
    expect(() => roundTrip({ ...valid(), version: '0', accuracy: -1 })).toThrow(
      new RegExp(`^${escape(file)}: invalid gate evidence: 'version' [^;]+; 'accuracy' [^;]+$`),
    );
    expect(() => roundTrip([])).toThrow(new RegExp(`^${escape(file)}: invalid gate evidence: '\\(root\\)' `));
  });

  it('fails naming the file when it is missing or not JSON', () => {
    const file = join(tmp, 'x.evaluation.json');
    expect(() => readEvidence(file)).toThrow(
      new RegExp(`^${escape(file)}: cannot read the gate's evidence: ENOENT`),
    );
    writeFileSync(file, '{"name": ');
    expect(() => readEvidence(file)).toThrow(
      new RegExp(`^${escape(file)}: cannot read the gate's evidence: .*JSON`),
    );
  });
});

describe('loadEvidenceImages', () => {
  let tmp: string;
  const cat = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) % 256));
  const dog = Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 13) % 256));

  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'evidence-images-'));
  });
  afterEach(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Evidence of the images cat/a.png and dog/b.png of a golden set at `source`. */
  function evidence(from: Evidence['goldenSet']['from'], source: string): Evidence {
    const base = buildEvidence(e, { ...input, from, samples: 2 });
    return {
      ...base,
      goldenSet: { ...base.goldenSet, source },
      expected: [
        { path: 'cat/a.png', sha256: sha(cat), index: 0, label: 'cat', score: 0.9 },
        { path: 'dog/b.png', sha256: sha(dog), index: 1, label: 'dog', score: 0.8 },
      ],
    };
  }

  function writeGolden(root: string): void {
    mkdirSync(join(root, 'golden', 'cat'), { recursive: true });
    mkdirSync(join(root, 'golden', 'dog'), { recursive: true });
    writeFileSync(join(root, 'golden', 'cat', 'a.png'), cat);
    writeFileSync(join(root, 'golden', 'dog', 'b.png'), dog);
  }

  it('reads the sampled images of a repository golden set, in evidence order', async () => {
    writeGolden(tmp);
    const ev = evidence('repository', 'golden');
    expect(await loadEvidenceImages(ev, tmp)).toEqual([
      { expected: ev.expected[0], bytes: cat },
      { expected: ev.expected[1], bytes: dog },
    ]);
  });

  it('fails naming the image and the fix when a repository image is missing', async () => {
    writeGolden(tmp);
    rmSync(join(tmp, 'golden', 'dog', 'b.png'));
    await expect(loadEvidenceImages(evidence('repository', 'golden'), tmp)).rejects.toThrow(
      'golden image golden/dog/b.png cannot be read (ENOENT): ' +
        'run smoke from the repository checkout that holds the golden set',
    );
  });

  it('fails naming both digests when an image changed since the gate judged it', async () => {
    writeGolden(tmp);
    writeFileSync(join(tmp, 'golden', 'cat', 'a.png'), dog);
    await expect(loadEvidenceImages(evidence('repository', 'golden'), tmp)).rejects.toThrow(
      `golden image cat/a.png changed since the gate judged it (sha256 ${sha(dog)}, evidence ${sha(cat)}): ` +
        'promote again so the evidence matches the golden set',
    );
  });

  it('fails when the golden set is in MLflow and no MLflow is configured', async () => {
    await expect(
      loadEvidenceImages(evidence('model-artifacts', 'mlflow-artifacts:/1/r/artifacts/model/golden'), tmp),
    ).rejects.toThrow(
      'the golden set of the evidence is in MLflow (mlflow-artifacts:/1/r/artifacts/model/golden): ' +
        'set MLFLOW_TRACKING_URI so smoke can fetch it',
    );
  });

  describe('from MLflow', () => {
    let fake: FakeMlflow;
    beforeAll(async () => {
      fake = await FakeMlflow.start();
    });
    afterAll(() => fake.stop());
    beforeEach(() => {
      fake.artifacts.clear();
      fake.artifacts.set('1/r/artifacts/golden/cat/a.png', cat);
      fake.artifacts.set('1/r/artifacts/golden/dog/b.png', dog);
    });

    it('downloads the sampled images, in evidence order', async () => {
      const ev = evidence('run-artifacts', 'mlflow-artifacts:/1/r/artifacts/golden');
      expect(await loadEvidenceImages(ev, tmp, fakeClient(fake))).toEqual([
        { expected: ev.expected[0], bytes: cat },
        { expected: ev.expected[1], bytes: dog },
      ]);
    });

    it('removes its download directory, after success and after a failure', async () => {
      const ev = evidence('run-artifacts', 'mlflow-artifacts:/1/r/artifacts/golden');
      const created = await tempDirsCreatedBy(async () => {
        await loadEvidenceImages(ev, tmp, fakeClient(fake));
        fake.artifacts.set('1/r/artifacts/golden/dog/b.png', cat);
        await expect(loadEvidenceImages(ev, tmp, fakeClient(fake))).rejects.toThrow(/changed since/);
      });
      expect(created.filter((d) => d.includes('model-gitops-smoke-'))).toHaveLength(2);
      for (const dir of created) expect(existsSync(dir)).toBe(false);
    });

    it('fails when a downloaded image changed since the gate judged it', async () => {
      fake.artifacts.set('1/r/artifacts/golden/dog/b.png', cat);
      const ev = evidence('run-artifacts', 'mlflow-artifacts:/1/r/artifacts/golden');
      await expect(loadEvidenceImages(ev, tmp, fakeClient(fake))).rejects.toThrow(
        /^golden image dog\/b.png changed since the gate judged it/,
      );
    });
  });
});
