-- The audit trail (docs/api.md#audit-trail): every change made through the API or the CLI, who made
-- it, what it changed and when. Same rules as 0001: one idempotent DDL per step, forward only;
-- PostgreSQL 11 dialect (YugabyteDB 2024.x). No foreign keys: an event outlives the key, job or
-- endpoint it names, until retention prunes it (TICKWISE_RUN_RETENTION, as runs).

--- step audit_events
CREATE TABLE IF NOT EXISTS audit_events (
  -- UUIDv7 made by the application: the order of the list and the retention cursor, as for runs
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL,
  -- the API key that made the change; null for a command run on the database
  actor_key_id uuid,
  -- the key's name, or "cli (database) as <OS user>"
  actor text NOT NULL,
  -- 'api' | 'cli'
  via text NOT NULL,
  -- the procedure (tickwise.v1.JobService/CreateJob) or the command ("apply", "keys create")
  action text NOT NULL,
  -- what the change is about, kind and name: "job orders", "endpoint orders/poll", "key ops"
  target text NOT NULL,
  -- what changed, redacted: never a secret's value, a signing secret or an API key
  summary jsonb NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);

--- step audit_events_tenant_idx only=postgres
-- A tenant's events newest first (ListAuditEvents pages by id).
CREATE INDEX IF NOT EXISTS audit_events_tenant_idx ON audit_events (tenant_id, id DESC);

--- step audit_events_tenant_idx only=yugabyte
CREATE INDEX IF NOT EXISTS audit_events_tenant_idx ON audit_events (tenant_id HASH, id DESC);
