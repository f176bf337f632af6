-- The job-queue functions. They move rows only between states the endpoint machine allows
-- (claim: idle → due; takeover: due|running keep their state under a new lease; mark: due → running;
-- commit: whatever the machine computed, guarded by version and lease). They are correct under
-- READ COMMITTED and REPEATABLE READ (YugabyteDB without yb_enable_read_committed_isolation).

--- step tickwise_uuid7_floor
-- The smallest UUIDv7 of a millisecond: lets time-ordered ids serve as a time index.
CREATE OR REPLACE FUNCTION tickwise_uuid7_floor(p_at timestamptz) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
  SELECT (lpad(to_hex(floor(extract(epoch FROM p_at) * 1000)::bigint), 12, '0') || '70000000000000000000')::uuid
$$;

--- step tickwise_claim_due
-- Claims up to p_limit machines due by p_horizon, one bucket after another in the order given,
-- under a lease of p_lease_ms. Idle rows become due with their slot fixed; paused rows whose pause
-- has ended are leased as they are, so their node can resume them.
CREATE OR REPLACE FUNCTION tickwise_claim_due(p_worker text, p_limit integer, p_lease_ms integer, p_horizon timestamptz, p_buckets smallint[])
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

--- step tickwise_next_due_at
-- The earliest next_run_at of a claimable machine in the given buckets: how long a node may sleep.
CREATE OR REPLACE FUNCTION tickwise_next_due_at(p_buckets smallint[]) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT min(first_due) FROM (
    SELECT (SELECT c.next_run_at FROM endpoints c
             WHERE c.bucket = b AND c.state IN ('idle', 'paused') AND c.archived_at IS NULL AND c.next_run_at IS NOT NULL
             ORDER BY c.next_run_at LIMIT 1) AS first_due
      FROM unnest(p_buckets) AS b
  ) per_bucket
$$;

--- step tickwise_take_over_expired
-- Leases machines whose owner stopped renewing while a slot was due or running. The slot and its
-- idempotency key stay; the attempt counts up. The new owner runs the slot again.
CREATE OR REPLACE FUNCTION tickwise_take_over_expired(p_worker text, p_limit integer, p_lease_ms integer)
RETURNS SETOF endpoints LANGUAGE sql AS $$
  UPDATE endpoints e
     SET lease_owner = p_worker,
         lease_expires_at = now() + make_interval(secs => p_lease_ms / 1000.0),
         attempt = e.attempt + 1,
         version = e.version + 1,
         updated_at = now()
    FROM (
      SELECT c.id FROM endpoints c
       WHERE c.lease_owner IS NOT NULL
         AND c.lease_expires_at < now()
         AND c.state IN ('due', 'running')
       ORDER BY c.lease_expires_at
       LIMIT p_limit
       FOR UPDATE SKIP LOCKED
    ) expired
   WHERE e.id = expired.id
  RETURNING e.*
$$;

--- step tickwise_renew_leases
CREATE OR REPLACE FUNCTION tickwise_renew_leases(p_worker text, p_ids uuid[], p_lease_ms integer)
RETURNS SETOF uuid LANGUAGE sql AS $$
  UPDATE endpoints
     SET lease_expires_at = now() + make_interval(secs => p_lease_ms / 1000.0)
   WHERE id = ANY (p_ids) AND lease_owner = p_worker
  RETURNING id
$$;

