import { createHmac, timingSafeEqual } from 'node:crypto';

/** Version prefix MLflow puts before the base64 HMAC in `X-MLflow-Signature`. */
const SIGNATURE_PREFIX = 'v1,';

/**
 * The `X-MLflow-Signature` value MLflow sends: `v1,` + base64(HMAC-SHA256(secret,
 * `${deliveryId}.${timestamp}.${rawBody}`)).
 */
export function signMlflowDelivery(
  secret: string,
  deliveryId: string,
  timestamp: string,
  rawBody: Buffer,
): string {
  const mac = createHmac('sha256', secret)
    .update(`${deliveryId}.${timestamp}.`, 'utf8')
    .update(rawBody)
    .digest('base64');
  return SIGNATURE_PREFIX + mac;
}

/**
 * Checks a received `X-MLflow-Signature` in constant time. Values of the wrong length or without the
 * `v1,` prefix are rejected without comparing (the expected length is public, the digest is not).
 */
export function verifyMlflowSignature(
  secret: string,
  deliveryId: string,
  timestamp: string,
  rawBody: Buffer,
  received: string,
): boolean {
  const expected = Buffer.from(signMlflowDelivery(secret, deliveryId, timestamp, rawBody), 'utf8');
  const actual = Buffer.from(received, 'utf8');
  if (actual.length !== expected.length) return false;
  return timingSafeEqual(actual, expected);
}
