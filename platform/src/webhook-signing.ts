import { createHmac } from 'node:crypto';

// Standard Webhooks signing (https://www.standardwebhooks.com), shared by every process that signs:
// the scheduler's calls and the planner's notifications sign the same way, so a receiver verifies
// both with one library. (The scheduler node still carries its own copy in
// services/scheduler/src/signing.ts; it can import these instead.)

/** The Standard Webhooks headers a signed call carries. */
export const WEBHOOK_HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

/**
 * The `webhook-signature` value: one `v1,<base64 HMAC-SHA256>` entry per secret, space-separated,
 * in the order given, each over `<webhook id>.<timestamp>.<body>` with the body's exact bytes.
 * Pure; executes nothing.
 */
export function signWebhook(webhookId: string, timestampSeconds: number, body: Uint8Array, secrets: readonly Uint8Array[]): string {
  // The spec forbids "." in the id and timestamp: it would let one signed message pass for another.
  if (webhookId.includes('.') || webhookId === '') throw new TypeError(`webhook id must be non-empty and without ".", got "${webhookId}"`);
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) throw new TypeError(`webhook timestamp must be whole unix seconds, got ${timestampSeconds}`);
  const prefix = Buffer.from(`${webhookId}.${timestampSeconds}.`);
  return secrets.map((secret) => `v1,${createHmac('sha256', secret).update(prefix).update(body).digest('base64')}`).join(' ');
}

/**
 * The three headers of a signed call added to `headers`, replacing any of those names already there,
 * whatever their case (a header written by someone else must not smuggle a second signature in).
 * Pure; executes nothing.
 */
export function withWebhookHeaders(headers: Record<string, string>, webhookId: string, timestampSeconds: number, body: Uint8Array, secrets: readonly Uint8Array[]): Record<string, string> {
  const kept = Object.fromEntries(Object.entries(headers).filter(([name]) => !(WEBHOOK_HEADERS as readonly string[]).includes(name.toLowerCase())));
  return {
    ...kept,
    'webhook-id': webhookId,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': signWebhook(webhookId, timestampSeconds, body, secrets),
  };
}
