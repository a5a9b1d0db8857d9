import sharp from 'sharp';
import type { PredictionErrorCode } from '../src/errors';
import { parseModelMetadata, type ModelMetadataInput } from '../src/model/format';
import { Classifier } from '../src/classifier';
import { buildIdentityModel, writeModelDir } from '../src/model/onnx-builder';
import { DEFAULT_MAX_IMAGE_PIXELS } from '../src/config';
import { configureSharp, preprocessImage, sniffImageFormat } from '../src/preprocess';
import { noisyJpeg, pngFrom, pngHeaderOnly, tempDir } from './helpers';

const LIMITS = { maxPixels: DEFAULT_MAX_IMAGE_PIXELS };
// 2x2 image, RGB per pixel, row-major: (0,0) (0,1) / (1,0) (1,1)
const PIXELS = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120];

function meta(overrides: Partial<ModelMetadataInput> = {}) {
  return parseModelMetadata({ ...buildIdentityModel().metadata, ...overrides }, 'test');
}

async function expectPredictionError(promise: Promise<unknown>, code: PredictionErrorCode): Promise<void> {
  await expect(promise).rejects.toMatchObject({ name: 'PredictionError', code });
}

describe('preprocessImage', () => {
  test('NCHW RGB with scale 1/255 gives the pixel values / 255, channel planes in order', async () => {
    const out = await preprocessImage(await pngFrom(PIXELS, 2, 2), meta(), LIMITS);
    const expected = [10, 40, 70, 100, 20, 50, 80, 110, 30, 60, 90, 120].map((v) => v / 255);
    expect(Array.from(out)).toHaveLength(12);
    Array.from(out).forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 6));
  });

  test('NHWC BGR with mean/std applies the normalisation per model channel', async () => {
    const m = meta({
      input: { name: 'pixels', layout: 'NHWC', height: 2, width: 2, channelOrder: 'BGR' },
      preprocessing: { resize: 'squash', scale: 1, mean: [1, 2, 3], std: [2, 4, 8] },
    });
    const out = await preprocessImage(await pngFrom(PIXELS, 2, 2), m, LIMITS);
    const expected: number[] = [];
    for (let p = 0; p < 4; p++) {
      const [r, g, b] = PIXELS.slice(p * 3, p * 3 + 3) as [number, number, number];
      expected.push((b - 1) / 2, (g - 2) / 4, (r - 3) / 8);
    }
    Array.from(out).forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 6));
  });

  test('writes into a given buffer of one image (every value: stale contents do not survive), else refuses it', async () => {
    const png = await pngFrom(PIXELS, 2, 2);
    const fresh = await preprocessImage(png, meta(), LIMITS);
    const reused = new Float32Array(12).fill(Number.NaN);
    expect(await preprocessImage(png, meta(), LIMITS, reused)).toBe(reused);
    expect(Array.from(reused)).toEqual(Array.from(fresh));
    const batch = new Float32Array(24).fill(-7);
    await preprocessImage(png, meta(), LIMITS, batch.subarray(12));
    expect(Array.from(batch.subarray(0, 12))).toEqual(new Array(12).fill(-7));
    expect(Array.from(batch.subarray(12))).toEqual(Array.from(fresh));
    await expect(preprocessImage(png, meta(), LIMITS, new Float32Array(11))).rejects.toThrow(
      "'out' holds 11 values, one image has 12",
    );
  });

  test('transparent pixels are flattened onto the metadata background', async () => {
    const rgba = [255, 0, 0, 0, 255, 0, 0, 0, 0, 0, 255, 255, 0, 0, 255, 255];
    const m = meta({ preprocessing: { scale: 1, background: '#102030' } });
    const out = await preprocessImage(await pngFrom(rgba, 2, 2, 4), m, LIMITS);
    // pixel 0 fully transparent → background (16, 32, 48); pixel 2 opaque blue
    expect([out[0], out[4], out[8]]).toEqual([16, 32, 48]);
    expect([out[2], out[6], out[10]]).toEqual([0, 0, 255]);
  });

  test('EXIF orientation is applied before resizing', async () => {
    // 2 wide x 1 high: left red, right blue; orientation 6 = rotate 90° clockwise → 1 wide x 2 high, red on top
    const raw = Buffer.from([255, 0, 0, 0, 0, 255]);
    const png = await sharp(raw, { raw: { width: 2, height: 1, channels: 3 } })
      .png()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const m = meta({ input: { name: 'pixels', layout: 'NCHW', height: 2, width: 1, channelOrder: 'RGB' } });
    const out = await preprocessImage(png, { ...m, preprocessing: { ...m.preprocessing, scale: 1 } }, LIMITS);
    expect(Array.from(out)).toEqual([255, 0, 0, 0, 0, 255]); // R plane: top 255, bottom 0; B plane: 0, 255
  });

  test('an embedded colour profile is applied: a Display P3 image reads back as its sRGB values', async () => {
    const srgb = [200, 30, 40];
    const p3 = await sharp(Buffer.from(Array<number[]>(4).fill(srgb).flat()), {
      raw: { width: 2, height: 2, channels: 3 },
    })
      .withIccProfile('p3') // converts the pixels to P3 and embeds the profile
      .png()
      .toBuffer();
    const stored = await sharp(p3).keepIccProfile().raw().toBuffer();
    expect(Array.from(stored.subarray(0, 3))).not.toEqual(srgb); // the file holds P3 values
    const out = await preprocessImage(p3, meta({ preprocessing: { scale: 1 } }), LIMITS);
    [out[0], out[4], out[8]].forEach((v, c) =>
      expect(Math.abs((v as number) - (srgb[c] as number))).toBeLessThanOrEqual(2),
    );
  });

  test('center-crop resizes the shorter side and keeps the centre', async () => {
    // 6x2 image: columns 0-1 red, 2-3 green, 4-5 blue; shorter side 2 → crop the middle 2x2 = green
    const px: number[] = [];
    for (let y = 0; y < 2; y++)
      for (let x = 0; x < 6; x++) px.push(x < 2 ? 255 : 0, x >= 2 && x < 4 ? 255 : 0, x >= 4 ? 255 : 0);
    const m = meta({ preprocessing: { resize: 'center-crop', resizeShorterSide: 2, scale: 1 } });
    const out = await preprocessImage(await pngFrom(px, 6, 2), m, LIMITS);
    expect(Array.from(out)).toEqual([0, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0]);
  });

  test('grayscale images become three equal channels', async () => {
    const gray = await sharp(Buffer.from([0, 100, 200, 255]), { raw: { width: 2, height: 2, channels: 1 } })
      .png()
      .toBuffer();
    const out = await preprocessImage(gray, meta({ preprocessing: { scale: 1 } }), LIMITS);
    expect(Array.from(out.subarray(0, 4))).toEqual(Array.from(out.subarray(4, 8)));
    expect(Array.from(out.subarray(0, 4))).toEqual([0, 100, 200, 255]);
  });

  test('fails when the image is empty (image_empty)', async () => {
    await expectPredictionError(preprocessImage(Buffer.alloc(0), meta(), LIMITS), 'image_empty');
  });

  test('fails when the bytes are text (image_undecodable)', async () => {
    await expectPredictionError(
      preprocessImage(Buffer.from('hello, I am not a JPEG'), meta(), LIMITS),
      'image_undecodable',
    );
  });

  test('fails when a PNG signature is followed by garbage (image_undecodable)', async () => {
    const bytes = Buffer.concat([
      pngHeaderOnly(2, 2).subarray(0, 8),
      Buffer.from('garbage garbage garbage garbage'),
    ]);
    await expectPredictionError(preprocessImage(bytes, meta(), LIMITS), 'image_undecodable');
  });

  test('fails when a JPEG is truncated (image_undecodable, not silently decoded)', async () => {
    const jpeg = await noisyJpeg(320, 240);
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length * 0.6));
    await expectPredictionError(preprocessImage(truncated, meta(), LIMITS), 'image_undecodable');
  });

  test('fails when the header declares more pixels than allowed (image_too_large, before decoding)', async () => {
    await expectPredictionError(
      preprocessImage(pngHeaderOnly(50_000, 50_000), meta(), LIMITS),
      'image_too_large',
    );
  });

  test('real JPEGs decode to the model input size', async () => {
    const out = await preprocessImage(await noisyJpeg(), meta(), LIMITS);
    expect(out).toHaveLength(12);
    expect(Array.from(out).every((v) => v >= 0 && v <= 1)).toBe(true);
  });
});

