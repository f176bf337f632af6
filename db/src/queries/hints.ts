import type { Hint, HintKind } from '@tickwise/machines';
import type { Queryable } from '../pool.ts';

interface RawHint {
  id: string;
  endpoint_id: string;
  kind: HintKind;
  interval_ms: string | null;
  at: Date | null;
  reason: string;
  source: string;
  created_at: Date;
  expires_at: Date;
}

/** Unexpired, uncleared hints of the given endpoints, grouped by endpoint. */
export async function activeHints(db: Queryable, endpointIds: readonly string[]): Promise<Map<string, Hint[]>> {
  const byEndpoint = new Map<string, Hint[]>();
  if (endpointIds.length === 0) return byEndpoint;
  const { rows } = await db.query<RawHint>(
    `SELECT id, endpoint_id, kind, interval_ms, at, reason, source, created_at, expires_at
       FROM hints WHERE endpoint_id = ANY ($1::uuid[]) AND cleared_at IS NULL AND expires_at > now()`,
    [endpointIds],
  );
  for (const row of rows) {
    const hint: Hint = { id: row.id, kind: row.kind, reason: row.reason, source: row.source, createdAt: row.created_at, expiresAt: row.expires_at };
    if (row.interval_ms !== null) hint.intervalMs = Number(row.interval_ms);
    if (row.at !== null) hint.at = row.at;
    const list = byEndpoint.get(row.endpoint_id) ?? [];
    list.push(hint);
    byEndpoint.set(row.endpoint_id, list);
  }
  return byEndpoint;
}

export interface NewHint {
  id: string;
  endpointId: string;
  kind: HintKind;
  intervalMs?: number;
  at?: Date;
  reason: string;
  source: string;
  expiresAt: Date;
}

export async function insertHint(db: Queryable, hint: NewHint): Promise<void> {
  await db.query(
    `INSERT INTO hints (id, endpoint_id, kind, interval_ms, at, reason, source, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [hint.id, hint.endpointId, hint.kind, hint.intervalMs ?? null, hint.at ?? null, hint.reason, hint.source, hint.expiresAt],
  );
}
