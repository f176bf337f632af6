import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import { ValueSchema } from '@bufbuild/protobuf/wkt';
import type { EndpointSpec } from '@tickwise/machines';
import { formatDuration } from '@tickwise/platform/duration';

/** The stored spec in the message's form (durations as strings), as a person would write it. Pure. */
export function specMessage(name: string, spec: EndpointSpec) {
  return {
    name,
    url: spec.url,
    method: spec.method,
    headers: spec.headers,
    body: spec.body === undefined ? undefined : fromJson(ValueSchema, spec.body as JsonValue),
    schedule: {
      kind:
        spec.schedule.kind === 'every'
          ? { case: 'every' as const, value: formatDuration(spec.schedule.everyMs) }
          : { case: 'cron' as const, value: { expression: spec.schedule.cron, timezone: spec.schedule.timezone } },
    },
    minInterval: spec.minIntervalMs === undefined ? '' : formatDuration(spec.minIntervalMs),
    maxInterval: spec.maxIntervalMs === undefined ? '' : formatDuration(spec.maxIntervalMs),
    jitter: spec.jitter > 0 ? `${Number((spec.jitter * 100).toFixed(4))}%` : '',
    timeout: formatDuration(spec.timeoutMs),
    catchUp: spec.catchUp,
    retry: spec.retry && { attempts: spec.retry.attempts, backoff: formatDuration(spec.retry.backoffMs), maxBackoff: formatDuration(spec.retry.maxBackoffMs), on: spec.retry.on },
    success: spec.success && { status: spec.success.status, bodyContains: spec.success.bodyContains ?? '' },
    overlap: spec.overlap ?? 'queue',
    pauseAfter: spec.pauseAfter ?? 0,
  };
}
