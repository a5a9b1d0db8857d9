import sharp, { type KernelEnum, type Metadata } from 'sharp';
import { PredictionError } from './errors';
import { shorterSideFor, type Interpolation, type ModelMetadata } from './model/format';

/** The libvips kernel of each interpolation (libvips reduces with the kernel widened by the shrink factor). */
const KERNELS: Record<Interpolation, keyof KernelEnum> = {
  nearest: 'nearest',
  bilinear: 'linear',
  bicubic: 'cubic',
  lanczos3: 'lanczos3',
};

/** Image formats the service accepts, recognised by their magic bytes (never by the declared type alone). */
export type ImageFormat = 'jpeg' | 'png' | 'webp';

/** Limits applied to every image before it is decoded. */
export interface PreprocessLimits {
  /** Largest width x height accepted; larger images get 422 before any pixel is decoded. */
  readonly maxPixels: number;
}

/**
 * Sets sharp up as the service decodes: `concurrency` libvips threads per image, and libvips' operation cache
 * off (every image is new, so the cache only costs CPU and memory). The service calls it at start-up; the
 * bench's in-process phases call it too, so they measure the same decoder. Returns the previous concurrency.
 */
export function configureSharp(concurrency: number): number {
  const previous = sharp.concurrency();
  sharp.concurrency(concurrency);
  sharp.cache(false);
  return previous;
}

/** Recognises JPEG, PNG and WebP by their first bytes; null for anything else. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return 'png';
  const ascii = (from: number, to: number): string =>
    Buffer.from(bytes.subarray(from, to)).toString('latin1');
  if (bytes.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  return null;
}

/**
 * Decodes one image and turns it into the model's input values for one image (float32, the model's layout
 * and channel order): {@link decodeImage}, then {@link normalise}. Writes them into `out` when given (one
 * image's values long: its place in a batch, or a reused buffer), else into a new array; returns it.
 */
export async function preprocessImage(
  bytes: Uint8Array,
  meta: ModelMetadata,
  limits: PreprocessLimits,
  out?: Float32Array,
): Promise<Float32Array> {
  const values = meta.input.height * meta.input.width * 3;
  if (out && out.length !== values) {
    throw new Error(`preprocessImage: 'out' holds ${out.length} values, one image has ${values}`);
  }
  return normalise(await decodeImage(bytes, meta, limits), meta, out ?? new Float32Array(values));
}

/**
 * Decodes one image to the model's input size as RGB bytes (HWC): EXIF orientation applied, alpha flattened
 * onto the metadata background, converted to sRGB (embedded ICC profiles applied), resized with the
 * description's interpolation (squash; or torchvision's `Resize(resizeShorterSide)` + `CenterCrop`, see
 * {@link centerCropGeometry}).
 *
 * Throws {@link PredictionError}: `image_empty`, `image_undecodable` (not JPEG/PNG/WebP by its first bytes,
 * corrupt or truncated), `image_too_large` (over `maxPixels`, checked from the header before decoding).
 */
async function decodeImage(
  bytes: Uint8Array,
  meta: ModelMetadata,
  limits: PreprocessLimits,
): Promise<Uint8Array> {
  if (bytes.length === 0) throw new PredictionError('image_empty', 'the image is empty (0 bytes)');
  const format = sniffImageFormat(bytes);
  if (format === null) {
    throw new PredictionError(
      'image_undecodable',
      'the body is not a JPEG, PNG or WebP image (unrecognised first bytes)',
    );
  }
  const pre = meta.preprocessing;
  // A centre crop needs the (oriented) size before resizing; a squash does not, so it decodes at once and
  // libvips checks limitInputPixels from the header before any pixel is decoded (one sharp call, not two).
  const header = pre.resize === 'squash' ? null : await readHeader(bytes, format, limits);
  const { height: outH, width: outW } = meta.input;
  let pipeline = sharp(bytes, {
    failOn: 'truncated',
    limitInputPixels: limits.maxPixels,
    sequentialRead: true,
    autoOrient: true,
  })
    .flatten({ background: pre.background })
    .toColourspace('srgb');
  const kernel = KERNELS[pre.interpolation];
  if (header === null) {
    pipeline = pipeline.resize(outW, outH, { fit: 'fill', kernel }); // squash
  } else {
    const oriented = header.autoOrient ?? { width: header.width as number, height: header.height as number };
    const g = centerCropGeometry(oriented.width, oriented.height, shorterSideFor(meta), outW, outH);
    pipeline = pipeline
      .resize(g.width, g.height, { fit: 'fill', kernel })
      .extract({ left: g.left, top: g.top, width: outW, height: outH });
  }
  let pixels: Buffer;
  let channels: number;
  try {
    const out = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    pixels = out.data;
    channels = out.info.channels;
  } catch (err) {
    // Over MAX_IMAGE_PIXELS (or an unreadable header) is reported from the header, as when it was read first.
    if (!header) await readHeader(bytes, format, limits);
    throw new PredictionError('image_undecodable', `cannot decode the ${format} image: ${shortReason(err)}`);
  }
  if (channels !== 3 || pixels.length !== outW * outH * 3) {
    throw new PredictionError(
      'image_undecodable',
      `the ${format} image decoded to ${channels} channels instead of 3`,
    );
  }
  return pixels;
}

