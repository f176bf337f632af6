-- A takeover says whose lease expired. tickwise_take_over_expired's RETURNING sees the row after the
-- update, whose lease_owner is already the new owner, so the history said "lease of <new owner>
-- expired". This variant returns the previous owner next to the machine; the scheduler uses it.
-- The old function stays: nodes of the previous release call it during a rolling upgrade.

--- step tickwise_take_over_expired_from
CREATE OR REPLACE FUNCTION tickwise_take_over_expired_from(p_worker text, p_limit integer, p_lease_ms integer)
RETURNS TABLE (previous_owner text, machine endpoints) LANGUAGE sql AS $$
  UPDATE endpoints e
     SET lease_owner = p_worker,
         lease_expires_at = now() + make_interval(secs => p_lease_ms / 1000.0),
         attempt = e.attempt + 1,
         version = e.version + 1,
         updated_at = now()
    FROM (
      SELECT c.id, c.lease_owner FROM endpoints c
       WHERE c.lease_owner IS NOT NULL
         AND c.lease_expires_at < now()
         AND c.state IN ('due', 'running')
       ORDER BY c.lease_expires_at
       LIMIT p_limit
       FOR UPDATE SKIP LOCKED
    ) expired
   WHERE e.id = expired.id
  RETURNING expired.lease_owner, e
$$;
