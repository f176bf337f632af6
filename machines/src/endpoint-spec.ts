import { cronProblem } from './cron.ts';
import { z } from 'zod';
import { formatDuration, parseDuration } from '@tickwise/platform/duration';
import { OVERLAP_POLICIES, pauseAfterSchema, retryInputSchema, successInputSchema, type RetryPolicy, type SuccessRule } from './delivery.ts';
import { referenceProblemsOf, urlHasCredentials } from './secret-refs.ts';
import { forbiddenHeaderReason, headerValueProblem, INPUT_LIMITS, isHttpUrl, jsonValueProblems, urlTextProblem } from './input-rules.ts';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];
export const CATCH_UP_POLICIES = ['skip', 'once'] as const;
export type CatchUpPolicy = (typeof CATCH_UP_POLICIES)[number];

export const MIN_INTERVAL_MS = 100;
export const MAX_TIMEOUT_MS = 15 * 60_000;
/** The longest interval, clamp or pause a spec may state. */
export const MAX_INTERVAL_MS = 366 * 86_400_000;
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Headers the scheduler sets on every call; a spec may not override them. */
export const RESERVED_HEADERS = ['x-tickwise-endpoint', 'x-tickwise-run', 'x-tickwise-scheduled-at', 'x-tickwise-attempt', 'idempotency-key', 'webhook-id', 'webhook-timestamp', 'webhook-signature'];

export type Schedule =
  | { kind: 'every'; everyMs: number }
  | { kind: 'cron'; cron: string; timezone: string };

/** The normalised endpoint definition stored in `endpoints.spec`. */
export interface EndpointSpec {
  url: string;
  method: HttpMethod;
  headers: Record<string, string>;
  body?: unknown;
  schedule: Schedule;
  minIntervalMs?: number;
  maxIntervalMs?: number;
  /** Fraction of the interval (0..1) added as a random delay. */
  jitter: number;
  timeoutMs: number;
  catchUp: CatchUpPolicy;
  /** Retries within a slot; absent: one attempt. */
  retry?: RetryPolicy;
  /** What a successful answer is; absent: any 2xx. */
  success?: SuccessRule;
  /** `skip`: slots that fell due while a run was still going are skipped; absent: `queue` (run late, one at a time). */
  overlap?: 'skip';
  /** Consecutive failed slots before Tickwise pauses the endpoint; absent: never. */
  pauseAfter?: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const nameSchema = z
  .string()
  .regex(NAME, 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit');

function durationSchema(min: number, max: number) {
  return z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `invalid duration "${text}" (use e.g. 250ms, 30s, 5m, 1h)` });
      return z.NEVER;
    }
    if (ms < min) {
      ctx.addIssue({ code: 'custom', message: `duration "${text}" must be at least ${formatDuration(min)}` });
      return z.NEVER;
    }
    if (ms > max) {
      ctx.addIssue({ code: 'custom', message: `duration "${text}" must be at most ${formatDuration(max)}` });
      return z.NEVER;
    }
    return ms;
  });
}

export function isValidTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

const everySchema = z.strictObject({ every: durationSchema(MIN_INTERVAL_MS, MAX_INTERVAL_MS) });
const cronSchema = z.strictObject({ cron: z.string().min(1), timezone: z.string().default('UTC') }).superRefine((s, ctx) => {
  if (!isValidTimeZone(s.timezone)) {
    ctx.addIssue({ code: 'custom', path: ['timezone'], message: `unknown IANA time zone "${s.timezone}"` });
  }
  const problem = cronProblem(s.cron);
  if (problem === 'never fires') ctx.addIssue({ code: 'custom', path: ['cron'], message: `cron expression "${s.cron}" never fires` });
  else if (problem) ctx.addIssue({ code: 'custom', path: ['cron'], message: `invalid cron expression "${s.cron}": ${problem}` });
});

/** `{ every }` or `{ cron, timezone }`, told apart by key so errors name the real problem. */
const scheduleSchema = z.unknown().transform((value, ctx): Schedule => {
  const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
  const branch = isObject && 'every' in value ? everySchema : isObject && 'cron' in value ? cronSchema : undefined;
  if (!branch) {
    ctx.addIssue({ code: 'custom', message: 'must be { every: <duration> } or { cron: "<expression>", timezone: <IANA zone> }' });
    return z.NEVER;
  }
  const parsed = branch.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    return z.NEVER;
  }
  const data = parsed.data;
  return 'every' in data ? { kind: 'every', everyMs: data.every } : { kind: 'cron', cron: data.cron, timezone: data.timezone };
});

const jitterSchema = z.union([
  z.number().min(0).max(1),
  z.string().regex(/^\d+(\.\d+)?%$/, 'must be a percentage such as "10%"').transform((s) => Number(s.slice(0, -1)) / 100),
]).refine((fraction) => fraction <= 1, 'must be at most 100%');

