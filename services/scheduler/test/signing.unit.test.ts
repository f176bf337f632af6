import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatSigningSecret, parseSigningSecret } from '@tickwise/catalog';
import { verifyWebhook, WebhookVerificationError } from '../../../docs/snippets/verify-webhook.ts';
import { createPool } from '@tickwise/db';
import { signWebhook, withWebhookHeaders } from '@tickwise/platform';
import { SigningSecretCache } from '../src/signing.ts';

// The Standard Webhooks specification's published test vector.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookVerificationError);
    return (error as Error).message;
  }
  throw new Error('expected the snippet to refuse');
}

describe('signing (Standard Webhooks)', () => {
  const key = parseSigningSecret(VECTOR.secret);

  it('reproduces the specification test vector', () => {
    expect(signWebhook(VECTOR.id, VECTOR.timestamp, Buffer.from(VECTOR.body), [key])).toBe(VECTOR.signature);
  });

  it('signs once per secret, space-separated, in the order given', () => {
    const other = Buffer.alloc(32, 7);
    const both = signWebhook('a:1', 1, Buffer.from('{}'), [other, key]).split(' ');
    expect(both).toEqual([signWebhook('a:1', 1, Buffer.from('{}'), [other]), signWebhook('a:1', 1, Buffer.from('{}'), [key])]);
    expect(signWebhook('a:1', 1, Buffer.from('{}'), [])).toBe('');
  });

  it('refuses an id with "." or empty, and a timestamp that is not whole seconds', () => {
    expect(() => signWebhook('a.b', 1, Buffer.alloc(0), [key])).toThrow('webhook id must be non-empty and without ".", got "a.b"');
    expect(() => signWebhook('', 1, Buffer.alloc(0), [key])).toThrow('webhook id must be non-empty and without ".", got ""');
    expect(() => signWebhook('a', 1.5, Buffer.alloc(0), [key])).toThrow('webhook timestamp must be whole unix seconds, got 1.5');
  });

  it('refuses a cache refresh interval that is not a positive whole number of ms', async () => {
    const pool = createPool({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
    expect(() => new SigningSecretCache(pool, { refreshMs: 0 })).toThrow('refreshMs must be a positive whole number of ms, got 0');
    expect(() => new SigningSecretCache(pool, { refreshMs: 1.5 })).toThrow('refreshMs must be a positive whole number of ms, got 1.5');
    await pool.end();
  });

  it('replaces webhook-* headers of any case and keeps the others', () => {
    const headers = withWebhookHeaders({ 'Webhook-Signature': 'v1,forged', 'WEBHOOK-ID': 'x', 'x-team': 'billing' }, 'e:1', 5, Buffer.from('{}'), [key]);
    expect(Object.keys(headers).sort()).toEqual(['webhook-id', 'webhook-signature', 'webhook-timestamp', 'x-team']);
    expect(headers).toMatchObject({ 'webhook-id': 'e:1', 'webhook-timestamp': '5', 'x-team': 'billing' });
  });
});

describe('the documented verify snippet', () => {
  const headers = (overrides: Record<string, string> = {}) => ({ 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestamp), 'webhook-signature': VECTOR.signature, ...overrides });
  const at = { nowSeconds: VECTOR.timestamp + 10 };

  it('is included verbatim in docs/webhooks.md', () => {
    const snippet = readFileSync(new URL('../../../docs/snippets/verify-webhook.ts', import.meta.url), 'utf8');
    const doc = readFileSync(new URL('../../../docs/webhooks.md', import.meta.url), 'utf8');
    expect(doc).toContain('```ts\n' + snippet + '```');
  });

  it('accepts the specification vector (string or Buffer body, fetch Headers, secret with or without prefix) and returns the id', () => {
    expect(verifyWebhook(VECTOR.secret, headers(), VECTOR.body, at)).toBe(VECTOR.id);
    expect(verifyWebhook(VECTOR.secret.slice('whsec_'.length), headers(), Buffer.from(VECTOR.body), at)).toBe(VECTOR.id);
    expect(verifyWebhook(VECTOR.secret, new Headers(headers()), VECTOR.body, at)).toBe(VECTOR.id);
    expect(verifyWebhook(['whsec_' + Buffer.alloc(32, 1).toString('base64'), VECTOR.secret], headers({ 'webhook-signature': `v1a,xyz ${VECTOR.signature}` }), VECTOR.body, at)).toBe(VECTOR.id);
  });

  it('refuses a tampered body, id or timestamp, a wrong secret, old or future calls and missing headers', () => {
    expect(refusal(() => verifyWebhook(VECTOR.secret, headers(), '{"test": 1}', at))).toBe('no signature matches');
    expect(refusal(() => verifyWebhook(VECTOR.secret, headers({ 'webhook-id': 'msg_other' }), VECTOR.body, at))).toBe('no signature matches');
    expect(refusal(() => verifyWebhook(VECTOR.secret, headers({ 'webhook-timestamp': String(VECTOR.timestamp + 1) }), VECTOR.body, at))).toBe('no signature matches');
    expect(refusal(() => verifyWebhook('whsec_' + Buffer.alloc(24, 9).toString('base64'), headers(), VECTOR.body, at))).toBe('no signature matches');
    expect(refusal(() => verifyWebhook(VECTOR.secret, headers({ 'webhook-signature': 'v1,short' }), VECTOR.body, at))).toBe('no signature matches');
    expect(refusal(() => verifyWebhook(VECTOR.secret, headers(), VECTOR.body, { nowSeconds: VECTOR.timestamp + 301 }))).toBe('webhook-timestamp is outside the tolerance');
    expect(refusal(() => verifyWebhook(VECTOR.secret, headers(), VECTOR.body, { nowSeconds: VECTOR.timestamp - 301 }))).toBe('webhook-timestamp is outside the tolerance');
    expect(refusal(() => verifyWebhook(VECTOR.secret, headers({ 'webhook-timestamp': '16e8' }), VECTOR.body, at))).toBe('webhook-timestamp is not unix seconds');
    expect(refusal(() => verifyWebhook(VECTOR.secret, headers({ 'webhook-signature': '' }), VECTOR.body, at))).toBe('missing header webhook-signature');
  });
});

describe('secret format (whsec_)', () => {
  it('round-trips key bytes', () => {
    const key = Buffer.alloc(40, 3);
    expect(parseSigningSecret(formatSigningSecret(key))).toEqual(key);
  });

  it.each([
    ['whsec_not base64!', 'signing secret must be "whsec_" followed by base64'],
    ['whsec_abc', 'signing secret must be "whsec_" followed by base64'],
    ['whsec_' + Buffer.alloc(23).toString('base64'), 'signing secret must hold 24 to 64 bytes, got 23'],
    ['whsec_' + Buffer.alloc(65).toString('base64'), 'signing secret must hold 24 to 64 bytes, got 65'],
  ])('refuses %s', (text, message) => {
    expect(() => parseSigningSecret(text)).toThrow(expect.objectContaining({ code: 'invalid_argument', reason: 'invalid_secret', message }));
  });
});
