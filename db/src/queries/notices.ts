import type { Queryable } from '../pool.ts';
import type { Notice } from './commits.ts';

/** The channel a notice's writer notifies (payload empty); the planner listens, and polls anyway. */
export const NOTICES_CHANNEL = 'tickwise_notices';

/** Stores a notice in the caller's transaction and wakes its readers; a notice stored twice is kept once. */
export async function insertNotice(db: Queryable, endpointId: string, notice: Notice): Promise<void> {
  await db.query('INSERT INTO endpoint_notices (id, endpoint_id, kind, detail) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING', [notice.id, endpointId, notice.kind, JSON.stringify(notice.detail)]);
  await db.query(`SELECT tickwise_notify($1, '')`, [NOTICES_CHANNEL]);
}

export interface StoredNotice extends Notice {
  endpointId: string;
  createdAt: Date;
}

/** Notices with an id above `after` (null: from the start), oldest first. */
export async function noticesAfter(db: Queryable, after: string | null, limit: number): Promise<StoredNotice[]> {
  const { rows } = await db.query<{ id: string; endpoint_id: string; kind: Notice['kind']; detail: Notice['detail']; created_at: Date }>(
    'SELECT id, endpoint_id, kind, detail, created_at FROM endpoint_notices WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2',
    [after, limit],
  );
  return rows.map((row) => ({ id: row.id, endpointId: row.endpoint_id, kind: row.kind, detail: row.detail, createdAt: row.created_at }));
}