/** The endpoint as a person writes it (jobs file, API); `toEndpointSpec` normalises it. */
export const endpointInputSchema = z
  .strictObject({
    name: nameSchema,
    url: z
      .string()
      .refine(isHttpUrl, 'must be an absolute http:// or https:// URL')
      .refine((url) => !urlHasCredentials(url), 'must not hold a user name or password (user:pass@ is never sent, and anyone who reads the endpoint would see it): send the credentials in a header with a secret instead, e.g. Authorization: Basic {{secrets.NAME}} (tickwise secrets set NAME)'),
    method: z.enum(HTTP_METHODS).default('GET'),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'is not a valid header name'), z.string())
      .default({})
      .superRefine((headers, ctx) => {
        const names = Object.keys(headers);
        if (names.length > INPUT_LIMITS.headersMax) ctx.addIssue({ code: 'custom', message: `must have at most ${INPUT_LIMITS.headersMax} entries` });
        for (const name of names) {
          if (RESERVED_HEADERS.includes(name.toLowerCase())) {
            ctx.addIssue({ code: 'custom', path: [name], message: `header "${name}" is set by Tickwise and cannot be overridden` });
          }
          const problem = name.length > INPUT_LIMITS.headerNameMax ? `header names must be at most ${INPUT_LIMITS.headerNameMax} characters` : (forbiddenHeaderReason(name) ?? headerValueProblem(headers[name]!));
          if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
        }
      }),
    body: z
      .unknown()
      .superRefine((body, ctx) => {
        if (body === undefined) return;
        const problems = jsonValueProblems(body);
        for (const problem of problems) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
        if (problems.length === 0 && new TextEncoder().encode(JSON.stringify(body)).length > INPUT_LIMITS.bodyMaxBytes) ctx.addIssue({ code: 'custom', message: `must be at most ${INPUT_LIMITS.bodyMaxBytes} bytes as JSON` });
      })
      .optional(),
    schedule: scheduleSchema,
    minInterval: durationSchema(MIN_INTERVAL_MS, MAX_INTERVAL_MS).optional(),
    maxInterval: durationSchema(MIN_INTERVAL_MS, MAX_INTERVAL_MS).optional(),
    jitter: jitterSchema.default(0),
    timeout: durationSchema(1, MAX_TIMEOUT_MS).default(DEFAULT_TIMEOUT_MS),
    catchUp: z.enum(CATCH_UP_POLICIES).default('skip'),
    retry: retryInputSchema.optional(),
    success: successInputSchema.optional(),
    overlap: z.enum(OVERLAP_POLICIES).default('queue'),
    pauseAfter: pauseAfterSchema.optional(),
  })
  .superRefine((e, ctx) => {
    for (const problem of referenceProblemsOf(e)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
    if (e.body !== undefined && e.method === 'GET') {
      ctx.addIssue({ code: 'custom', path: ['body'], message: 'a GET request cannot carry a body (use POST, PUT, PATCH or DELETE)' });
    }
    if (e.minInterval !== undefined && e.maxInterval !== undefined && e.minInterval > e.maxInterval) {
      ctx.addIssue({ code: 'custom', path: ['minInterval'], message: `minInterval ${formatDuration(e.minInterval)} is above maxInterval ${formatDuration(e.maxInterval)}` });
    }
    if (e.schedule.kind === 'every') {
      if (e.minInterval !== undefined && e.schedule.everyMs < e.minInterval) {
        ctx.addIssue({ code: 'custom', path: ['schedule', 'every'], message: `every ${formatDuration(e.schedule.everyMs)} is below minInterval ${formatDuration(e.minInterval)}` });
      }
      if (e.maxInterval !== undefined && e.schedule.everyMs > e.maxInterval) {
        ctx.addIssue({ code: 'custom', path: ['schedule', 'every'], message: `every ${formatDuration(e.schedule.everyMs)} is above maxInterval ${formatDuration(e.maxInterval)}` });
      }
    }
    // A URL that does not parse is already reported as such.
    const urlProblem = isHttpUrl(e.url) ? urlTextProblem(e.url) : undefined;
    if (urlProblem) ctx.addIssue({ code: 'custom', path: ['url'], message: urlProblem });
  });

export type EndpointInput = z.output<typeof endpointInputSchema>;

/** Normalises validated input into the stored spec. Pure. */
export function toEndpointSpec(input: EndpointInput): EndpointSpec {
  const spec: EndpointSpec = {
    url: input.url,
    method: input.method,
    headers: input.headers,
    schedule: input.schedule,
    jitter: input.jitter,
    timeoutMs: input.timeout,
    catchUp: input.catchUp,
  };
  if (input.body !== undefined) spec.body = input.body;
  if (input.minInterval !== undefined) spec.minIntervalMs = input.minInterval;
  if (input.maxInterval !== undefined) spec.maxIntervalMs = input.maxInterval;
  // Defaults are left out, so a spec written before these keys existed compares equal to one that states them.
  if (input.retry !== undefined && input.retry.attempts > 1) spec.retry = input.retry;
  if (input.success !== undefined) spec.success = input.success;
  if (input.overlap === 'skip') spec.overlap = 'skip';
  if (input.pauseAfter !== undefined) spec.pauseAfter = input.pauseAfter;
  return spec;
}

export function describeSchedule(schedule: Schedule): string {
  return schedule.kind === 'every' ? `every ${formatDuration(schedule.everyMs)}` : `cron "${schedule.cron}" (${schedule.timezone})`;
}
