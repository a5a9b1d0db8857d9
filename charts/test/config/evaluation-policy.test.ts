import {
  EvaluationPolicySchema,
  GoldenSetLimitsSchema,
  GoldenSetLocationSchema,
  type EvaluationPolicyInput,
} from '../../src/config/evaluation-policy';

const MINIMAL: EvaluationPolicyInput = {
  goldenSet: { from: 'repository', path: 'charts/golden-sets/default' },
  minAccuracy: 0.9,
  minRecall: 0.8,
  maxAccuracyDrop: 0.02,
};

/** The issues of a rejected policy as `'path' message`. */
function issues(input: unknown): string[] {
  const parsed = EvaluationPolicySchema.safeParse(input);
  if (parsed.success) throw new Error(`accepted ${JSON.stringify(input)}`);
  return parsed.error.issues.map((i) => `'${i.path.join('.')}' ${i.message}`);
}

describe('evaluation policy', () => {
  it('fills every default: 8 smoke samples, a score tolerance of 0.01, 2000 images of ≤ 10 MiB, ≤ 256 MiB in all', () => {
    expect(EvaluationPolicySchema.parse(MINIMAL)).toEqual({
      ...MINIMAL,
      smokeSamples: 8,
      scoreTolerance: 0.01,
      limits: { maxImages: 2000, maxImageBytes: 10 * 1024 * 1024, maxTotalBytes: 256 * 1024 * 1024 },
    });
    // A limits block that sets one limit keeps the others' defaults.
    expect(GoldenSetLimitsSchema.parse({ maxImages: 5 })).toEqual({
      maxImages: 5,
      maxImageBytes: 10485760,
      maxTotalBytes: 268435456,
    });
  });

  it('keeps what the file sets, minAgreement included', () => {
    const full = {
      ...MINIMAL,
      minAgreement: 0.95,
      smokeSamples: 100,
      scoreTolerance: 0,
      limits: { maxImages: 1, maxImageBytes: 1, maxTotalBytes: 1 },
    };
    expect(EvaluationPolicySchema.parse(full)).toEqual(full);
  });

  it('takes thresholds from 0 to 1 inclusive', () => {
    for (const value of [0, 1]) {
      const policy = {
        ...MINIMAL,
        minAccuracy: value,
        minRecall: value,
        maxAccuracyDrop: value,
        minAgreement: value,
      };
      expect(EvaluationPolicySchema.parse(policy)).toMatchObject(policy);
    }
  });

  it('fails on a threshold outside 0..1, naming each field', () => {
    const bad = { ...MINIMAL, minAccuracy: 1.01, minRecall: -0.01, maxAccuracyDrop: 2, minAgreement: -1 };
    expect(issues(bad).map((i) => i.split(' ')[0])).toEqual([
      "'minAccuracy'",
      "'minRecall'",
      "'maxAccuracyDrop'",
      "'minAgreement'",
    ]);
    expect(issues({ ...MINIMAL, scoreTolerance: 1.5 })[0]).toMatch(/^'scoreTolerance' /);
  });

  it('fails when a required threshold is missing', () => {
    for (const field of ['minAccuracy', 'minRecall', 'maxAccuracyDrop'] as const) {
      const policy: Record<string, unknown> = { ...MINIMAL };
      delete policy[field];
      expect(issues(policy)[0]).toMatch(new RegExp(`^'${field}' `));
    }
    expect(issues({ ...MINIMAL, goldenSet: undefined })[0]).toMatch(/^'goldenSet' /);
  });

  it('fails on smoke samples that are not a whole number from 1 to 100', () => {
    expect(EvaluationPolicySchema.parse({ ...MINIMAL, smokeSamples: 1 }).smokeSamples).toBe(1);
    for (const smokeSamples of [0, 101, 2.5]) {
      expect(issues({ ...MINIMAL, smokeSamples })[0]).toMatch(/^'smokeSamples' /);
    }
  });

  it('fails on limits below 1 or not whole numbers, and on unknown limits', () => {
    for (const limit of ['maxImages', 'maxImageBytes', 'maxTotalBytes']) {
      expect(issues({ ...MINIMAL, limits: { [limit]: 0 } })[0]).toMatch(new RegExp(`^'limits.${limit}' `));
      expect(issues({ ...MINIMAL, limits: { [limit]: 1.5 } })[0]).toMatch(new RegExp(`^'limits.${limit}' `));
    }
    expect(issues({ ...MINIMAL, limits: { maxImageCount: 3 } })[0]).toMatch(/^'limits' .*maxImageCount/);
  });

  it('fails on unknown fields, naming them', () => {
    expect(issues({ ...MINIMAL, minPrecision: 0.5 })[0]).toMatch(/^'' .*minPrecision/);
  });
});

describe('golden set location', () => {
  it('is in the repository, the model artifacts or the run artifacts, by a relative path', () => {
    for (const from of ['repository', 'model-artifacts', 'run-artifacts'] as const) {
      expect(GoldenSetLocationSchema.parse({ from, path: 'golden' })).toEqual({ from, path: 'golden' });
    }
    // '..' only counts as a whole segment.
    expect(GoldenSetLocationSchema.parse({ from: 'repository', path: 'a/..b/c..' }).path).toBe('a/..b/c..');
  });

  it("fails on an empty path, an absolute one and one with a '..' segment, saying what is allowed", () => {
    const message = "must be a relative path without '..' segments";
    for (const path of ['/etc/golden', '..', '../golden', 'a/../../b', 'a/..']) {
      const parsed = GoldenSetLocationSchema.safeParse({ from: 'repository', path });
      expect(parsed.success ? 'accepted' : parsed.error.issues.map((i) => i.message)).toEqual([message]);
    }
    expect(GoldenSetLocationSchema.safeParse({ from: 'repository', path: '' }).success).toBe(false);
  });

  it('fails on an unknown source and on unknown fields', () => {
    expect(GoldenSetLocationSchema.safeParse({ from: 's3', path: 'golden' }).success).toBe(false);
    expect(
      GoldenSetLocationSchema.safeParse({ from: 'repository', path: 'golden', ref: 'main' }).success,
    ).toBe(false);
  });
});
