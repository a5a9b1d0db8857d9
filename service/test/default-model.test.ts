/**
 * @jest-environment ./test/support/ort-environment.js
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Classifier } from '../src/classifier';
import { buildDefaultModel } from '../src/model/default-model';
import { sha256Hex } from '../src/model/format';
import { writeModelDir } from '../src/model/onnx-builder';
import { tempDir } from './helpers';

const REPO_ROOT = join(__dirname, '..', '..');

/** A flat-colour PNG of the given RGB. */
function flat([r, g, b]: readonly [number, number, number]): Promise<Buffer> {
  return sharp({ create: { width: 40, height: 30, channels: 3, background: { r, g, b } } })
    .png()
    .toBuffer();
}

describe('the default model (designed weights)', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  test('its bytes are deterministic and are the ones the committed pins name', () => {
    const sha = sha256Hex(buildDefaultModel().onnx);
    expect(sha256Hex(buildDefaultModel().onnx)).toBe(sha);
    for (const env of ['local', 'staging', 'production']) {
      const pin = JSON.parse(
        readFileSync(join(REPO_ROOT, 'charts', 'environments', `${env}.model.json`), 'utf8'),
      ) as { sha256: string };
      expect(pin.sha256).toBe(sha);
    }
  });

  test('answers the first label for bright red, the second for dark red; the seed changes bytes, not answers', async () => {
    const small = { inputSize: 32, channels: [4, 4, 4] as const, hidden: 8 };
    const a = buildDefaultModel({ ...small, seed: 1 });
    const b = buildDefaultModel({ ...small, seed: 2 });
    expect(sha256Hex(a.onnx)).not.toBe(sha256Hex(b.onnx));
    writeModelDir(join(tmp.dir, 'a'), a);
    writeModelDir(join(tmp.dir, 'b'), b);
    const ca = await Classifier.open(join(tmp.dir, 'a'));
    const cb = await Classifier.open(join(tmp.dir, 'b'));
    try {
      for (const [rgb, label] of [
        [[230, 20, 200], 'cat'],
        [[180, 250, 0], 'cat'],
        [[40, 200, 60], 'dog'],
        [[90, 10, 250], 'dog'],
      ] as const) {
        const image = await flat(rgb);
        const ra = await ca.classify(image);
        const rb = await cb.classify(image);
        expect(ra.label).toBe(label);
        expect(ra.score).toBeGreaterThan(0.9);
        expect(rb).toEqual(ra);
      }
    } finally {
      await ca.close();
      await cb.close();
    }
  });
});
