import sharp from 'sharp';
import { seededRandom } from '../../service/src/model/builders';

/** One generated benchmark input: encoded bytes plus what they are. */
export interface BenchImage {
  /** Stable short name, e.g. `jpeg-640x480`. */
  readonly name: string;
  readonly format: 'jpeg' | 'png' | 'webp';
  readonly contentType: string;
  readonly width: number;
  readonly height: number;
  readonly bytes: Buffer;
}

/** What to generate: format and pixel size. */
export interface ImageSpec {
  readonly format: 'jpeg' | 'png' | 'webp';
  readonly width: number;
  readonly height: number;
}

/**
 * The benchmark's fixed input set: photo-sized JPEGs (the common case) and one PNG, 640x480 and larger.
 * Requests cycle through it in this order, so each run sees the same mix.
 */
export const DEFAULT_IMAGE_SPECS: readonly ImageSpec[] = [
  { format: 'jpeg', width: 640, height: 480 },
  { format: 'jpeg', width: 800, height: 600 },
  { format: 'png', width: 640, height: 480 },
  { format: 'jpeg', width: 1280, height: 960 },
];

/**
 * Raw RGB pixels that compress like a photo: smooth gradients, a few soft blobs and mild sensor noise
 * (pure noise would make multi-megabyte JPEGs, flat colour would make unrealistically tiny ones).
 */
export function syntheticPixels(width: number, height: number, seed: number): Buffer {
  const rand = seededRandom(seed);
  const px = Buffer.alloc(width * height * 3);
  const base = [rand() * 255, rand() * 255, rand() * 255];
  const grad = [rand() - 0.5, rand() - 0.5, rand() - 0.5].map((g) => g * 200);
  const blobs = Array.from({ length: 6 }, () => ({
    x: rand() * width,
    y: rand() * height,
    r2: (0.05 + rand() * 0.2) ** 2 * width * width,
    c: [rand() * 255 - 128, rand() * 255 - 128, rand() * 255 - 128],
  }));
  const fx = 2 + rand() * 10;
  const fy = 2 + rand() * 10;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x / width;
      const v = y / height;
      const wave = 20 * Math.sin(u * fx * Math.PI) * Math.cos(v * fy * Math.PI);
      let b0 = 0;
      let b1 = 0;
      let b2 = 0;
      for (const b of blobs) {
        const dx = x - b.x;
        const dy = y - b.y;
        const w = Math.exp(-(dx * dx + dy * dy) / b.r2);
        b0 += w * b.c[0];
        b1 += w * b.c[1];
        b2 += w * b.c[2];
      }
      const i = (y * width + x) * 3;
      const noise = (rand() - 0.5) * 24;
      px[i] = clamp(base[0] + grad[0] * u + wave + b0 + noise);
      px[i + 1] = clamp(base[1] + grad[1] * v + wave + b1 + noise);
      px[i + 2] = clamp(base[2] + grad[2] * (u + v) * 0.5 - wave + b2 + noise);
    }
  }
  return px;
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/** Encodes one synthetic image in the given format (deterministic for a given seed). */
export async function generateImage(spec: ImageSpec, seed: number): Promise<BenchImage> {
  const raw = syntheticPixels(spec.width, spec.height, seed);
  const img = sharp(raw, { raw: { width: spec.width, height: spec.height, channels: 3 } });
  const bytes =
    spec.format === 'jpeg'
      ? await img.jpeg({ quality: 85 }).toBuffer()
      : spec.format === 'png'
        ? await img.png({ compressionLevel: 6 }).toBuffer()
        : await img.webp({ quality: 80 }).toBuffer();
  return {
    name: `${spec.format}-${spec.width}x${spec.height}`,
    format: spec.format,
    contentType: `image/${spec.format}`,
    width: spec.width,
    height: spec.height,
    bytes,
  };
}

/** Generates the whole input set; image i uses seed `seed + i`. */
export async function generateImages(
  specs: readonly ImageSpec[] = DEFAULT_IMAGE_SPECS,
  seed = 20261122,
): Promise<BenchImage[]> {
  const out: BenchImage[] = [];
  for (const [i, spec] of specs.entries()) out.push(await generateImage(spec, seed + i));
  return out;
}
