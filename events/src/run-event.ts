import { z } from 'zod';

/** The event type and schema version of docs/events.md. A consumer rejects a version it does not know. */
export const RUN_EVENT_TYPE = 'run.finished';
export const RUN_EVENT_SCHEMA_VERSION = 1;

const timestamp = z.iso.datetime({ offset: true });

/**
 * One finished run, as the outbox (`run_events.payload`) and the Kafka topic carry it. Keyed by
 * `endpoint_id`; `event_id` equals `run_id` and is unique (consumers deduplicate on it).
 */
export const runEventSchema = z.object({
  schema_version: z.literal(RUN_EVENT_SCHEMA_VERSION),
  type: z.literal(RUN_EVENT_TYPE),
  event_id: z.uuid(),
  run_id: z.uuid(),
  endpoint_id: z.uuid(),
  job_id: z.uuid(),
  status: z.enum(['succeeded', 'failed']),
  http_status: z.number().int().min(100).max(599).nullable(),
  duration_ms: z.number().nonnegative(),
  scheduled_at: timestamp,
  started_at: timestamp,
  finished_at: timestamp,
  lateness_ms: z.number(),
  error_kind: z.string().nullable(),
  attempt: z.number().int().min(1),
  /** Whether no other attempt at the slot follows; absent or null on events from before retries (each was). */
  last_attempt: z.boolean().nullable().optional(),
  planned_source: z.string().nullable(),
  retry_after_ms: z.number().int().nonnegative().nullable(),
  worker: z.string(),
});

export type RunEvent = z.infer<typeof runEventSchema>;
