import crypto from 'node:crypto';
import { signMlflowDelivery, verifyMlflowSignature } from '../src/relay/signature';

// A delivery body in the exact form MLflow 3.6 sends, signed here with this test's own secret; the expected value was
// computed independently with Python's hmac module (same algorithm the recorded deliveries were checked with).
const BODY = Buffer.from(
  '{"entity": "model_version_alias", "action": "created", "timestamp": "2026-11-20T09:15:42.118204+00:00", "data": {"name": "cats-dogs-classifier", "alias": "production", "version": "4"}}',
);
const SECRET = 'signature-test-secret-91f3';
const ID = '2b7c1e0a-5d44-4f57-9a3e-7f1c0d9b6e21';
const TS = '1795180542';
const EXPECTED = 'v1,PG8kdoci4AJf/aowOMhCm1ViyFXK6cGHHlvHW+ACepE=';

describe('MLflow webhook signature', () => {
  test('is v1, + base64 HMAC-SHA256 over "<delivery id>.<timestamp>.<raw body>"', () => {
    expect(signMlflowDelivery(SECRET, ID, TS, BODY)).toBe(EXPECTED);
  });

  test('verifies the matching signature', () => {
    expect(verifyMlflowSignature(SECRET, ID, TS, BODY, EXPECTED)).toBe(true);
  });

  test.each([
    ['another delivery id', { id: ID.replace('2b', '3b') }],
    ['another timestamp', { ts: '1795180543' }],
    ['another secret', { secret: SECRET + 'x' }],
    ['a re-serialised body', { body: Buffer.from(JSON.stringify(JSON.parse(BODY.toString()))) }],
  ])('fails with %s', (_name, change: { id?: string; ts?: string; secret?: string; body?: Buffer }) => {
    expect(
      verifyMlflowSignature(
        change.secret ?? SECRET,
        change.id ?? ID,
        change.ts ?? TS,
        change.body ?? BODY,
        EXPECTED,
      ),
    ).toBe(false);
  });

  test.each([
    '',
    'v1,',
    EXPECTED.slice(0, -1),
    `${EXPECTED}=`,
    EXPECTED.replace('v1,', 'v2,'),
    'é'.repeat(100),
  ])('fails without throwing on malformed signature %#', (received) => {
    expect(verifyMlflowSignature(SECRET, ID, TS, BODY, received)).toBe(false);
  });

  test('compares in constant time: crypto.timingSafeEqual on equal-length buffers, for good and bad signatures', () => {
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    try {
      const wrong = EXPECTED.slice(0, -2) + (EXPECTED.endsWith('A=') ? 'B=' : 'A=');
      expect(verifyMlflowSignature(SECRET, ID, TS, BODY, EXPECTED)).toBe(true);
      expect(verifyMlflowSignature(SECRET, ID, TS, BODY, wrong)).toBe(false);
      expect(spy).toHaveBeenCalledTimes(2);
      for (const [a, b] of spy.mock.calls) expect((a as Buffer).length).toBe((b as Buffer).length);
    } finally {
      spy.mockRestore();
    }
  });
});
