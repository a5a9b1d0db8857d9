import { createHmac } from 'node:crypto';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { generateImage } from '../../../bench/src/harness';
import { seededRandom } from '../../../service/src/model/builders';

/** One hostile request. */
export interface HostileRequest {
  /** What kind of abuse this is (for the report). */
  readonly kind: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  /**
   * The server may legitimately answer early and close (oversized body or headers), so the client can
   * see a reset while still writing; such a reset is not a failure.
   */
  readonly mayReset?: boolean;
}

/** Seeded helpers shared by the generators. */
export class Rng {
  private readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = seededRandom(seed);
  }
  /** Uniform in [0, 1). */
  float(): number {
    return this.next();
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
}

/** Valid sample images the mutations start from. */
export interface Seeds {
  readonly jpeg: Buffer;
  readonly png: Buffer;
  readonly webp: Buffer;
  /** A real PNG of 5000x5000 pixels of one colour: ~25 M pixels (under the service's default limit) in a few KiB. */
  readonly bigFlatPng: Buffer;
}

/** Builds the seed images (deterministic). */
export async function makeSeeds(): Promise<Seeds> {
  const [jpeg, png, webp] = await Promise.all([
    generateImage({ format: 'jpeg', width: 320, height: 240 }, 11),
    generateImage({ format: 'png', width: 160, height: 120 }, 12),
    generateImage({ format: 'webp', width: 320, height: 240 }, 13),
  ]);
  const bigFlatPng = await sharp({
    create: { width: 5000, height: 5000, channels: 3, background: { r: 40, g: 90, b: 200 } },
  })
    .png({ compressionLevel: 9 })
    .toBuffer();
  return { jpeg: jpeg.bytes, png: png.bytes, webp: webp.bytes, bigFlatPng };
}

/** A PNG whose IHDR declares `width`x`height` (valid CRC) but whose data is a few bytes: a decompression bomb's header. */
export function forgedPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const idat = Buffer.from([0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A copy of a baseline JPEG whose SOF0 frame header claims `width`x`height`. */
export function forgedJpeg(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i + 9 < out.length;) {
    if (out[i] !== 0xff) break;
    const marker = out[i + 1];
    const len = out.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc3) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
    i += 2 + len;
  }
  throw new Error('no SOF marker found');
}

function flipBytes(rng: Rng, src: Buffer, flips: number): Buffer {
  const out = Buffer.from(src);
  for (let i = 0; i < flips; i++) out[rng.int(0, out.length - 1)] = rng.int(0, 255);
  return out;
}

function nestedJson(depth: number, open: string, close: string): Buffer {
  return Buffer.from(open.repeat(depth) + close.repeat(depth));
}

const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'application/octet-stream'];

