-- Tables of the core: jobs, endpoints (one row = one machine), runs, transition history, hints.
-- Each "--- step" runs on its own, outside a transaction (YugabyteDB runs no DDL inside one),
-- and is idempotent, so a runner that died half way simply runs it again.

--- step jobs
CREATE TABLE IF NOT EXISTS jobs (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  synthetic boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  archived_at timestamptz,
  CONSTRAINT jobs_name_key UNIQUE (name)
);

--- step endpoints
CREATE TABLE IF NOT EXISTS endpoints (
  id uuid PRIMARY KEY,
  job_id uuid NOT NULL REFERENCES jobs (id),
  name text NOT NULL,
  spec jsonb NOT NULL,
  -- a small shard chosen by the application, so claimers spread over the due index
  bucket smallint NOT NULL,
  state text NOT NULL CHECK (state IN ('idle', 'due', 'running', 'planning', 'paused')),
  snapshot jsonb NOT NULL,
  next_run_at timestamptz,
  reason text,
  claimed_slot timestamptz,
  attempt integer NOT NULL DEFAULT 0,
  lease_owner text,
  lease_expires_at timestamptz,
  paused_reason text,
  paused_until timestamptz,
  paused_at timestamptz,
  version integer NOT NULL DEFAULT 1,
  transition_seq bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  archived_at timestamptz,
  CONSTRAINT endpoints_job_name_key UNIQUE (job_id, name)
);

--- step endpoints_due_idx only=postgres
CREATE INDEX IF NOT EXISTS endpoints_due_idx ON endpoints (bucket, next_run_at)
  WHERE state IN ('idle', 'paused') AND archived_at IS NULL;

--- step endpoints_due_idx only=yugabyte
-- Hash on the bucket spreads the moving timestamp over tablets; ASC keeps each bucket ordered.
CREATE INDEX IF NOT EXISTS endpoints_due_idx ON endpoints (bucket HASH, next_run_at ASC)
  WHERE state IN ('idle', 'paused') AND archived_at IS NULL;

--- step endpoints_lease_idx only=postgres
CREATE INDEX IF NOT EXISTS endpoints_lease_idx ON endpoints (lease_expires_at)
  WHERE lease_owner IS NOT NULL;

--- step endpoints_lease_idx only=yugabyte
CREATE INDEX IF NOT EXISTS endpoints_lease_idx ON endpoints (bucket HASH, lease_expires_at ASC)
  WHERE lease_owner IS NOT NULL;

--- step runs
CREATE TABLE IF NOT EXISTS runs (
  -- time-ordered UUIDv7 made by the application: also the retention cursor
  id uuid PRIMARY KEY,
  endpoint_id uuid NOT NULL,
  job_id uuid NOT NULL,
  slot timestamptz NOT NULL,
  attempt integer NOT NULL,
  worker text NOT NULL,
  status text NOT NULL CHECK (status IN ('succeeded', 'failed')),
  http_status integer,
  duration_ms double precision NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  error_kind text,
  error_message text,
  response_body text,
  response_truncated boolean NOT NULL DEFAULT false,
  planned_source text
);

--- step runs_endpoint_idx only=postgres
CREATE INDEX IF NOT EXISTS runs_endpoint_idx ON runs (endpoint_id, id DESC);

--- step runs_endpoint_idx only=yugabyte
CREATE INDEX IF NOT EXISTS runs_endpoint_idx ON runs (endpoint_id HASH, id DESC);

--- step endpoint_transitions
-- The machine's history: one row per write of the machine (a claim-to-commit cycle is one write of
-- CLAIM → DISPATCH → FINISH → PLANNED), its steps in order. A ring of the last 100 writes per
-- endpoint (ring_slot = seq % 100, upserted): bounded by construction, nothing to clean up.
CREATE TABLE IF NOT EXISTS endpoint_transitions (
  endpoint_id uuid NOT NULL,
  ring_slot smallint NOT NULL,
  seq bigint NOT NULL,
  at timestamptz NOT NULL,
  from_state text,
  to_state text NOT NULL,
  -- [{ "from", "to", "event", "at", "reason"?, "nextRunAt"?, "runId"? }, ...]
  steps jsonb NOT NULL,
  reason text,
  next_run_at timestamptz,
  run_id uuid,
  worker text,
  PRIMARY KEY (endpoint_id, ring_slot)
);

--- step hints
CREATE TABLE IF NOT EXISTS hints (
  id uuid PRIMARY KEY,
  endpoint_id uuid NOT NULL,
  kind text NOT NULL CHECK (kind IN ('interval', 'run_at', 'pause_until')),
  interval_ms bigint,
  at timestamptz,
  reason text NOT NULL,
  source text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  cleared_at timestamptz,
  CHECK ((kind = 'interval') = (interval_ms IS NOT NULL)),
  CHECK ((kind = 'interval') <> (at IS NOT NULL))
);

--- step hints_endpoint_idx
CREATE INDEX IF NOT EXISTS hints_endpoint_idx ON hints (endpoint_id, expires_at) WHERE cleared_at IS NULL;
