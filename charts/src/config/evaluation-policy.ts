import { z } from 'zod';

const fraction = z.number().min(0).max(1);

const relativePath = z
  .string()
  .min(1)
  .refine(
    (p) => !p.startsWith('/') && !p.split('/').includes('..'),
    "must be a relative path without '..' segments",
  );

/**
 * Where a golden set is: a directory of images in one folder per label (torchvision's `ImageFolder`
 * convention). `repository`: relative to the repository root. `model-artifacts`: relative to the artifact
 * directory of the registered version being promoted. `run-artifacts`: relative to the artifact root of that
 * version's run (so data scientists ship the evaluation images with the model).
 */
export const GoldenSetLocationSchema = z.strictObject({
  from: z.enum(['repository', 'model-artifacts', 'run-artifacts']),
  path: relativePath,
});
export type GoldenSetLocation = z.infer<typeof GoldenSetLocationSchema>;

/** Size limits of a golden set; a set over a limit is refused with the limit's name, never half-read. */
export const GoldenSetLimitsSchema = z.strictObject({
  /** Most images read. */
  maxImages: z.number().int().min(1).default(2000),
  /** Largest single image file in bytes. */
  maxImageBytes: z
    .number()
    .int()
    .min(1)
    .default(10 * 1024 * 1024),
  /** Largest golden set in bytes. */
  maxTotalBytes: z
    .number()
    .int()
    .min(1)
    .default(256 * 1024 * 1024),
});
export type GoldenSetLimits = z.infer<typeof GoldenSetLimitsSchema>;

/**
 * `evaluation` in `charts/environments/<env>.yaml`: the promotion gate's golden set and thresholds. The
 * challenger (the version being promoted) and the champion (the version pinned now) are both evaluated on the
 * golden set; absolute thresholds apply to the challenger, relative ones to challenger vs champion.
 */
export const EvaluationPolicySchema = z
  .strictObject({
    goldenSet: GoldenSetLocationSchema,
    /** Lowest accepted top-1 accuracy of the challenger, 0 … 1. */
    minAccuracy: fraction,
    /** Lowest accepted recall of every class in the golden set, 0 … 1. */
    minRecall: fraction,
    /** Largest accepted accuracy drop of the challenger below the champion, 0 … 1 (0.02 = two points). */
    maxAccuracyDrop: fraction,
    /** Lowest accepted share of golden images where challenger and champion give the same top class. */
    minAgreement: fraction.optional(),
    /** Golden images (stratified per class) whose expected answers go into the evidence file for `smoke`. */
    smokeSamples: z.number().int().min(1).max(100).default(8),
    /** Largest difference between the score the gate computed and the one the live service answers. */
    scoreTolerance: fraction.default(0.01),
    limits: GoldenSetLimitsSchema.prefault({}),
  })
  .describe('the promotion gate: golden set and thresholds');
export type EvaluationPolicy = z.infer<typeof EvaluationPolicySchema>;
export type EvaluationPolicyInput = z.input<typeof EvaluationPolicySchema>;
