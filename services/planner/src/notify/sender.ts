import type { lookup } from 'node:dns';
import { Agent, request } from 'undici';
import type { ClaimedDelivery } from '@tickwise/db';
import { checkTarget, DEFAULT_TARGET_POLICY, isTickwiseError, parseRetryAfter, policyLookup, TARGET_DENIED, withWebhookHeaders, type TargetPolicy } from '@tickwise/platform';
import { slackPayload, type WebhookPayload } from './payloads.ts';

/** How one attempt went; `permanent`: trying again cannot help (the target policy refuses it). */
export type SendResult =
  | { ok: true; httpStatus: number }
  | { ok: false; permanent: boolean; httpStatus: number | null; error: string; retryAfterMs: number | null };

/** The most of a refusing answer kept in the delivery's last error. */
const ERROR_BODY_CHARS = 200;

/**
 * The bytes and headers of one attempt: the webhook body as stored, or Slack's payload made from it;
 * a webhook is signed (Standard Webhooks, `webhook-id` = the delivery id, the same on every attempt)
 * when the tenant has signing secrets. Pure; executes nothing.
 */
export function requestOf(delivery: Pick<ClaimedDelivery, 'id' | 'notificationId' | 'channel' | 'payload'>, secrets: readonly Uint8Array[], timestampSeconds: number): { body: Buffer; headers: Record<string, string> } {
  const payload = delivery.payload as unknown as WebhookPayload;
  const body = Buffer.from(JSON.stringify(delivery.channel === 'slack' ? slackPayload(payload) : payload));
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'Tickwise-Notifications/1',
    // The same on every attempt, so a receiver can drop a repeat whether or not it is signed.
    'idempotency-key': delivery.id,
    'x-tickwise-notification': delivery.notificationId,
  };
  if (delivery.channel === 'webhook' && secrets.length > 0) return { body, headers: withWebhookHeaders(headers, delivery.id, timestampSeconds, body, secrets) };
  return { body, headers };
}

/**
 * Sends notifications: one POST per attempt, never throwing. The target policy is checked on the
 * URL first, then on every address the name resolves to when connecting (so a name re-pointed at a
 * denied address after the job was written is still refused). A 2xx answer is `ok`.
 */
export class NotificationSender {
  private readonly agent: Agent;

  /** `resolve`: how names are resolved (default `dns.lookup`; tests give a fake resolver to check the connection-time policy). */
  constructor(private readonly options: { policy?: TargetPolicy; timeoutMs: number; resolve?: typeof lookup }) {
    this.agent = new Agent({ connections: 16, keepAliveTimeout: 10_000, connect: { lookup: policyLookup(options.policy ?? DEFAULT_TARGET_POLICY, options.resolve) } });
  }

  async send(delivery: ClaimedDelivery, secrets: readonly Uint8Array[]): Promise<SendResult> {
    let verdict;
    try {
      verdict = checkTarget(delivery.url, this.options.policy ?? DEFAULT_TARGET_POLICY);
    } catch (error) {
      return { ok: false, permanent: true, httpStatus: null, error: (error as Error).message, retryAfterMs: null };
    }
    if (!verdict.allowed) return { ok: false, permanent: true, httpStatus: null, error: verdict.message, retryAfterMs: null };
    const { body, headers } = requestOf(delivery, secrets, Math.floor(Date.now() / 1000));
    try {
      const response = await request(delivery.url, {
        method: 'POST',
        headers,
        body,
        dispatcher: this.agent,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      const text = (await response.body.text()).slice(0, ERROR_BODY_CHARS);
      if (response.statusCode >= 200 && response.statusCode < 300) return { ok: true, httpStatus: response.statusCode };
      return {
        ok: false,
        permanent: false,
        httpStatus: response.statusCode,
        error: `HTTP ${response.statusCode}${text.trim() ? `: ${text.trim()}` : ''}`,
        retryAfterMs: parseRetryAfter(response.headers['retry-after'], Date.now()),
      };
    } catch (error) {
      return { ok: false, permanent: deniedBy(error), httpStatus: null, error: describeFailure(error, this.options.timeoutMs), retryAfterMs: null };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function deniedBy(error: unknown): boolean {
  for (let cause: unknown = error, depth = 0; cause && depth < 5; cause = (cause as { cause?: unknown }).cause, depth++) {
    if (isTickwiseError(cause) && cause.reason === TARGET_DENIED) return true;
  }
  return false;
}

/** One line for the delivery's last error: the policy's words, a timeout, or the network error's code and message. */
function describeFailure(error: unknown, timeoutMs: number): string {
  for (let cause: unknown = error, depth = 0; cause && depth < 5; cause = (cause as { cause?: unknown }).cause, depth++) {
    if (isTickwiseError(cause) && cause.reason === TARGET_DENIED) return cause.message;
    const name = (cause as { name?: unknown }).name;
    if (name === 'TimeoutError' || name === 'HeadersTimeoutError' || name === 'BodyTimeoutError') return `timeout: no complete answer within ${timeoutMs}ms`;
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('E') && !code.startsWith('ERR_')) return `${code}: ${(cause as Error).message}`.slice(0, 300);
  }
  return ((error as Error)?.message ?? String(error)).slice(0, 300);
}
