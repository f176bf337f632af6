import { createHmac, timingSafeEqual } from 'node:crypto';

export class WebhookVerificationError extends Error {}

/**
 * Verifies a call signed by Tickwise (Standard Webhooks). `secrets`: your whsec_… secret(s); give
 * the old and the new one while you roll over. `headers`: the request headers (Node's
 * `request.headers`, or a fetch `Headers`). `body`: the raw body exactly as received; never
 * re-serialised JSON. Returns the webhook-id, the key to drop repeats on (the same for every attempt
 * at the same slot). Throws WebhookVerificationError otherwise.
 */
export function verifyWebhook(
  secrets: string | string[],
  headers: Headers | Record<string, string | string[] | undefined>,
  body: Buffer | string,
  { toleranceSeconds = 300, nowSeconds = Math.floor(Date.now() / 1000) } = {},
): string {
  const header = (name: string): string => {
    const value = headers instanceof Headers ? headers.get(name) : headers[name];
    if (typeof value !== 'string' || value === '') throw new WebhookVerificationError(`missing header ${name}`);
    return value;
  };
  const id = header('webhook-id');
  const timestamp = header('webhook-timestamp');
  const signatures = header('webhook-signature').split(' ');
  if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError('webhook-timestamp is not unix seconds');
  // Refuse old (replayed) and future-dated calls.
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) throw new WebhookVerificationError('webhook-timestamp is outside the tolerance');
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), Buffer.from(body)]);
  for (const secret of Array.isArray(secrets) ? secrets : [secrets]) {
    const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
    const expected = createHmac('sha256', key).update(signed).digest();
    for (const entry of signatures) {
      const [version, signature = ''] = entry.split(',');
      const given = Buffer.from(signature, 'base64');
      if (version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected)) return id;
    }
  }
  throw new WebhookVerificationError('no signature matches');
}
