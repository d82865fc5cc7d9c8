// Standard Webhooks signing: the endpoint secret (`whsec_` + base64 of random bytes) and the three
// headers of a delivery. The HMAC itself is the `standardwebhooks` package's, so what a receiver
// verifies with the same package is what we sign, byte for byte.
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** 32 bytes: the specification asks for at least 24 (192 bits). */
export const SECRET_BYTES = 32;

export function createSecret(): string {
  return `whsec_${randomBytes(SECRET_BYTES).toString('base64')}`;
}

export interface SignatureHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * The headers for one attempt of `messageId` with exactly `body` (the bytes sent must be the bytes
 * signed). The timestamp is the attempt's, not the event's, so a receiver's replay window holds.
 */
export function signatureHeaders(secret: string, messageId: string, at: Date, body: string): SignatureHeaders {
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(messageId, at, body),
  };
}
