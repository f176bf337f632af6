-- tickwise_commit_rows (0016) with its machine writes found by key on tables of any size. The
-- planner takes jsonb_array_elements for 100 rows whatever the array holds, and on a table of up to
-- ~10,000 endpoints 100 key lookups look dearer than reading the whole table: every commit read every
-- machine row (a seq scan and a hash join; at 1,000 endpoints and 1,000 calls/s ~0.4 ms a commit of
-- one or two runs, most of PostgreSQL's work). The LIMIT returns every element; it is there for the
-- estimate: with the array known (a custom plan) the length is folded to a constant, without it (a
-- generic plan) a LIMIT is taken for a tenth of its input, 10 rows, and key lookups win both ways.
-- Otherwise unchanged. Same rules as 0001: one idempotent DDL per step, PostgreSQL 11 dialect
-- (YugabyteDB 2024.x).

--- step tickwise_commit_rows_machines_by_key
-- `#variable_conflict use_column`: the RETURNS TABLE names (endpoint_id, version, ...) are variables
-- in PL/pgSQL; inside the statement they mean the tables' columns, as they did in SQL.
CREATE OR REPLACE FUNCTION tickwise_commit_rows(p_worker text, p_runs jsonb, p_machines jsonb)
RETURNS TABLE (endpoint_id uuid, version integer, paused_reason text, paused_until timestamptz) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  PERFORM tickwise_notify('tickwise_run_events', '') WHERE jsonb_array_length(COALESCE(p_runs, '[]'::jsonb)) > 0;
  PERFORM tickwise_notify('tickwise_notices', '')
   WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(COALESCE(p_machines, '[]'::jsonb)) AS m WHERE m -> 10 IS NOT NULL AND m -> 10 <> 'null'::jsonb);
  RETURN QUERY
  WITH machines AS (
    SELECT (m ->> 0)::uuid AS id, (m ->> 1)::integer AS expected_version, m ->> 2 AS state, m -> 3 AS snapshot,
           (m ->> 4)::timestamptz AS next_run_at, m ->> 5 AS reason, (m ->> 6)::timestamptz AS claimed_slot,
           m -> 7 AS transitions, (m ->> 8)::integer AS planned_hint_version, (m ->> 9)::integer AS attempt,
           m -> 10 AS notice, (m ->> 11)::timestamptz AS routine_claimed_at, (m ->> 12)::uuid AS routine_run_id
      FROM jsonb_array_elements(COALESCE(p_machines, '[]'::jsonb)) AS m
     LIMIT jsonb_array_length(COALESCE(p_machines, '[]'::jsonb))
  ), run_rows AS (
    SELECT (r ->> 0)::uuid AS id, (r ->> 1)::uuid AS endpoint_id, (r ->> 2)::uuid AS job_id, (r ->> 3)::timestamptz AS slot,
           (r ->> 4)::integer AS attempt, (r ->> 5)::boolean AS last_attempt, r ->> 6 AS worker, r ->> 7 AS status,
           (r ->> 8)::integer AS http_status, (r ->> 9)::double precision AS duration_ms, (r ->> 10)::timestamptz AS started_at,
           (r ->> 11)::timestamptz AS finished_at, r ->> 12 AS error_kind, r ->> 13 AS error_message, r ->> 14 AS response_body,
           (r ->> 15)::boolean AS response_truncated, r ->> 16 AS planned_source, (r ->> 17)::bigint AS retry_after_ms
      FROM jsonb_array_elements(COALESCE(p_runs, '[]'::jsonb)) AS r
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
           attempt = CASE WHEN m.state IN ('due', 'running') THEN COALESCE(m.attempt, e.attempt) ELSE e.attempt END,
           version = e.version + 1,
           transition_seq = e.transition_seq + CASE WHEN jsonb_array_length(m.transitions) > 0 OR m.routine_claimed_at IS NOT NULL THEN 1 ELSE 0 END,
           updated_at = now()
      FROM machines m
     WHERE e.id = m.id
       AND e.version = m.expected_version
       AND e.lease_owner IS NOT DISTINCT FROM p_worker
    RETURNING e.id, e.version, e.transition_seq, e.state, e.reason, e.next_run_at, m.transitions, m.notice, m.routine_claimed_at, m.routine_run_id, e.paused_reason, e.paused_until
  ), inserted_runs AS (
    INSERT INTO runs (id, endpoint_id, job_id, slot, attempt, worker, status, http_status, duration_ms, started_at, finished_at,
                      error_kind, error_message, response_body, response_truncated, planned_source, retry_after_ms, last_attempt,
                      cycle_seq, claimed_at, plan_reason, next_run_at)
    SELECT r.id, r.endpoint_id, r.job_id, r.slot, r.attempt, r.worker, r.status, r.http_status, r.duration_ms, r.started_at, r.finished_at,
           r.error_kind, r.error_message, r.response_body, r.response_truncated, r.planned_source, r.retry_after_ms, r.last_attempt,
           w.transition_seq, w.routine_claimed_at, w.reason, w.next_run_at
      FROM run_rows r
      LEFT JOIN written w ON w.routine_run_id = r.id
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
             'last_attempt', r.last_attempt,
             'worker', r.worker)
      FROM inserted_runs r
    ON CONFLICT (id) DO NOTHING
  ), notices AS (
    INSERT INTO endpoint_notices (id, endpoint_id, kind, detail)
    SELECT (w.notice ->> 'id')::uuid, w.id, w.notice ->> 'kind', w.notice -> 'detail'
      FROM written w
     WHERE w.notice IS NOT NULL AND w.notice <> 'null'::jsonb
    ON CONFLICT (id) DO NOTHING
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
  SELECT w.id, w.version, w.paused_reason, w.paused_until FROM written w;
END
$$;
