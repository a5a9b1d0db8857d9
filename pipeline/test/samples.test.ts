import sharp, { type OutputInfo } from 'sharp';
import { sampleImages } from '../src/samples';

/** Decodes every pixel (not just the header), as the service's preprocessing does. */
async function decode(bytes: Buffer): Promise<{ data: Buffer; info: OutputInfo }> {
  return sharp(bytes).raw().toBuffer({ resolveWithObject: true });
}

describe('sampleImages', () => {
  it('are five decodable images in the formats the service accepts, matching their content type', async () => {
    const samples = await sampleImages();
    expect(samples.map((s) => s.name)).toEqual([
      'landscape-gradient.jpg',
      'portrait-rings.jpg',
      'checker-alpha.png',
      'stripes.webp',
      'tiny-odd.jpg',
    ]);
    const decoded = [];
    for (const s of samples) {
      const meta = await sharp(s.bytes).metadata();
      expect(`image/${meta.format}`).toBe(s.contentType);
      const { data, info } = await decode(s.bytes);
      expect(data.length).toBe(info.width * info.height * info.channels);
      // Not a flat image: the pixels vary as the generator drew them.
      expect(data.reduce((a, b) => Math.max(a, b)) - data.reduce((a, b) => Math.min(a, b))).toBeGreaterThan(
        100,
      );
      decoded.push({ width: info.width, height: info.height, channels: info.channels });
    }
    expect(decoded).toEqual([
      { width: 640, height: 480, channels: 3 },
      { width: 300, height: 500, channels: 3 },
      { width: 256, height: 256, channels: 4 },
      { width: 400, height: 400, channels: 3 },
      { width: 37, height: 23, channels: 3 },
    ]);
  });

  it('keep their pixels: the lossless PNG exactly (checker colours, two alpha halves), the gradient JPEG closely', async () => {
    const samples = await sampleImages();
    const png = await decode(samples[2]!.bytes);
    const at = (x: number, y: number): number[] => {
      const i = (y * png.info.width + x) * 4;
      return [...png.data.subarray(i, i + 4)];
    };
    expect(at(0, 0)).toEqual([220, 160, 100, 255]);
    expect(at(32, 0)).toEqual([30, 70, 110, 255]);
    expect(at(200, 0)).toEqual([220, 160, 100, 96]);
    expect(at(224, 0)).toEqual([30, 70, 110, 96]);

    const jpeg = await decode(samples[0]!.bytes);
    const corner = (x: number, y: number): number[] => {
      const i = (y * jpeg.info.width + x) * 3;
      return [...jpeg.data.subarray(i, i + 3)];
    };
    for (const v of corner(0, 0)) expect(v).toBeLessThan(16);
    for (const v of corner(639, 479)) expect(v).toBeGreaterThan(239);
  });

  it('fails when an image is cut short, though its header still reads', async () => {
    const jpeg = (await sampleImages())[0]!.bytes;
    const cut = jpeg.subarray(0, Math.floor(jpeg.length / 2));
    expect((await sharp(cut).metadata()).width).toBe(640);
    await expect(decode(cut)).rejects.toThrow();
  });

  it('are generated once per process', async () => {
    expect(await sampleImages()).toBe(await sampleImages());
  });
});
