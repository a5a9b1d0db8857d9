import { z } from 'zod';
import { LabelsSchema } from './labels';

/**
 * The serving description: what the service needs to feed a model and read its output. Every source of
 * it (the `model_gitops` block of `MLmodel`'s `metadata:`, `model.json`, the ONNX graph's `metadata_props`)
 * uses these field names; `resolve.ts` merges the sources and checks the result against the graph.
 */

const channelTriple = z
  .tuple([z.number().finite(), z.number().finite(), z.number().finite()])
  .describe('three numbers, one per channel, in the model channel order');

/** Resize kernels the preprocessing offers (sharp/libvips kernels, named as torchvision/PIL name them). */
export const INTERPOLATIONS = ['nearest', 'bilinear', 'bicubic', 'lanczos3'] as const;
export type Interpolation = (typeof INTERPOLATIONS)[number];

/** Each field's rule, once; the partial (per source) and the complete (resolved) schemas are built from it. */
const fields = {
  /** Class labels in the order of the output vector (names may repeat: the class index is the identity). */
  labels: LabelsSchema,
  input: {
    /** Name of the image input of the graph. */
    name: z.string().min(1),
    /** Tensor layout: NCHW (PyTorch, most ONNX exports) or NHWC (TensorFlow/Keras). */
    layout: z.enum(['NCHW', 'NHWC']),
    /** Input height in pixels. */
    height: z.number().int().min(1).max(4096),
    /** Input width in pixels. */
    width: z.number().int().min(1).max(4096),
    /** Channel order the model was trained with (Caffe-era models use BGR). */
    channelOrder: z.enum(['RGB', 'BGR']),
  },
  preprocessing: {
    /**
     * `squash`: resize to the input size ignoring the aspect ratio (torchvision `Resize((h, w))`, Keras
     * `Resizing`). `center-crop`: torchvision `Resize(resizeShorterSide)` + `CenterCrop((h, w))`.
     */
    resize: z.enum(['squash', 'center-crop']),
    /** Shorter side before the centre crop; default: round(max(height, width) / 0.875), e.g. 256 for 224. */
    resizeShorterSide: z.number().int().min(1).max(8192),
    /** Resize kernel; default `bilinear` for both resize modes (torchvision's and Keras' default). */
    interpolation: z.enum(INTERPOLATIONS),
    /** Multiplier applied to 0–255 pixel values before mean/std: 1/255 gives 0–1, 1 keeps 0–255. */
    scale: z.number().finite().positive(),
    /** Subtracted after scaling, per channel (model channel order). */
    mean: channelTriple,
    /** Divisor after the mean, per channel (model channel order); must not be 0. */
    std: channelTriple.refine((std) => std.every((s) => s !== 0), 'std values must not be 0'),
    /** Colour that transparent pixels are flattened onto, as #rrggbb. */
    background: z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour like #ffffff'),
  },
  output: {
    /** Name of the scores output of the graph. */
    name: z.string().min(1),
    /** `logits` get a softmax in the service; `probabilities` are reported as they are. */
    kind: z.enum(['logits', 'probabilities']),
  },
};

/** The defaults of the optional fields (everything else comes from a source or from the graph). */
export const DESCRIPTION_DEFAULTS = {
  channelOrder: 'RGB',
  resize: 'squash',
  interpolation: 'bilinear',
  scale: 1 / 255,
  mean: [0, 0, 0],
  std: [1, 1, 1],
  background: '#ffffff',
  kind: 'logits',
} as const;

/**
 * One source's part of the description (`model_gitops` metadata block, `model.json`, ONNX metadata_props):
 * every field optional, unknown fields refused.
 */
export const ModelDescriptionPartSchema = z
  .object({
    /** Format version of `model.json`; only 1 exists. */
    schemaVersion: z.literal(1).optional(),
    labels: fields.labels.optional(),
    input: z.object(fields.input).partial().strict().optional(),
    preprocessing: z.object(fields.preprocessing).partial().strict().optional(),
    output: z.object(fields.output).partial().strict().optional(),
  })
  .strict();

/** A source's part of the description, as written (what `model_gitops: {...}` or `model.json` holds). */
export type ModelMetadataInput = z.input<typeof ModelDescriptionPartSchema>;

/**
 * The complete description (after resolution): names and sizes required, the optional fields defaulted.
 * `model.json` written in full (the kit's format before MLflow directories) parses with it as it is.
 */
export const ModelMetadataSchema = z
  .object({
    schemaVersion: z.literal(1).default(1),
    labels: fields.labels,
    input: z
      .object({
        ...fields.input,
        layout: fields.input.layout.default('NCHW'),
        channelOrder: fields.input.channelOrder.default(DESCRIPTION_DEFAULTS.channelOrder),
      })
      .strict(),
    preprocessing: z
      .object({
        resize: fields.preprocessing.resize.default(DESCRIPTION_DEFAULTS.resize),
        resizeShorterSide: fields.preprocessing.resizeShorterSide.optional(),
        interpolation: fields.preprocessing.interpolation.default(DESCRIPTION_DEFAULTS.interpolation),
        scale: fields.preprocessing.scale.default(DESCRIPTION_DEFAULTS.scale),
        mean: fields.preprocessing.mean.default([...DESCRIPTION_DEFAULTS.mean]),
        std: fields.preprocessing.std.default([...DESCRIPTION_DEFAULTS.std]),
        background: fields.preprocessing.background.default(DESCRIPTION_DEFAULTS.background),
      })
      .strict()
      .prefault({}),
    output: z
      .object({ ...fields.output, kind: fields.output.kind.default(DESCRIPTION_DEFAULTS.kind) })
      .strict(),
  })
  .strict()
  .superRefine((meta, ctx) => {
    const side = meta.preprocessing.resizeShorterSide;
    if (side !== undefined && side < Math.max(meta.input.height, meta.input.width)) {
      ctx.addIssue({
        code: 'custom',
        path: ['preprocessing', 'resizeShorterSide'],
        message: `must be ≥ the larger input side (${Math.max(meta.input.height, meta.input.width)}) to crop from`,
      });
    }
  });

/** The resolved description with defaults filled in. */
export type ModelMetadata = z.infer<typeof ModelMetadataSchema>;

/** The shorter side the image is resized to before a centre crop. */
export function shorterSideFor(meta: ModelMetadata): number {
  return (
    meta.preprocessing.resizeShorterSide ?? Math.round(Math.max(meta.input.height, meta.input.width) / 0.875)
  );
}

/** `'a.b' message` for each zod issue, joined. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `'${i.path.join('.') || '(root)'}' ${i.message}`).join('; ');
}

/**
 * Validates a complete description (e.g. a `model.json` written in full); throws an Error naming `source`,
 * each bad field and the rule.
 */
export function parseModelMetadata(raw: unknown, source: string): ModelMetadata {
  const parsed = ModelMetadataSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`${source}: invalid model metadata: ${describeIssues(parsed.error)}`);
  }
  return parsed.data;
}

/** The description as an MLmodel `metadata.model_gitops` block holds it (`schemaVersion` is model.json's). */
export function metadataBlockOf(description: ModelMetadataInput): Omit<ModelMetadataInput, 'schemaVersion'> {
  const block: ModelMetadataInput = { ...description };
  delete block.schemaVersion;
  return block;
}

/** Validates one source's part of the description; throws an Error naming `source`, the field and the rule. */
export function parseDescriptionPart(raw: unknown, source: string): ModelMetadataInput {
  const parsed = ModelDescriptionPartSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`${source}: invalid model description: ${describeIssues(parsed.error)}`);
  }
  return parsed.data;
}