--- step tickwise_mark_running
-- due → running for slots whose dispatch started, in one statement per batch. It does not bump the
-- version: only the lease owner writes a leased row, and the commit that follows checks the lease.
CREATE OR REPLACE FUNCTION tickwise_mark_running(p_worker text, p_ids uuid[], p_versions integer[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE v_count integer;
BEGIN
  -- Driven by the primary key: a join on unnest() let the planner walk the lease index once per
  -- id when its statistics were taken while nothing was leased.
  UPDATE endpoints e
     SET state = 'running', snapshot = e.snapshot || '{"value":"running"}'::jsonb, updated_at = now()
   WHERE e.id = ANY (p_ids)
     AND e.lease_owner = p_worker
     AND e.state = 'due'
     AND e.version = p_versions[array_position(p_ids, e.id)];
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;

--- step tickwise_commit
-- Records finished runs and writes machines as the machine code computed them, with their
-- transitions, in one statement. A machine is written only if its version is the one its writer
-- read and the writer holds its lease (p_worker) or nobody does (p_worker NULL). Leaving a leased
-- state hands the lease back. The write's steps become one history row. Returns the machines
-- written, with their new version and the pause a person set meanwhile (the writer re-plans a
-- machine it left idle under such a pause).
CREATE OR REPLACE FUNCTION tickwise_commit(p_worker text, p_runs jsonb, p_machines jsonb)
RETURNS TABLE (endpoint_id uuid, version integer, paused_reason text, paused_until timestamptz) LANGUAGE sql AS $$
  WITH inserted_runs AS (
    INSERT INTO runs
    SELECT * FROM jsonb_populate_recordset(NULL::runs, COALESCE(p_runs, '[]'::jsonb))
    ON CONFLICT (id) DO NOTHING
    RETURNING id
  ), machines AS (
    SELECT * FROM jsonb_to_recordset(COALESCE(p_machines, '[]'::jsonb)) AS m(
      id uuid, expected_version integer, state text, snapshot jsonb, next_run_at timestamptz,
      reason text, claimed_slot timestamptz, transitions jsonb)
  ), written AS (
    UPDATE endpoints e
       SET state = m.state,
           snapshot = m.snapshot,
           next_run_at = m.next_run_at,
           reason = m.reason,
           claimed_slot = CASE WHEN m.state IN ('due', 'running') THEN m.claimed_slot END,
           lease_owner = CASE WHEN m.state IN ('due', 'running') THEN e.lease_owner END,
           lease_expires_at = CASE WHEN m.state IN ('due', 'running') THEN e.lease_expires_at END,
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

--- step tickwise_prune
-- Retention: runs older than p_before (by their time-ordered id), transitions of endpoints archived
-- before it, and hints expired before it, at most p_limit rows of each per call.
CREATE OR REPLACE FUNCTION tickwise_prune(p_before timestamptz, p_limit integer)
RETURNS TABLE (runs_deleted integer, transitions_deleted integer, hints_deleted integer) LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM runs WHERE id IN (SELECT r.id FROM runs r WHERE r.id < tickwise_uuid7_floor(p_before) LIMIT p_limit);
  GET DIAGNOSTICS runs_deleted = ROW_COUNT;
  DELETE FROM endpoint_transitions t
   WHERE (t.endpoint_id, t.ring_slot) IN (
     SELECT t2.endpoint_id, t2.ring_slot FROM endpoint_transitions t2
       JOIN endpoints e ON e.id = t2.endpoint_id
      WHERE e.archived_at < p_before
      LIMIT p_limit);
  GET DIAGNOSTICS transitions_deleted = ROW_COUNT;
  DELETE FROM hints WHERE id IN (SELECT h.id FROM hints h WHERE h.expires_at < p_before LIMIT p_limit);
  GET DIAGNOSTICS hints_deleted = ROW_COUNT;
  RETURN NEXT;
END
$$;

--- step tickwise_overview
CREATE OR REPLACE VIEW tickwise_overview AS
SELECT
  (SELECT count(*) FROM endpoints WHERE state = 'idle' AND archived_at IS NULL AND next_run_at <= now()) AS due_now,
  (SELECT count(*) FROM endpoints WHERE lease_owner IS NOT NULL AND lease_expires_at >= now()) AS leased,
  (SELECT count(*) FROM endpoints WHERE state = 'running') AS running,
  (SELECT count(*) FROM endpoints WHERE state IN ('due', 'running') AND lease_expires_at < now()) AS expired_leases,
  (SELECT count(*) FROM endpoints WHERE state = 'paused' AND archived_at IS NULL) AS paused,
  (SELECT count(*) FROM runs WHERE id >= tickwise_uuid7_floor(now() - interval '1 hour') AND status = 'failed') AS failures_last_hour,
  (SELECT count(*) FROM runs WHERE id >= tickwise_uuid7_floor(now() - interval '1 hour')) AS runs_last_hour;
