import type { RunEvent } from '@tickwise/events';

/** A run event as the scheduler writes it into the outbox, finished `agoMs` before now. */
export function runEvent(endpointId: string, jobId: string, agoMs: number, overrides: Partial<RunEvent> = {}): RunEvent {
  const finished = Date.now() - agoMs;
  const id = crypto.randomUUID();
  const duration = overrides.duration_ms ?? 25;
  const lateness = overrides.lateness_ms ?? 2;
  return {
    schema_version: 1,
    type: 'run.finished',
    event_id: id,
    run_id: id,
    endpoint_id: endpointId,
    job_id: jobId,
    status: 'succeeded',
    http_status: 200,
    duration_ms: duration,
    scheduled_at: new Date(finished - duration - lateness).toISOString(),
    started_at: new Date(finished - duration).toISOString(),
    finished_at: new Date(finished).toISOString(),
    lateness_ms: lateness,
    error_kind: null,
    attempt: 1,
    planned_source: 'baseline',
    retry_after_ms: null,
    worker: 'analytics-test',
    ...overrides,
  };
}

/**
 * The message Debezium's outbox EventRouter writes with deploy/connectors/postgres-outbox.json:
 * key the endpoint id (StringConverter), value the payload as a JSON object (expanded, schemas off).
 */
export function outboxMessage(event: RunEvent): { key: string; value: string } {
  return { key: event.endpoint_id, value: JSON.stringify(event) };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (enough of the format for prom-client's output). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample of `name` whose labels include `labels`, or undefined. */
export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))?.value;
}
