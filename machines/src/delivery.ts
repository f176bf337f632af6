import { z } from 'zod';
import { formatDuration, parseDuration } from '@tickwise/platform/duration';
import { checkText } from './input-rules.ts';

/**
 * How a call is judged and retried within its slot: what counts as success, which failures are worth
 * another attempt and how long to wait before it, what happens to slots that fall due while a run is
 * still going, and when a failing endpoint is paused. The jobs-file keys `success`, `retry`,
 * `overlap` and `pauseAfter`.
 */

export const OVERLAP_POLICIES = ['queue', 'skip'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** Failures a retry policy may name besides HTTP statuses (`5xx`, `4xx`, `429`, ...). */
export const RETRY_FAILURES = ['timeout', 'network', 'assertion'] as const;
export const DEFAULT_RETRY_ON = ['5xx', '429', 'timeout', 'network'] as const;
export const MAX_ATTEMPTS = 10;
/** The longest Retry-After a node waits out before the next attempt or slot (a longer one is capped). */
export const MAX_HONOURED_RETRY_AFTER_MS = 3_600_000;
export const DEFAULT_RETRY_BACKOFF_MS = 1_000;
export const DEFAULT_RETRY_MAX_BACKOFF_MS = 30_000;
const MAX_BACKOFF_MS = 3_600_000;

/** Retries within one slot; every attempt carries the slot's Idempotency-Key. */
export interface RetryPolicy {
  /** Attempts per slot, the first included (1: no retry). */
  attempts: number;
  /** The wait before the second attempt; it doubles per attempt, with jitter, up to `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Which failures are retried: `5xx`, `4xx`, a status such as `429`, `timeout`, `network`, `assertion`. */
  on: string[];
}

/** What a successful answer is: a status in `status` (classes such as `2xx`, or codes) and, if set, a body containing `bodyContains`. */
export interface SuccessRule {
  status: string[];
  bodyContains?: string;
}

/** The error kinds of the dispatcher that `network` stands for. */
const NETWORK_KINDS = new Set(['connection_refused', 'connection_reset', 'dns', 'tls', 'network']);
const STATUS = /^([1-5]xx|[1-5]\d\d)$/;

/** A status as YAML gives it (304 or "2xx"), as the spec stores it ("304", "2xx"). */
const statusText = (what: string) =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const text = String(value).toLowerCase();
    if (!STATUS.test(text)) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not ${what}` });
      return z.NEVER;
    }
    return text;
  });

function durationField(fallback: number) {
  return z
    .string()
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined || ms < 1 || ms > MAX_BACKOFF_MS) {
        ctx.addIssue({ code: 'custom', message: `must be a duration from 1ms to ${formatDuration(MAX_BACKOFF_MS)}, such as 1s or 30s; got "${text}"` });
        return z.NEVER;
      }
      return ms;
    })
    .default(fallback);
}

export const retryInputSchema = z
  .strictObject({
    attempts: z.number().int().min(1).max(MAX_ATTEMPTS),
    backoff: durationField(DEFAULT_RETRY_BACKOFF_MS),
    maxBackoff: durationField(DEFAULT_RETRY_MAX_BACKOFF_MS),
    on: z
      .array(z.union([z.enum(RETRY_FAILURES), statusText('a status such as 503, a class such as 5xx, or timeout, network or assertion')]))
      .min(1)
      .default([...DEFAULT_RETRY_ON]),
  })
  .superRefine((retry, ctx) => {
    if (retry.maxBackoff < retry.backoff) {
      ctx.addIssue({ code: 'custom', path: ['maxBackoff'], message: `maxBackoff ${formatDuration(retry.maxBackoff)} is below backoff ${formatDuration(retry.backoff)}` });
    }
  })
  .transform((retry): RetryPolicy => ({ attempts: retry.attempts, backoffMs: retry.backoff, maxBackoffMs: retry.maxBackoff, on: [...new Set(retry.on)] }));

export const successInputSchema = z
  .strictObject({
    status: z.array(statusText('a status such as 200 or a class such as 2xx')).min(1).default(['2xx']),
    bodyContains: z.string().min(1).max(1_000).superRefine(checkText).optional(),
  })
  .transform((rule): SuccessRule => ({ status: [...new Set(rule.status)], ...(rule.bodyContains === undefined ? {} : { bodyContains: rule.bodyContains }) }));

export const pauseAfterSchema = z.number().int().min(1).max(100_000);

function statusMatches(rules: readonly string[], httpStatus: number): boolean {
  const code = String(httpStatus);
  return rules.some((rule) => rule === code || (rule.endsWith('xx') && rule[0] === code[0]));
}

/**
 * Whether an answer is a success: its status matches the rule (default `2xx`) and, when the rule
 * names one, the captured body (at most 64 KiB) contains the text. A failure says which rule it broke.
 * Pure.
 */
export function judgeAnswer(rule: SuccessRule | undefined, httpStatus: number, body: string | null): { ok: true } | { ok: false; kind: 'http_status' | 'assertion'; message: string } {
  const statuses = rule?.status ?? ['2xx'];
  if (!statusMatches(statuses, httpStatus)) {
    // An error status stays an HTTP failure (retried as 5xx, 429, ...); a status the target meant as
    // success but the rule does not accept (a 302, a 204) is the rule's own failure.
    const kind = httpStatus >= 400 ? 'http_status' : 'assertion';
    return { ok: false, kind, message: rule ? `HTTP ${httpStatus}: not a success status (${statuses.join(', ')})` : `HTTP ${httpStatus}` };
  }
  if (rule?.bodyContains !== undefined && !(body ?? '').includes(rule.bodyContains)) {
    return { ok: false, kind: 'assertion', message: `HTTP ${httpStatus}: the body does not contain ${JSON.stringify(rule.bodyContains)}` };
  }
  return { ok: true };
}

/** Whether a failed attempt is one the policy retries. Pure. */
export function isRetried(policy: RetryPolicy | undefined, failure: { errorKind: string | null; httpStatus: number | null }): boolean {
  if (!policy || policy.attempts <= 1) return false;
  const { errorKind, httpStatus } = failure;
  if (errorKind === 'timeout') return policy.on.includes('timeout');
  if (errorKind !== null && NETWORK_KINDS.has(errorKind)) return policy.on.includes('network');
  if (errorKind === 'assertion') return policy.on.includes('assertion');
  return httpStatus !== null && statusMatches(policy.on.filter((rule) => STATUS.test(rule)), httpStatus);
}

/**
 * The wait before attempt `next` (2, 3, ...): the backoff doubled per attempt up to `maxBackoffMs`,
 * half of it fixed and half random, so peers retrying together spread out; a Retry-After the
 * target asked for wins when it is longer. Pure; `random` in [0, 1).
 */
export function retryDelay(policy: RetryPolicy, next: number, random: () => number, retryAfterMs: number | null = null): number {
  const exponential = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** Math.max(0, next - 2));
  const jittered = Math.round(exponential / 2 + random() * (exponential / 2));
  return Math.max(jittered, retryAfterMs ?? 0);
}
