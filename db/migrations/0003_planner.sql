-- The planner's tables: the run-event outbox, analyses, the DB path's cursor, and the columns that
-- let a hint re-plan an idle machine exactly once. Same rules as 0001: one idempotent DDL per step.

--- step runs_retry_after_ms
-- Retry-After of a 429/503 answer, in ms from the end of the call: the planner honours it.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS retry_after_ms bigint;

--- step run_events only=postgres
-- The outbox: one row per finished run, written in the run's own transaction (tickwise_commit).
-- Column names are what Debezium's outbox event router expects once configured (see
-- deploy/connectors). `payload` is the versioned contract of docs/events.md.
CREATE TABLE IF NOT EXISTS run_events (
  -- the run's id: time-ordered (UUIDv7), the DB path's cursor, unique per run
  id uuid PRIMARY KEY,
  aggregate_type text NOT NULL,
  -- the endpoint id: the Kafka message key, so one endpoint's events stay in order
  aggregate_id uuid NOT NULL,
  type text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

--- step run_events only=yugabyte
-- Hash-sharded: a leading ASC time-ordered key would put every insert on one tablet. The DB path
-- reads it in id order (a scan on YugabyteDB); production there reads it through CDC and Kafka.
CREATE TABLE IF NOT EXISTS run_events (
  id uuid NOT NULL,
  aggregate_type text NOT NULL,
  aggregate_id uuid NOT NULL,
  type text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id HASH)
);

--- step run_events_replica_identity
-- Debezium's pgoutput needs FULL or DEFAULT (YugabyteDB's default CHANGE does not work with pgoutput).
ALTER TABLE run_events REPLICA IDENTITY DEFAULT;

--- step endpoints_hint_version
-- Bumped by every hint write or clear of the endpoint (planner, API); a machine whose plan
-- accounted for an older value is re-planned by a scheduler node once it is free.
ALTER TABLE endpoints ADD COLUMN IF NOT EXISTS hint_version integer NOT NULL DEFAULT 0;

--- step endpoints_planned_hint_version
ALTER TABLE endpoints ADD COLUMN IF NOT EXISTS planned_hint_version integer NOT NULL DEFAULT 0;

--- step endpoints_hints_pending_idx
-- Small by construction: only machines with hints their plan has not seen yet.
CREATE INDEX IF NOT EXISTS endpoints_hints_pending_idx ON endpoints (id) WHERE hint_version > planned_hint_version;

--- step hints_analysis_id
ALTER TABLE hints ADD COLUMN IF NOT EXISTS analysis_id uuid;