/**
 * torchvision's `Resize(side)` then `CenterCrop((outH, outW))` geometry: the shorter side becomes `side`, the
 * longer `int(side * long / short)` (truncated, as torchvision does); the crop offsets are
 * `int(round((size - crop) / 2))` with Python's round-half-to-even.
 */
export function centerCropGeometry(
  width: number,
  height: number,
  side: number,
  outW: number,
  outH: number,
): { width: number; height: number; left: number; top: number } {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  const newLong = Math.floor((side * long) / short);
  const [rw, rh] = width <= height ? [side, newLong] : [newLong, side];
  // side ≥ max(outW, outH) is enforced by the description schema; the max() only guards odd inputs.
  const w = Math.max(outW, rw);
  const h = Math.max(outH, rh);
  return { width: w, height: h, left: roundHalfEven((w - outW) / 2), top: roundHalfEven((h - outH) / 2) };
}

/** Python 3's `round()` for halves (to the even neighbour): round(0.5) = 0, round(1.5) = 2, round(2.5) = 2. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Reads the image header: 400 `image_undecodable` when it cannot be read or declares no size, 422
 * `image_too_large` over `maxPixels`.
 */
async function readHeader(
  bytes: Uint8Array,
  format: ImageFormat,
  limits: PreprocessLimits,
): Promise<Metadata> {
  let header: Metadata;
  try {
    header = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new PredictionError('image_undecodable', `cannot read the ${format} header: ${shortReason(err)}`);
  }
  const { width, height } = header;
  if (!width || !height) {
    throw new PredictionError('image_undecodable', `the ${format} header declares no image size`);
  }
  if (width * height > limits.maxPixels) {
    throw new PredictionError(
      'image_too_large',
      `the image is ${width}x${height} = ${width * height} pixels; at most ${limits.maxPixels} are accepted (MAX_IMAGE_PIXELS)`,
    );
  }
  return header;
}

/**
 * RGB HWC bytes of one image (from {@link decodeImage}) → the model's input values in its layout and channel
 * order: `value = pixel * scale`, `(value - mean) / std` per channel.
 */
function normalise(pixels: Uint8Array, meta: ModelMetadata, out: Float32Array): Float32Array {
  const { channelOrder, layout } = meta.input;
  const count = meta.input.height * meta.input.width;
  const tables = valueTables(meta);
  for (let c = 0; c < 3; c++) {
    // Model channel c reads source channel c (RGB) or 2 - c (BGR); mean/std are in model order.
    const src = channelOrder === 'RGB' ? c : 2 - c;
    const values = tables[c] as Float64Array;
    if (layout === 'NCHW') {
      const base = c * count;
      for (let i = 0; i < count; i++) out[base + i] = values[pixels[i * 3 + src] as number] as number;
    } else {
      for (let i = 0; i < count; i++) out[i * 3 + c] = values[pixels[i * 3 + src] as number] as number;
    }
  }
  return out;
}

const VALUE_TABLES = new WeakMap<ModelMetadata, readonly Float64Array[]>();

/**
 * The 256 possible values of each model channel, `(p * scale - mean[c]) / std[c]`: computed once per model
 * (metadata objects are not changed once parsed), not once per pixel or per image.
 */
function valueTables(meta: ModelMetadata): readonly Float64Array[] {
  let tables = VALUE_TABLES.get(meta);
  if (!tables) {
    const { scale, mean, std } = meta.preprocessing;
    tables = [0, 1, 2].map((c) => {
      const values = new Float64Array(256);
      for (let p = 0; p < 256; p++) values[p] = (p * scale - (mean[c] as number)) / (std[c] as number);
      return values;
    });
    VALUE_TABLES.set(meta, tables);
  }
  return tables;
}

function shortReason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return (text.split('\n')[0] ?? '').slice(0, 200);
}
