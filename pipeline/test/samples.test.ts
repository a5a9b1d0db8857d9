import sharp from 'sharp';
import { sampleImages } from '../src/samples';

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
    for (const s of samples) {
      const meta = await sharp(s.bytes).metadata();
      expect(`image/${meta.format}`).toBe(s.contentType);
    }
    expect((await sharp(samples[2]!.bytes).metadata()).hasAlpha).toBe(true);
  });

  it('are generated once per process', async () => {
    expect(await sampleImages()).toBe(await sampleImages());
  });
});
