import { GraphBuilder, seededRandom, simpleCnnMetadata, type BuiltModel } from './onnx-builder';

/** Options of {@link buildDefaultModel}. */
export interface DefaultModelOptions {
  /** PRNG seed of the filler weights (they change the bytes, never the predictions). @default 20240611 */
  readonly seed?: number;
  /** Square input size in pixels. @default 128 */
  readonly inputSize?: number;
  /** Channels of the three conv blocks (each ≥ 2). @default [32, 64, 128] */
  readonly channels?: readonly [number, number, number];
  /** Width of the hidden fully connected layer (≥ 2). @default 64 */
  readonly hidden?: number;
  /**
   * The normalised red level ((red / 255 - 0.5) / 0.5, so -1 … 1) above which a pixel counts for the first
   * class. @default 0 (mid-level red, 127.5)
   */
  readonly redThreshold?: number;
  /** Class labels: the first for "red above the threshold", the second for "below". @default ['cat', 'dog'] */
  readonly labels?: readonly [string, string];
}

/** Scale of the final logits: the mean red margin (0 … 1) times this is the logit difference / 2. */
const LOGIT_GAIN = 4;

/**
 * The default model: the SimpleCNN layer shapes of `buildSimpleCnn` (three conv 3x3 / ReLU / max-pool 2x2 blocks,
 * flatten, dense + ReLU, dense to logits; input `input` [batch, 3, S, S], output `logits`) with DESIGNED, not
 * trained, weights. It recognises no animal. It answers the first label when the image's red channel is mostly
 * above `redThreshold` (after the model's normalisation) and the second otherwise:
 *
 * - conv block 1, channel 0 = relu(red - t), channel 1 = relu(t - red) (centre tap of the red input channel);
 * - conv blocks 2 and 3 pass channels 0 and 1 through (centre tap 1), so after the pools each holds the max of its
 *   8x8 patch;
 * - hidden unit 0 / 1 = the spatial mean of channel 0 / 1;
 * - logits = ±LOGIT_GAIN x (unit 0 - unit 1).
 *
 * Every other channel and unit gets seeded random "filler" weights that nothing downstream reads (their weights in
 * the next layer are 0): the bytes depend on the seed, the predictions do not. Because the rule depends on the red
 * level relative to mid-grey, the model is wrong when fed BGR instead of RGB or 0–1 instead of the normalised
 * -1–1 values, which is what the promotion gate's tests rely on.
 */
export function buildDefaultModel(opts: DefaultModelOptions = {}): BuiltModel {
  const size = opts.inputSize ?? 128;
  const channels = opts.channels ?? [32, 64, 128];
  const hidden = opts.hidden ?? 64;
  const t = opts.redThreshold ?? 0;
  const labels = opts.labels ?? ['cat', 'dog'];
  if (size % 8 !== 0) throw new Error(`inputSize (${size}) must be a multiple of 8 (three 2x2 pools)`);
  if (channels.some((c) => c < 2) || hidden < 2) {
    throw new Error('every conv block and the hidden layer need at least 2 channels/units');
  }
  const random = seededRandom(opts.seed ?? 20240611);
  const filler = (bound: number): number => (random() * 2 - 1) * bound;
  const g = new GraphBuilder(random);

  let x = g.input('input', 'float32', ['batch', 3, size, size]);
  let inC = 3;
  channels.forEach((outC, block) => {
    const w = new Float32Array(outC * inC * 9);
    const b = new Float32Array(outC);
    const at = (o: number, i: number, ky: number, kx: number): number => ((o * inC + i) * 3 + ky) * 3 + kx;
    for (let o = 0; o < outC; o++) {
      if (o < 2) {
        if (block === 0) {
          w[at(o, 0, 1, 1)] = o === 0 ? 1 : -1; // red, model channel order RGB
          b[o] = o === 0 ? -t : t;
        } else {
          w[at(o, o, 1, 1)] = 1;
        }
        continue;
      }
      const bound = Math.sqrt(6 / (inC * 9));
      for (let i = 0; i < inC; i++) for (let k = 0; k < 9; k++) w[(o * inC + i) * 9 + k] = filler(bound);
      b[o] = filler(0.05);
    }
    const conv = g.node('Conv', [x, g.constant('w', [outC, inC, 3, 3], w), g.constant('b', [outC], b)], {
      kernel_shape: [3, 3],
      pads: [1, 1, 1, 1],
      strides: [1, 1],
      group: 1,
    });
    x = g.node('MaxPool', [g.node('Relu', [conv])], { kernel_shape: [2, 2], strides: [2, 2] });
    inC = outC;
  });
  x = g.node('Flatten', [x], { axis: 1 });
  const cells = (size / 8) * (size / 8);
  const flat = inC * cells;
  const w1 = new Float32Array(hidden * flat);
  const b1 = new Float32Array(hidden);
  for (let h = 0; h < hidden; h++) {
    if (h < 2) {
      for (let p = 0; p < cells; p++) w1[h * flat + h * cells + p] = 1 / cells;
      continue;
    }
    for (let i = 0; i < flat; i++) w1[h * flat + i] = filler(Math.sqrt(6 / flat));
    b1[h] = filler(0.05);
  }
  x = g.node('Relu', [
    g.node('Gemm', [x, g.constant('fc_w', [hidden, flat], w1), g.constant('fc_b', [hidden], b1)], {
      transB: 1,
    }),
  ]);
  const w2 = new Float32Array(2 * hidden);
  w2[0] = LOGIT_GAIN;
  w2[1] = -LOGIT_GAIN;
  w2[hidden] = -LOGIT_GAIN;
  w2[hidden + 1] = LOGIT_GAIN;
  g.node(
    'Gemm',
    [x, g.constant('fc_w', [2, hidden], w2), g.constant('fc_b', [2], new Float32Array(2))],
    { transB: 1 },
    'logits',
  );
  g.output('logits', ['batch', 2]);
  return { onnx: g.build('simple_cnn'), metadata: simpleCnnMetadata(size, labels) };
}
