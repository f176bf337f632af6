-- Delivery a team can trust when a call fails: retries within a slot (each attempt a run; the last
-- one says so), and notices of what happened to an endpoint (the breaker paused it, a person or a
-- hint paused it) for the planner to send. Same rules as 0001: one idempotent DDL per step.

--- step runs_last_attempt
-- Whether the run was its slot's last attempt (null: written before retries existed, when every run was).
ALTER TABLE runs ADD COLUMN IF NOT EXISTS last_attempt boolean;

--- step endpoint_notices only=postgres
-- What happened to an endpoint that someone may want to be told about, written in the transaction
-- that made it happen (a node's commit, a person's pause, a hint). The planner turns them into
-- notifications; `kind` 'paused' has detail { by: 'person' | 'hint' | 'breaker', reason, until }.
CREATE TABLE IF NOT EXISTS endpoint_notices (
  -- time-ordered UUIDv7 made by the writer: the readers' cursor, unique per notice
  id uuid PRIMARY KEY,
  endpoint_id uuid NOT NULL,
  kind text NOT NULL,
  detail jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

--- step endpoint_notices only=yugabyte
-- Range-sharded (ASC): readers walk it in id order. A time-ordered key puts every insert on one
-- tablet, which a table written a few times a day per endpoint can afford.
CREATE TABLE IF NOT EXISTS endpoint_notices (
  id uuid NOT NULL,
  endpoint_id uuid NOT NULL,
  kind text NOT NULL,
  detail jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id ASC)
);