/** One hostile /predict request, chosen by the seeded generator. */
export function hostilePredict(rng: Rng, seeds: Seeds, maxBodyBytes: number): HostileRequest {
  const raw = (
    kind: string,
    body: Buffer,
    type = rng.pick(IMAGE_TYPES),
    mayReset = false,
  ): HostileRequest => ({
    kind,
    method: 'POST',
    path: '/predict',
    headers: { 'content-type': type },
    body,
    mayReset,
  });
  const json = (kind: string, body: Buffer, mayReset = false): HostileRequest =>
    raw(kind, body, 'application/json', mayReset);
  const img = rng.pick([seeds.jpeg, seeds.png, seeds.webp]);
  switch (rng.int(0, 19)) {
    case 0:
    case 1:
      return raw('random bytes as image', rng.bytes(rng.int(0, 32 * 1024)));
    case 2:
      return raw('empty body', Buffer.alloc(0));
    case 3:
    case 4:
      return raw('truncated image', img.subarray(0, rng.int(1, img.length - 1)));
    case 5:
    case 6:
      return raw('corrupted image (byte flips)', flipBytes(rng, img, rng.int(1, 64)));
    case 7:
      return raw('image magic + garbage', Buffer.concat([img.subarray(0, 16), rng.bytes(rng.int(1, 4096))]));
    case 8:
      return raw('decompression bomb header (PNG 100000x100000)', forgedPng(100_000, 100_000));
    case 9:
      return raw('decompression bomb header (JPEG 65000x65000)', forgedJpeg(seeds.jpeg, 65_000, 65_000));
    case 10:
      return raw('flat 5000x5000 PNG (25 M pixels in a few KiB)', seeds.bigFlatPng, 'image/png');
    case 11:
      return raw(
        'body over MAX_BODY_BYTES',
        Buffer.alloc(maxBodyBytes + rng.int(1, 4096), 0xff),
        'image/jpeg',
        true,
      );
    case 12:
      return raw(
        'image under a wrong content type',
        img,
        rng.pick(['text/plain', 'image/gif', 'application/xml', '']),
      );
    case 13:
      return json('deeply nested JSON', nestedJson(rng.int(1000, 200_000), rng.pick(['[', '{"a":']), ']'));
    case 14: {
      const body = Buffer.from(
        JSON.stringify({ instances: [{ b64: 'A'.repeat(rng.int(1, 4) * 1024 * 1024 + 1) }] }),
      );
      return json('huge JSON string', body, body.length > maxBodyBytes);
    }
    case 15:
      return json(
        'invalid base64',
        Buffer.from(
          JSON.stringify({
            instances: [{ b64: rng.pick(['***', 'abc', '====', 'A'.repeat(5), '\u0000\u0001', '@@@@']) }],
          }),
        ),
      );
    case 16:
      return json(
        'base64 of random bytes / wrong JSON shapes',
        Buffer.from(
          rng.pick([
            JSON.stringify({ instances: [{ b64: rng.bytes(rng.int(1, 2048)).toString('base64') }] }),
            JSON.stringify({ instances: Array.from({ length: rng.int(33, 300) }, () => ({ b64: 'AAAA' })) }),
            JSON.stringify({ instances: 'x' }),
            JSON.stringify([1, 2, 3]),
            'null',
            '{"instances":[{"b64":"AAAA"}]',
            '\u0000'.repeat(10),
          ]),
        ),
      );
    case 17: {
      const boundary = `b${rng.int(0, 1e9)}`;
      const body = rng.pick([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="f"; filename="x.jpg"\r\n\r\n`),
        Buffer.concat([Buffer.from(`--${boundary}\r\n`), rng.bytes(rng.int(1, 2048))]),
        Buffer.from(
          Array.from(
            { length: 300 },
            () => `--${boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n`,
          ).join('') + `--${boundary}--\r\n`,
        ),
      ]);
      return raw(
        'malformed multipart',
        body,
        rng.pick([`multipart/form-data; boundary=${boundary}`, 'multipart/form-data']),
      );
    }
    case 18:
      return {
        kind: 'huge header',
        method: 'POST',
        path: '/predict',
        headers: { 'content-type': 'image/jpeg', 'x-junk': 'x'.repeat(rng.int(17, 200) * 1024) },
        body: seeds.jpeg,
        mayReset: true,
      };
    default:
      return {
        kind: 'many headers / hostile request id',
        method: 'POST',
        path: `/predict?top_k=${rng.pick(['-1', '1e9', 'abc', '99999999999', '%00', ''])}`,
        headers: {
          'content-type': 'image/jpeg',
          'x-request-id': rng.pick(['../../etc/passwd', 'a'.repeat(5000), '\u00ff\u00fe', 'ok-id']),
          ...Object.fromEntries(Array.from({ length: rng.int(1, 90) }, (_, i) => [`x-h${i}`, 'v'])),
        },
        body: seeds.jpeg,
      };
  }
}

/** One hostile /feedback request. */
export function hostileFeedback(rng: Rng): HostileRequest {
  const json = (
    kind: string,
    body: Buffer | string,
    type = 'application/json',
    mayReset = false,
  ): HostileRequest => ({
    kind,
    method: 'POST',
    path: '/feedback',
    headers: { 'content-type': type },
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    mayReset,
  });
  switch (rng.int(0, 7)) {
    case 0:
      return json('random bytes as JSON', rng.bytes(rng.int(0, 4096)));
    case 1:
      // Deep, but under the 64 KiB /feedback cap (at most 4 500 x 14 bytes): this case is about nesting; a body
      // over the cap, which the service may refuse before it has all been sent, is case 2.
      return json('deeply nested JSON', nestedJson(rng.int(1000, 4500), '{"requestId":', '}'));
    case 2:
      return json(
        'body over the feedback cap',
        Buffer.from(`{"requestId":"${'a'.repeat(200_000)}"}`),
        'application/json',
        true,
      );
    case 3:
      return json(
        'wrong field types',
        JSON.stringify(
          rng.pick([
            { requestId: 1, label: 'cat' },
            { requestId: 'x', label: ['cat'] },
            { requestId: 'x', label: 'cat', extra: true },
            { requestId: 'x'.repeat(1000), label: 'cat' },
            {},
          ]),
        ),
      );
    case 4:
      return json(
        'unknown prediction / label',
        JSON.stringify({ requestId: `id-${rng.int(0, 1e9)}`, label: rng.pick(['cat', 'dog', 'zebra', '']) }),
      );
    case 5:
      return json(
        'not JSON',
        rng.pick(['{', 'requestId=1', '\u0000', '[]']),
        rng.pick(['text/plain', 'application/json']),
      );
    case 6:
      return json(
        'prototype pollution attempt',
        '{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},"requestId":"a","label":"cat"}',
      );
    default:
      return json(
        'huge number / unicode',
        `{"requestId":"\\ud800","label":"${'\u202e'.repeat(50)}","predictedLabel":1e999}`,
      );
  }
}

/** Signs a relay delivery the way MLflow does (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body`). */
export function signDelivery(secret: string, id: string, timestamp: string, body: Buffer): string {
  return `v1,${createHmac('sha256', secret).update(`${id}.${timestamp}.`).update(body).digest('base64')}`;
}

/** One hostile webhook delivery for the relay; some are correctly signed so the payload parser is reached. */
export function hostileRelay(rng: Rng, secret: string, path: string, maxBodyBytes: number): HostileRequest {
  const id = `d-${rng.int(0, 1e12)}`;
  const now = String(Math.floor(Date.now() / 1000));
  const bodies = [
    rng.bytes(rng.int(0, 2048)),
    nestedJson(rng.int(1000, 100_000), '{"data":', '}'),
    Buffer.from(
      JSON.stringify({
        entity: 'model_version_alias',
        action: 'created',
        data: { name: 'x'.repeat(10_000) },
      }),
    ),
    Buffer.from(
      JSON.stringify({
        entity: 'model_version_alias',
        action: 'created',
        data: { name: 'other-model', alias: 'production', version: '3' },
      }),
    ),
    Buffer.from(JSON.stringify({ entity: 1, action: null, data: [] })),
    Buffer.from(
      '{"entity":"model_version_alias","action":"created","data":{"name":"cats-dogs-classifier","alias":"production","version":"-1"}}',
    ),
  ];
  const body = rng.pick(bodies);
  const signed = signDelivery(secret, id, now, body);
  const base = { method: 'POST', path, body };
  switch (rng.int(0, 6)) {
    case 0:
      return { ...base, kind: 'relay: no signature', headers: { 'content-type': 'application/json' } };
    case 1:
      return {
        ...base,
        kind: 'relay: wrong signature',
        headers: {
          'content-type': 'application/json',
          'x-mlflow-signature': rng.pick([
            'v1,' + rng.bytes(32).toString('base64'),
            'garbage',
            'v1,',
            'v2,' + signed.slice(3),
          ]),
          'x-mlflow-delivery-id': id,
          'x-mlflow-timestamp': now,
        },
      };
    case 2:
      return {
        ...base,
        kind: 'relay: malformed headers',
        headers: {
          'content-type': 'application/json',
          'x-mlflow-signature': signed,
          'x-mlflow-delivery-id': rng.pick(['', 'a b', 'x'.repeat(500), id]),
          'x-mlflow-timestamp': rng.pick(['', 'yesterday', '-1', '9'.repeat(30), now]),
        },
      };
    case 3:
      return {
        ...base,
        kind: 'relay: replayed (old timestamp)',
        headers: {
          'content-type': 'application/json',
          'x-mlflow-signature': signDelivery(secret, id, '1000000000', body),
          'x-mlflow-delivery-id': id,
          'x-mlflow-timestamp': '1000000000',
        },
      };
    case 4: {
      const big = Buffer.alloc(maxBodyBytes + rng.int(1, 4096), 0x7b);
      return {
        kind: 'relay: body over the cap',
        method: 'POST',
        path,
        body: big,
        headers: {
          'content-type': 'application/json',
          'x-mlflow-signature': signDelivery(secret, id, now, big),
          'x-mlflow-delivery-id': id,
          'x-mlflow-timestamp': now,
        },
        mayReset: true,
      };
    }
    default:
      return {
        ...base,
        kind: 'relay: signed hostile payload',
        headers: {
          'content-type': rng.pick(['application/json', 'text/plain', '']),
          'x-mlflow-signature': signed,
          'x-mlflow-delivery-id': id,
          'x-mlflow-timestamp': now,
        },
      };
  }
}