--- step analyses
-- Every analysis the planner made: what it saw, what it did and why, so a person can see why a hint exists.
CREATE TABLE IF NOT EXISTS analyses (
  id uuid PRIMARY KEY,
  endpoint_id uuid NOT NULL,
  -- 'heuristic' | 'llm'
  planner text NOT NULL,
  -- why it ran now: 'failure_streak' | 'state_change' | 'retry_after' | 'periodic' | ...
  trigger text NOT NULL,
  inputs jsonb NOT NULL,
  tool_calls jsonb NOT NULL DEFAULT '[]'::jsonb,
  reasoning text,
  model text,
  tokens_in integer,
  tokens_out integer,
  duration_ms double precision NOT NULL,
  -- 'hint' | 'clear' | 'no_change' | 'fallback'
  outcome text NOT NULL,
  outcome_detail text,
  hint_ids uuid[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);

--- step analyses_endpoint_idx only=postgres
CREATE INDEX IF NOT EXISTS analyses_endpoint_idx ON analyses (endpoint_id, id DESC);

--- step analyses_endpoint_idx only=yugabyte
CREATE INDEX IF NOT EXISTS analyses_endpoint_idx ON analyses (endpoint_id HASH, id DESC);

--- step planner_cursors
-- The DB path's position in run_events, one row per consumer name, held by one planner at a time
-- through a lease (no advisory locks on YugabyteDB 2024.x).
CREATE TABLE IF NOT EXISTS planner_cursors (
  name text PRIMARY KEY,
  position uuid,
  lease_owner text,
  lease_expires_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);

--- step tickwise_notify only=postgres
CREATE OR REPLACE FUNCTION tickwise_notify(p_channel text, p_payload text) RETURNS void
LANGUAGE sql AS $$
  SELECT pg_notify(p_channel, p_payload)
$$;

--- step tickwise_notify only=yugabyte
-- NOTIFY exists only from 2025.2.3, behind a flag; elsewhere it errors. It is an accelerator (every
-- reader also polls), so it must never fail the write it accelerates.
CREATE OR REPLACE FUNCTION tickwise_notify(p_channel text, p_payload text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(p_channel, p_payload);
EXCEPTION WHEN OTHERS THEN
  NULL;
END
$$;

--- step tickwise_commit
-- As in 0002, plus: every run inserted also becomes a run event in the outbox (same statement, same
-- transaction), readers of the DB path are woken, and a machine write may record which hint version
-- its plan accounted for.
CREATE OR REPLACE FUNCTION tickwise_commit(p_worker text, p_runs jsonb, p_machines jsonb)
RETURNS TABLE (endpoint_id uuid, version integer, paused_reason text, paused_until timestamptz) LANGUAGE sql AS $$
  SELECT tickwise_notify('tickwise_run_events', '') WHERE jsonb_array_length(COALESCE(p_runs, '[]'::jsonb)) > 0;
  WITH inserted_runs AS (
    INSERT INTO runs
    SELECT * FROM jsonb_populate_recordset(NULL::runs, COALESCE(p_runs, '[]'::jsonb))
    ON CONFLICT (id) DO NOTHING
    RETURNING *
  ), events AS (
    INSERT INTO run_events (id, aggregate_type, aggregate_id, type, payload)
    SELECT r.id, 'endpoint', r.endpoint_id, 'run.finished', jsonb_build_object(
             'schema_version', 1,
             'type', 'run.finished',
             'event_id', r.id,
             'run_id', r.id,
             'endpoint_id', r.endpoint_id,
             'job_id', r.job_id,
             'status', r.status,
             'http_status', r.http_status,
             'duration_ms', r.duration_ms,
             'scheduled_at', to_char(r.slot AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
             'started_at', to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
             'finished_at', to_char(r.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
             'lateness_ms', round(extract(epoch FROM (r.started_at - r.slot)) * 1000),
             'error_kind', r.error_kind,
             'attempt', r.attempt,
             'planned_source', r.planned_source,
             'retry_after_ms', r.retry_after_ms,
             'worker', r.worker)
      FROM inserted_runs r
    ON CONFLICT (id) DO NOTHING
  ), machines AS (
    SELECT * FROM jsonb_to_recordset(COALESCE(p_machines, '[]'::jsonb)) AS m(
      id uuid, expected_version integer, state text, snapshot jsonb, next_run_at timestamptz,
      reason text, claimed_slot timestamptz, transitions jsonb, planned_hint_version integer)
  ), written AS (
    UPDATE endpoints e
       SET state = m.state,
           snapshot = m.snapshot,
           next_run_at = m.next_run_at,
           reason = m.reason,
           claimed_slot = CASE WHEN m.state IN ('due', 'running') THEN m.claimed_slot END,
           lease_owner = CASE WHEN m.state IN ('due', 'running') THEN e.lease_owner END,
           lease_expires_at = CASE WHEN m.state IN ('due', 'running') THEN e.lease_expires_at END,
           planned_hint_version = COALESCE(m.planned_hint_version, e.planned_hint_version),
           version = e.version + 1,
           transition_seq = e.transition_seq + CASE WHEN jsonb_array_length(m.transitions) > 0 THEN 1 ELSE 0 END,
           updated_at = now()
      FROM machines m
     WHERE e.id = m.id
       AND e.version = m.expected_version
       AND e.lease_owner IS NOT DISTINCT FROM p_worker
    RETURNING e.id, e.version, e.transition_seq, e.state, e.reason, e.next_run_at, m.transitions, e.paused_reason, e.paused_until
  ), history AS (
    INSERT INTO endpoint_transitions (endpoint_id, ring_slot, seq, at, from_state, to_state, steps, reason, next_run_at, run_id, worker)
    SELECT w.id, (w.transition_seq % 100)::smallint, w.transition_seq,
           (w.transitions -> -1 ->> 'at')::timestamptz, w.transitions -> 0 ->> 'from', w.state,
           w.transitions, w.reason, w.next_run_at,
           (SELECT (step ->> 'runId')::uuid FROM jsonb_array_elements(w.transitions) AS step WHERE step ? 'runId' LIMIT 1),
           p_worker
      FROM written w
     WHERE jsonb_array_length(w.transitions) > 0
    ON CONFLICT (endpoint_id, ring_slot) DO UPDATE
       SET seq = EXCLUDED.seq, at = EXCLUDED.at, from_state = EXCLUDED.from_state, to_state = EXCLUDED.to_state,
           steps = EXCLUDED.steps, reason = EXCLUDED.reason, next_run_at = EXCLUDED.next_run_at,
           run_id = EXCLUDED.run_id, worker = EXCLUDED.worker
  )
  SELECT w.id, w.version, w.paused_reason, w.paused_until FROM written w
$$;

--- step tickwise_prune_planner
-- Retention of the planner's tables: run events and analyses older than p_before (both keyed by
-- time-ordered ids), at most p_limit rows of each per call.
CREATE OR REPLACE FUNCTION tickwise_prune_planner(p_before timestamptz, p_limit integer)
RETURNS TABLE (events_deleted integer, analyses_deleted integer) LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM run_events WHERE id IN (SELECT r.id FROM run_events r WHERE r.id < tickwise_uuid7_floor(p_before) LIMIT p_limit);
  GET DIAGNOSTICS events_deleted = ROW_COUNT;
  DELETE FROM analyses WHERE id IN (SELECT a.id FROM analyses a WHERE a.id < tickwise_uuid7_floor(p_before) LIMIT p_limit);
  GET DIAGNOSTICS analyses_deleted = ROW_COUNT;
  RETURN NEXT;
END
$$;