describe('sniffImageFormat', () => {
  test('recognises JPEG, PNG and WebP and nothing else', async () => {
    const img = sharp({ create: { width: 2, height: 2, channels: 3, background: '#000' } });
    expect(sniffImageFormat(await img.clone().jpeg().toBuffer())).toBe('jpeg');
    expect(sniffImageFormat(await img.clone().png().toBuffer())).toBe('png');
    expect(sniffImageFormat(await img.clone().webp().toBuffer())).toBe('webp');
    expect(sniffImageFormat(await img.clone().gif().toBuffer())).toBeNull();
  });
});

describe('preprocessing feeds the model exactly', () => {
  test("the identity model returns exactly what preprocessImage makes, through the classifier's path", async () => {
    const tmp = tempDir();
    try {
      writeModelDir(tmp.dir, buildIdentityModel({ layout: 'NHWC' }));
      const classifier = await Classifier.open(tmp.dir);
      try {
        const png = await pngFrom(PIXELS, 2, 2);
        const input = await preprocessImage(png, classifier.files.metadata, { maxPixels: 100 });
        const out = await classifier.rawScores(png);
        expect(Array.from(out)).toEqual(Array.from(input));
        Array.from(out).forEach((v, i) => expect(v).toBeCloseTo((PIXELS[i] as number) / 255, 6));
      } finally {
        await classifier.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
});

describe('configureSharp', () => {
  it("sets libvips' threads per image, turns its operation cache off and returns the previous thread count", () => {
    const original = sharp.concurrency();
    const { memory, files, items } = sharp.cache();
    try {
      sharp.cache(true);
      expect(sharp.cache().items.max).toBeGreaterThan(0);
      expect(configureSharp(3)).toBe(original);
      expect(sharp.concurrency()).toBe(3);
      expect(sharp.cache()).toMatchObject({ memory: { max: 0 }, files: { max: 0 }, items: { max: 0 } });
      expect(configureSharp(1)).toBe(3);
      expect(sharp.concurrency()).toBe(1);
    } finally {
      // Leave sharp as this test found it, for the tests after it in this process.
      sharp.concurrency(original);
      sharp.cache({ memory: memory.max, files: files.max, items: items.max });
    }
  });
});
