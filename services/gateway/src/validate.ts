import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import { z } from 'zod';
import { INPUT_LIMITS } from '@tickwise/machines';
import { isUuid, TickwiseError, type FieldViolation } from '@tickwise/platform';

// Input validation at the edge: every request is checked with zod before anything else runs, and
// every problem is reported with the request field's proto path and the reason.

export const LIMITS = {
  pageSizeDefault: 50,
  pageSizeMax: 500,
  pageTokenMax: 512,
  reasonMax: 500,
  namePrefixMax: 63,
  endpointsPerRequest: 100,
  // Shared with the jobs file, so both apply paths refuse the same things with the same words.
  jobsPerApply: INPUT_LIMITS.jobsPerApply,
  endpointsPerApply: INPUT_LIMITS.endpointsPerApply,
  urlMax: INPUT_LIMITS.urlMax,
  headersMax: INPUT_LIMITS.headersMax,
  headerValueMax: INPUT_LIMITS.headerValueMax,
  bodyMaxBytes: INPUT_LIMITS.bodyMaxBytes,
  watchEndpointIds: 500,
  watchJobIds: 100,
  transitionsMax: 100,
  transitionsDefault: 20,
  hintsDefault: 50,
} as const;

/** What a tenant may hold: past these, creating more is RESOURCE_EXHAUSTED. */
export const QUOTAS = {
  jobsPerTenant: 10_000,
  endpointsPerJob: INPUT_LIMITS.endpointsPerJob,
  manualHintsPerEndpoint: 20,
  apiKeysPerTenant: 100,
} as const;

function snake(segment: string): string {
  return segment.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** A zod path as a proto field path: `endpoints[2].min_interval`, `headers["X-Team"]`. Pure. */
export function fieldPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  let mapKeyNext = false;
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (mapKeyNext) out += `[${JSON.stringify(String(segment))}]`;
    else out += `${out ? '.' : ''}${snake(String(segment))}`;
    mapKeyNext = segment === 'headers';
  }
  return out;
}

export function violationsOf(issues: readonly z.core.$ZodIssue[], prefix = ''): FieldViolation[] {
  return issues.map((issue) => ({ field: fieldPath(prefix, issue.path), reason: issue.message }));
}

/** Parses or throws INVALID_ARGUMENT listing every wrong field. */
export function parse<T>(schema: z.ZodType<T>, value: unknown, prefix = ''): T {
  const result = schema.safeParse(value);
  if (!result.success) throw TickwiseError.invalid(violationsOf(result.error.issues, prefix));
  return result.data;
}

/** A required id: a UUID, lower-cased. */
export const id = z
  .string()
  .min(1, 'is required')
  .refine(isUuid, 'must be a UUID')
  .transform((text) => text.toLowerCase());

/** An id that may be left empty (a filter). */
export const optionalId = z.union([z.literal('').transform(() => null), id]);

export const pageSize = z
  .number()
  .int()
  .min(0, 'must not be negative')
  .max(LIMITS.pageSizeMax, `must be at most ${LIMITS.pageSizeMax}`)
  .transform((size) => (size === 0 ? LIMITS.pageSizeDefault : size));

export const pageToken = z.string().max(LIMITS.pageTokenMax, `must be at most ${LIMITS.pageTokenMax} characters`);

export const requiredReason = z.string().trim().min(1, 'is required').max(LIMITS.reasonMax, `must be at most ${LIMITS.reasonMax} characters`);
export const optionalReason = z.string().trim().max(LIMITS.reasonMax, `must be at most ${LIMITS.reasonMax} characters`);

export const namePrefix = z
  .string()
  .max(LIMITS.namePrefixMax, `must be at most ${LIMITS.namePrefixMax} characters`)
  .regex(/^[A-Za-z0-9._-]*$/, 'may hold only letters, digits, ".", "_" and "-"')
  .transform((prefix) => (prefix === '' ? null : prefix));

/** A Timestamp message as a Date; unset stays undefined. Connect already checked its range. */
export const timestamp = z
  .custom<Timestamp>((value) => typeof value === 'object' && value !== null && 'seconds' in value, 'must be a timestamp')
  .optional()
  .transform((value) => (value ? timestampDate(value) : undefined));

/** An enum field: a known value, not the zero one. */
export function enumValue<E extends Record<string, string | number>>(values: E, zeroName: string) {
  const known = Object.values(values).filter((value): value is number => typeof value === 'number' && value !== 0);
  return z.number().refine((value) => value !== 0, `is required (not ${zeroName})`).refine((value) => value === 0 || known.includes(value), 'is not a known value') as unknown as z.ZodType<E[keyof E]>;
}

/** Opaque page tokens: the last key of the page, so the next page starts after it. */
export function encodePageToken(after: string): string {
  return Buffer.from(JSON.stringify({ v: 1, after }), 'utf8').toString('base64url');
}

/** The key a token carries; INVALID_ARGUMENT on page_token for anything this server did not hand out. */
export function decodePageToken(token: string, isKey: (after: string) => boolean, field = 'page_token'): string | null {
  if (token === '') return null;
  try {
    const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v?: unknown; after?: unknown };
    if (decoded.v === 1 && typeof decoded.after === 'string' && isKey(decoded.after)) return decoded.after;
  } catch {
    // fall through: not a token of ours
  }
  throw TickwiseError.invalid([{ field, reason: 'is not a page token this list returned' }]);
}

/** The token of the next page: there may be one when this page is full. */
export function nextToken<T>(items: readonly T[], limit: number, key: (item: T) => string): string {
  const last = items[items.length - 1];
  return items.length === limit && last !== undefined ? encodePageToken(key(last)) : '';
}

/** A time that must lie ahead (a pause's end): INVALID_ARGUMENT otherwise. */
export function requireFuture(at: Date | undefined, now: Date, field: string): void {
  if (at !== undefined && at <= now) throw TickwiseError.invalid([{ field, reason: `must be in the future (now is ${now.toISOString()})` }]);
}
