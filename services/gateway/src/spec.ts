import { toJson } from '@bufbuild/protobuf';
import { ValueSchema } from '@bufbuild/protobuf/wkt';
import { endpointInputSchema, type EndpointInput } from '@tickwise/machines';
import { TickwiseError, type FieldViolation } from '@tickwise/platform';
import type { EndpointSpec as EndpointSpecMessage } from '@tickwise/api';
import { fieldPath, LIMITS } from './validate.ts';

/** Where a jobs-file key of endpointInputSchema lives in the proto message. */
function protoPath(path: readonly PropertyKey[]): readonly PropertyKey[] {
  const [first, ...rest] = path;
  if (first === 'schedule' && rest[0] === 'cron') return ['schedule', 'cron', 'expression', ...rest.slice(1)];
  if (first === 'schedule' && rest[0] === 'timezone') return ['schedule', 'cron', 'timezone', ...rest.slice(1)];
  return path;
}

/**
 * Checks an endpoint spec message and turns it into the validated jobs-file form: the same rules as a
 * jobs file (endpointInputSchema), plus size limits. `name` overrides the message's own name (an
 * update keeps the endpoint's). Throws `invalid_argument` naming each field under `prefix`. (The
 * target policy is the catalog's to check, when it writes the endpoint.)
 */
export function endpointInputOf(message: EndpointSpecMessage | undefined, prefix: string, name?: string): EndpointInput {
  if (!message) throw TickwiseError.invalid([{ field: prefix, reason: 'is required' }]);
  const violations: FieldViolation[] = [];
  const input: Record<string, unknown> = { name: name ?? message.name, url: message.url };
  if (message.url.length > LIMITS.urlMax) violations.push({ field: `${prefix}.url`, reason: `must be at most ${LIMITS.urlMax} characters` });
  if (message.method !== '') input.method = message.method;
  const headers = Object.entries(message.headers);
  if (headers.length > LIMITS.headersMax) violations.push({ field: `${prefix}.headers`, reason: `must have at most ${LIMITS.headersMax} entries` });
  for (const [key, value] of headers) {
    if (value.length > LIMITS.headerValueMax) violations.push({ field: `${prefix}.headers[${JSON.stringify(key)}]`, reason: `must be at most ${LIMITS.headerValueMax} characters` });
  }
  if (headers.length > 0) input.headers = message.headers;
  if (message.body) {
    const body = toJson(ValueSchema, message.body);
    if (Buffer.byteLength(JSON.stringify(body)) > LIMITS.bodyMaxBytes) violations.push({ field: `${prefix}.body`, reason: `must be at most ${LIMITS.bodyMaxBytes} bytes as JSON` });
    input.body = body;
  }
  const schedule = message.schedule?.kind;
  if (schedule?.case === 'every') input.schedule = { every: schedule.value };
  else if (schedule?.case === 'cron') input.schedule = { cron: schedule.value.expression, ...(schedule.value.timezone !== '' ? { timezone: schedule.value.timezone } : {}) };
  else violations.push({ field: `${prefix}.schedule`, reason: 'is required: set every (e.g. "30s") or cron (expression and timezone)' });
  if (message.minInterval !== '') input.minInterval = message.minInterval;
  if (message.maxInterval !== '') input.maxInterval = message.maxInterval;
  if (message.jitter !== '') input.jitter = /^\d+(\.\d+)?$/.test(message.jitter) ? Number(message.jitter) : message.jitter;
  if (message.timeout !== '') input.timeout = message.timeout;
  if (message.catchUp !== '') input.catchUp = message.catchUp;
  if (message.retry) {
    const { attempts, backoff, maxBackoff, on } = message.retry;
    input.retry = { attempts, ...(backoff !== '' ? { backoff } : {}), ...(maxBackoff !== '' ? { maxBackoff } : {}), ...(on.length > 0 ? { on } : {}) };
  }
  if (message.success) {
    const { status, bodyContains } = message.success;
    input.success = { ...(status.length > 0 ? { status } : {}), ...(bodyContains !== '' ? { bodyContains } : {}) };
  }
  if (message.overlap !== '') input.overlap = message.overlap;
  if (message.pauseAfter !== 0) input.pauseAfter = message.pauseAfter;
  const parsed = endpointInputSchema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // A missing schedule is reported once, in proto terms, above.
      if (issue.path[0] === 'schedule' && input.schedule === undefined) continue;
      violations.push({ field: fieldPath(prefix, protoPath(issue.path)), reason: issue.message });
    }
  }
  if (violations.length > 0 || !parsed.success) throw TickwiseError.invalid(violations);
  return parsed.data;
}
