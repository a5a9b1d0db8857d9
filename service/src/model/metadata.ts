import { z } from 'zod';

/** The ONNX graph inside a model directory. */
export const MODEL_FILE = 'model.onnx';
/** The service's metadata file inside a model directory (validated by {@link ModelMetadataSchema}). */
export const METADATA_FILE = 'model.json';

const channelTriple = z
  .tuple([z.number().finite(), z.number().finite(), z.number().finite()])
  .describe('three numbers, one per channel, in the model channel order');

/**
 * `model.json`: what the service needs to feed a model and to read its output. Everything the ONNX graph
 * cannot say (labels, preprocessing) lives here; everything it can say (names, shapes, element types) is
 * checked against the loaded session, see `validateModelAgainstSession`.
 */
export const ModelMetadataSchema = z
  .object({
    /** Format version of this file. */
    schemaVersion: z.literal(1).default(1),
    /** Class labels, in the order of the output vector; their count must equal the output width. */
    labels: z
      .array(z.string().min(1).max(200))
      .min(1)
      .refine((labels) => new Set(labels).size === labels.length, 'labels must be unique'),
    input: z
      .object({
        /** Name of the image input of the graph. */
        name: z.string().min(1),
        /** Tensor layout: NCHW (PyTorch, most ONNX exports) or NHWC (TensorFlow/Keras). */
        layout: z.enum(['NCHW', 'NHWC']).default('NCHW'),
        /** Input height in pixels. */
        height: z.number().int().min(1).max(4096),
        /** Input width in pixels. */
        width: z.number().int().min(1).max(4096),
        /** Channel order the model was trained with (Caffe-era models use BGR). */
        channelOrder: z.enum(['RGB', 'BGR']).default('RGB'),
      })
      .strict(),
    preprocessing: z
      .object({
        /**
         * `squash`: resize to the input size ignoring the aspect ratio. `center-crop`: the ImageNet
         * convention, resize the shorter side to `resizeShorterSide` and centre-crop to the input size.
         */
        resize: z.enum(['squash', 'center-crop']).default('squash'),
        /** Shorter side before the centre crop; default: round(max(height, width) / 0.875), e.g. 256 for 224. */
        resizeShorterSide: z.number().int().min(1).max(8192).optional(),
        /** Multiplier applied to 0–255 pixel values before mean/std: 1/255 gives 0–1, 1 keeps 0–255. */
        scale: z
          .number()
          .finite()
          .positive()
          .default(1 / 255),
        /** Subtracted after scaling, per channel (model channel order). */
        mean: channelTriple.default([0, 0, 0]),
        /** Divisor after the mean, per channel (model channel order); must not be 0. */
        std: channelTriple
          .default([1, 1, 1])
          .refine((std) => std.every((s) => s !== 0), 'std values must not be 0'),
        /** Colour that transparent pixels are flattened onto, as #rrggbb. */
        background: z
          .string()
          .regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour like #ffffff')
          .default('#ffffff'),
      })
      .strict()
      .prefault({}),
    output: z
      .object({
        /** Name of the scores output of the graph. */
        name: z.string().min(1),
        /** `logits` get a softmax in the service; `probabilities` are reported as they are. */
        kind: z.enum(['logits', 'probabilities']).default('logits'),
      })
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

/** Parsed `model.json` with defaults filled in. */
export type ModelMetadata = z.infer<typeof ModelMetadataSchema>;
/** `model.json` as written by hand (defaults optional). */
export type ModelMetadataInput = z.input<typeof ModelMetadataSchema>;

/** The shorter side the image is resized to before a centre crop. */
export function shorterSideFor(meta: ModelMetadata): number {
  return (
    meta.preprocessing.resizeShorterSide ?? Math.round(Math.max(meta.input.height, meta.input.width) / 0.875)
  );
}

/**
 * Validates parsed JSON as model metadata; throws an Error naming `source`, each bad field and the rule.
 */
export function parseModelMetadata(raw: unknown, source: string): ModelMetadata {
  const parsed = ModelMetadataSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `'${i.path.join('.') || '(root)'}' ${i.message}`);
    throw new Error(`${source}: invalid model metadata: ${issues.join('; ')}`);
  }
  return parsed.data;
}
