import type { Value } from '@bufbuild/protobuf/wkt';
import { endpointInputSchema, INPUT_LIMITS, type EndpointInput } from '@tickwise/machines';
import { TickwiseError, type FieldViolation } from '@tickwise/platform';
import type { EndpointSpec as EndpointSpecMessage } from '@tickwise/api';
import { fieldPath } from './validate.ts';

/** Where a jobs-file key of endpointInputSchema lives in the proto message. */
function protoPath(path: readonly PropertyKey[]): readonly PropertyKey[] {
  const [first, ...rest] = path;
  if (first === 'schedule' && rest[0] === 'cron') return ['schedule', 'cron', 'expression', ...rest.slice(1)];
  if (first === 'schedule' && rest[0] === 'timezone') return ['schedule', 'cron', 'timezone', ...rest.slice(1)];
  return path;
}

/**
 * A google.protobuf.Value as plain JSON, non-finite numbers kept (protobuf's toJson throws on them),
 * so the jobs file's rules can name them (`body.items[2]: must be a finite number`). Nesting past the
 * body's depth limit is cut: the limit is reported before the cut is reached. Pure.
 */
export function valueJson(value: Value, depth = 0): unknown {
  if (depth > INPUT_LIMITS.bodyDepthMax + 1) return null;
  switch (value.kind.case) {
    case 'numberValue':
    case 'stringValue':
    case 'boolValue':
      return value.kind.value;
    case 'structValue':
      return Object.fromEntries(Object.entries(value.kind.value.fields).map(([key, item]) => [key, valueJson(item, depth + 1)]));
    case 'listValue':
      return value.kind.value.values.map((item) => valueJson(item, depth + 1));
    default:
      // nullValue, and a Value with no kind set (possible in binary), which JSON writes as null too.
      return null;
  }
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
  // Sizes, characters, numbers and headers are the jobs file's rules (machines' INPUT_LIMITS), checked by its schema below.
  const input: Record<string, unknown> = { name: name ?? message.name, url: message.url };
  if (message.method !== '') input.method = message.method;
  if (Object.keys(message.headers).length > 0) input.headers = message.headers;
  if (message.body) input.body = valueJson(message.body);
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
