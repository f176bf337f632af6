-- Notifications (docs/notifications.md): who is told when an endpoint starts failing, recovers or is
-- paused, what the planner made of it, and each delivery to each target with its retries. Same rules
-- as 0001: one idempotent DDL per step, forward only; PostgreSQL 11 dialect (YugabyteDB 2024.x).
-- No foreign keys, as elsewhere: endpoints and jobs are archived, never deleted.

--- step jobs_notify
-- The job's notify targets as the catalog stored them: [{ channel: 'webhook' | 'slack', url, after }].
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS notify jsonb NOT NULL DEFAULT '[]'::jsonb;

--- step notifications only=postgres
-- One row per thing a job's targets are told: an endpoint's failure streak reached a target's
-- `after` (kind 'failing', one row per streak and threshold), the streak ended (kind 'recovered',
-- one per streak), or an endpoint was paused (kind 'paused', one per endpoint_notices row).
-- `dedup_key` makes each of those once, whoever writes it and however often: a redelivered batch, a
-- second planner or a restart finds the row already there.
CREATE TABLE IF NOT EXISTS notifications (
  -- UUIDv7 made by the planner
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL,
  job_id uuid NOT NULL,
  endpoint_id uuid NOT NULL,
  -- 'failing' | 'recovered' | 'paused'
  kind text NOT NULL,
  -- failing:<streak>:<after> | recovered:<streak> | paused:<notice id>
  dedup_key text NOT NULL,
  -- the first failed run of the streak (failing, recovered): what identifies a streak
  streak_key uuid,
  -- failing: the `after` this row was made for
  threshold integer,
  -- the webhook body, made once so every retry sends the same bytes
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

--- step notifications only=yugabyte
CREATE TABLE IF NOT EXISTS notifications (
  id uuid NOT NULL,
  tenant_id uuid NOT NULL,
  job_id uuid NOT NULL,
  endpoint_id uuid NOT NULL,
  kind text NOT NULL,
  dedup_key text NOT NULL,
  streak_key uuid,
  threshold integer,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id HASH)
);

--- step notifications_dedup_key
CREATE UNIQUE INDEX IF NOT EXISTS notifications_dedup_key ON notifications (endpoint_id, dedup_key);

--- step notifications_endpoint_idx only=postgres
CREATE INDEX IF NOT EXISTS notifications_endpoint_idx ON notifications (endpoint_id, id DESC);

--- step notifications_endpoint_idx only=yugabyte
CREATE INDEX IF NOT EXISTS notifications_endpoint_idx ON notifications (endpoint_id HASH, id DESC);

--- step notification_deliveries only=postgres
-- One row per notification and target: what was sent where, how it went. The id is the
-- webhook-id of every attempt, so a receiver can drop a repeat. A sender holds a row through a
-- lease while it sends; `attempts` counts attempts started.
CREATE TABLE IF NOT EXISTS notification_deliveries (
  id uuid PRIMARY KEY,
  notification_id uuid NOT NULL,
  tenant_id uuid NOT NULL,
  job_id uuid NOT NULL,
  endpoint_id uuid NOT NULL,
  kind text NOT NULL,
  -- 'webhook' | 'slack'
  channel text NOT NULL,
  url text NOT NULL,
  -- 'pending' (to send, now or at next_attempt_at) | 'sent' | 'failed' (gave up)
  status text NOT NULL DEFAULT 'pending',
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  lease_owner text,
  lease_expires_at timestamptz,
  last_error text,
  last_http_status integer,
  last_attempt_at timestamptz,
  sent_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT notification_deliveries_status CHECK (status IN ('pending', 'sent', 'failed'))
);

--- step notification_deliveries only=yugabyte
CREATE TABLE IF NOT EXISTS notification_deliveries (
  id uuid NOT NULL,
  notification_id uuid NOT NULL,
  tenant_id uuid NOT NULL,
  job_id uuid NOT NULL,
  endpoint_id uuid NOT NULL,
  kind text NOT NULL,
  channel text NOT NULL,
  url text NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  lease_owner text,
  lease_expires_at timestamptz,
  last_error text,
  last_http_status integer,
  last_attempt_at timestamptz,
  sent_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id HASH),
  CONSTRAINT notification_deliveries_status CHECK (status IN ('pending', 'sent', 'failed'))
);

--- step notification_deliveries_target_key
-- A notification reaches a target once: a second writer of the same delivery finds it there.
CREATE UNIQUE INDEX IF NOT EXISTS notification_deliveries_target_key ON notification_deliveries (notification_id, channel, url);

--- step notification_deliveries_pending_idx only=postgres
-- Only rows still to send: the senders' claim reads this, whatever the size of the history.
CREATE INDEX IF NOT EXISTS notification_deliveries_pending_idx ON notification_deliveries (next_attempt_at) WHERE status = 'pending';

--- step notification_deliveries_pending_idx only=yugabyte
CREATE INDEX IF NOT EXISTS notification_deliveries_pending_idx ON notification_deliveries (next_attempt_at ASC) WHERE status = 'pending';

--- step notification_deliveries_tenant_idx only=postgres
CREATE INDEX IF NOT EXISTS notification_deliveries_tenant_idx ON notification_deliveries (tenant_id, id DESC);

--- step notification_deliveries_tenant_idx only=yugabyte
CREATE INDEX IF NOT EXISTS notification_deliveries_tenant_idx ON notification_deliveries (tenant_id HASH, id DESC);

--- step notification_deliveries_endpoint_idx only=postgres
CREATE INDEX IF NOT EXISTS notification_deliveries_endpoint_idx ON notification_deliveries (endpoint_id, id DESC);

--- step notification_deliveries_endpoint_idx only=yugabyte
CREATE INDEX IF NOT EXISTS notification_deliveries_endpoint_idx ON notification_deliveries (endpoint_id HASH, id DESC);
