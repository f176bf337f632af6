-- One live commit body: tickwise_commit (0012), still called by nodes of the previous release during a
-- rolling upgrade, becomes a thin wrapper that turns its objects into the arrays of 0014 and calls
-- tickwise_commit_rows, so a change to the commit is made in one place. Same rules as 0001: one
-- idempotent DDL per step, PostgreSQL 11 dialect (YugabyteDB 2024.x).

--- step tickwise_commit_wrapper
-- The arrays in RUN_ROW_FIELDS and MACHINE_ROW_FIELDS order (db/src/queries/run-record.ts, commits.ts);
-- a key the object lacks becomes JSON null, as jsonb_to_recordset made it SQL NULL; transitions
-- missing stay an empty list (no history row, as before).
CREATE OR REPLACE FUNCTION tickwise_commit(p_worker text, p_runs jsonb, p_machines jsonb)
RETURNS TABLE (endpoint_id uuid, version integer, paused_reason text, paused_until timestamptz) LANGUAGE sql AS $$
  SELECT * FROM tickwise_commit_rows(
    p_worker,
    (SELECT COALESCE(jsonb_agg(jsonb_build_array(
              r -> 'id', r -> 'endpoint_id', r -> 'job_id', r -> 'slot', r -> 'attempt', r -> 'last_attempt', r -> 'worker',
              r -> 'status', r -> 'http_status', r -> 'duration_ms', r -> 'started_at', r -> 'finished_at', r -> 'error_kind',
              r -> 'error_message', r -> 'response_body', r -> 'response_truncated', r -> 'planned_source', r -> 'retry_after_ms')), '[]'::jsonb)
       FROM jsonb_array_elements(COALESCE(p_runs, '[]'::jsonb)) AS r),
    (SELECT COALESCE(jsonb_agg(jsonb_build_array(
              m -> 'id', m -> 'expected_version', m -> 'state', m -> 'snapshot', m -> 'next_run_at', m -> 'reason', m -> 'claimed_slot',
              COALESCE(m -> 'transitions', '[]'::jsonb), m -> 'planned_hint_version', m -> 'attempt', m -> 'notice',
              m -> 'routine_claimed_at', m -> 'routine_run_id')), '[]'::jsonb)
       FROM jsonb_array_elements(COALESCE(p_machines, '[]'::jsonb)) AS m))
$$;