--- step tickwise_commit
-- As in 0003, plus: the run event says whether the run was its slot's last attempt; a machine write
-- that is still due or running (a retry pending) records its attempt, so a takeover continues the
-- count; and a write may carry a notice (the breaker paused it), stored in the same statement.
CREATE OR REPLACE FUNCTION tickwise_commit(p_worker text, p_runs jsonb, p_machines jsonb)
RETURNS TABLE (endpoint_id uuid, version integer, paused_reason text, paused_until timestamptz) LANGUAGE sql AS $$
  SELECT tickwise_notify('tickwise_run_events', '') WHERE jsonb_array_length(COALESCE(p_runs, '[]'::jsonb)) > 0;
  SELECT tickwise_notify('tickwise_notices', '')
   WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(COALESCE(p_machines, '[]'::jsonb)) AS m WHERE m -> 'notice' IS NOT NULL AND m -> 'notice' <> 'null'::jsonb);
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
             'last_attempt', r.last_attempt,
             'worker', r.worker)
      FROM inserted_runs r
    ON CONFLICT (id) DO NOTHING
  ), machines AS (
    SELECT * FROM jsonb_to_recordset(COALESCE(p_machines, '[]'::jsonb)) AS m(
      id uuid, expected_version integer, state text, snapshot jsonb, next_run_at timestamptz,
      reason text, claimed_slot timestamptz, transitions jsonb, planned_hint_version integer,
      attempt integer, notice jsonb)
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
           transition_seq = e.transition_seq + CASE WHEN jsonb_array_length(m.transitions) > 0 THEN 1 ELSE 0 END,
           updated_at = now()
      FROM machines m
     WHERE e.id = m.id
       AND e.version = m.expected_version
       AND e.lease_owner IS NOT DISTINCT FROM p_worker
    RETURNING e.id, e.version, e.transition_seq, e.state, e.reason, e.next_run_at, m.transitions, m.notice, e.paused_reason, e.paused_until
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
  SELECT w.id, w.version, w.paused_reason, w.paused_until FROM written w
$$;

--- step tickwise_claim_due_fair
-- As tickwise_claim_due (0002), but never claims machines of the tenants in p_excluded_tenants: a
-- node leaves out tenants that hold their fair share of its capacity while others have due work.
-- The five-argument function stays for nodes of the previous release.
CREATE OR REPLACE FUNCTION tickwise_claim_due(p_worker text, p_limit integer, p_lease_ms integer, p_horizon timestamptz, p_buckets smallint[], p_excluded_tenants uuid[])
RETURNS SETOF endpoints LANGUAGE plpgsql AS $$
DECLARE
  v_bucket smallint;
  v_remaining integer := p_limit;
  v_claimed integer;
BEGIN
  FOREACH v_bucket IN ARRAY p_buckets LOOP
    EXIT WHEN v_remaining <= 0;
    RETURN QUERY
      UPDATE endpoints e
         SET state = CASE WHEN e.state = 'idle' THEN 'due' ELSE e.state END,
             snapshot = CASE WHEN e.state = 'idle' THEN e.snapshot || '{"value":"due"}'::jsonb ELSE e.snapshot END,
             claimed_slot = CASE WHEN e.state = 'idle' THEN e.next_run_at ELSE NULL END,
             attempt = CASE WHEN e.state = 'idle' THEN 1 ELSE e.attempt END,
             lease_owner = p_worker,
             lease_expires_at = now() + make_interval(secs => p_lease_ms / 1000.0),
             version = e.version + 1,
             updated_at = now()
        FROM (
          SELECT c.id FROM endpoints c
           WHERE c.bucket = v_bucket
             AND c.state IN ('idle', 'paused')
             AND c.archived_at IS NULL
             AND c.next_run_at <= p_horizon
             AND (c.lease_owner IS NULL OR c.lease_expires_at < now())
             AND (cardinality(p_excluded_tenants) = 0 OR c.tenant_id <> ALL (p_excluded_tenants))
           ORDER BY c.next_run_at
           LIMIT v_remaining
           FOR UPDATE SKIP LOCKED
        ) due
       WHERE e.id = due.id
      RETURNING e.*;
    GET DIAGNOSTICS v_claimed = ROW_COUNT;
    v_remaining := v_remaining - v_claimed;
  END LOOP;
END
$$;

--- step tickwise_tenants_due
-- The tenants with machines due by p_horizon (at most p_limit of them), for a node sharing its
-- capacity fairly among them. It walks every due machine: a node asks only while it is crowded,
-- several tenants have jobs, and at most a few times a second.
CREATE OR REPLACE FUNCTION tickwise_tenants_due(p_horizon timestamptz, p_limit integer)
RETURNS SETOF uuid LANGUAGE sql STABLE AS $$
  SELECT DISTINCT c.tenant_id FROM endpoints c
   WHERE c.state IN ('idle', 'paused') AND c.archived_at IS NULL AND c.next_run_at <= p_horizon
     AND (c.lease_owner IS NULL OR c.lease_expires_at < now())
   LIMIT p_limit
$$;

--- step tickwise_tenant_count
-- How many tenants have live jobs: a node shares its capacity only when there are several.
CREATE OR REPLACE FUNCTION tickwise_tenant_count() RETURNS integer LANGUAGE sql STABLE AS $$
  SELECT count(DISTINCT tenant_id)::integer FROM jobs WHERE archived_at IS NULL
$$;

--- step tickwise_next_due_at_fair
-- As tickwise_next_due_at (0002), leaving out the tenants a node leaves out of its claims: the
-- earliest time it has something to claim. The one-argument function stays for the previous release.
CREATE OR REPLACE FUNCTION tickwise_next_due_at(p_buckets smallint[], p_excluded_tenants uuid[]) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT min(first_due) FROM (
    SELECT (SELECT c.next_run_at FROM endpoints c
             WHERE c.bucket = b AND c.state IN ('idle', 'paused') AND c.archived_at IS NULL AND c.next_run_at IS NOT NULL
               AND (cardinality(p_excluded_tenants) = 0 OR c.tenant_id <> ALL (p_excluded_tenants))
             ORDER BY c.next_run_at LIMIT 1) AS first_due
      FROM unnest(p_buckets) AS b
  ) per_bucket
$$;
