import type { Hint, HintKind } from '@tickwise/machines';
import { newId } from '../ids.ts';
import type { Queryable } from '../pool.ts';
import { insertNotice } from './notices.ts';

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

/** The channel hint writes notify on; the payload is a JSON array of endpoint ids. */
export const HINTS_CHANNEL = 'tickwise_hints';

export interface HintChange {
  endpointId: string;
  /** Hints to add. */
  add: NewHint[];
  /** Active hints of these sources are cleared first (a planner replaces its own hints). */
  clearSources?: string[];
  /** Active hints with these ids are cleared. */
  clearIds?: string[];
  analysisId?: string | null;
}

/** NOTIFY payloads must stay under 8000 bytes; a uuid in a JSON array takes 39. */
const IDS_PER_NOTIFY = 150;

/**
 * Applies hint changes inside the caller's transaction: clears, inserts, bumps each endpoint's
 * hint_version (so a free machine is re-planned once) and notifies the schedulers, all committed
 * together. Hint ids are the caller's: inserting one twice is a no-op, and a clear never clears a
 * hint its own change adds, so applying a change again leaves the same hints in force. Changes of
 * endpoints that do not exist are ignored (nothing written). Returns the ids of the endpoints that
 * exist.
 */
export async function applyHintChanges(db: Queryable, changes: readonly HintChange[]): Promise<string[]> {
  const touched = [...new Set(changes.map((change) => change.endpointId))].sort();
  if (touched.length === 0) return [];
  // First: tells which endpoints exist, and queues concurrent hint writers of one endpoint here.
  const { rows } = await db.query<{ id: string }>('UPDATE endpoints SET hint_version = hint_version + 1 WHERE id = ANY ($1::uuid[]) RETURNING id', [touched]);
  const existing = new Set(rows.map((row) => row.id));
  const applied = changes.filter((change) => existing.has(change.endpointId));
  // Read before the clears below: a pause this change replaces still counts as ongoing.
  const pausing = applied.filter((change) => change.add.some((hint) => hint.kind === 'pause_until')).map((change) => change.endpointId);
  const ongoing = pausing.length === 0 ? new Set<string>() : await pausedWithinEpisode(db, pausing);
  for (const change of applied) {
    const keep = change.add.map((hint) => hint.id);
    if (change.clearSources && change.clearSources.length > 0) {
      await db.query(
        'UPDATE hints SET cleared_at = now() WHERE endpoint_id = $1 AND source = ANY ($2::text[]) AND cleared_at IS NULL AND expires_at > now() AND NOT (id = ANY ($3::uuid[]))',
        [change.endpointId, change.clearSources, keep],
      );
    }
    if (change.clearIds && change.clearIds.length > 0) {
      await db.query('UPDATE hints SET cleared_at = now() WHERE endpoint_id = $1 AND id = ANY ($2::uuid[]) AND cleared_at IS NULL', [change.endpointId, change.clearIds]);
    }
  }
  const added = applied.flatMap((change) => change.add.filter((hint) => existing.has(hint.endpointId)).map((hint) => ({ ...hint, analysisId: change.analysisId ?? null })));
  if (added.length > 0) {
    const { rows: inserted } = await db.query<{ id: string }>(
      `INSERT INTO hints (id, endpoint_id, kind, interval_ms, at, reason, source, expires_at, analysis_id)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::timestamptz[], $6::text[], $7::text[], $8::timestamptz[], $9::uuid[])
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [
        added.map((hint) => hint.id),
        added.map((hint) => hint.endpointId),
        added.map((hint) => hint.kind),
        added.map((hint) => hint.intervalMs ?? null),
        added.map((hint) => hint.at ?? null),
        added.map((hint) => hint.reason),
        added.map((hint) => hint.source),
        added.map((hint) => hint.expiresAt),
        added.map((hint) => hint.analysisId),
      ],
    );
    // A pause is news to whoever the job notifies: told once, for the hint that was new (a change
    // applied again inserts nothing, so tells nothing), and once per episode: a target that keeps
    // answering 429 with Retry-After 5s gets a pause hint every few seconds, and one notice.
    const fresh = new Set(inserted.map((row) => row.id));
    for (const hint of added) {
      if (hint.kind !== 'pause_until' || !fresh.has(hint.id) || ongoing.has(hint.endpointId)) continue;
      await insertNotice(db, hint.endpointId, { id: newId(), kind: 'paused', detail: { by: 'hint', reason: hint.reason, until: hint.at?.toISOString() ?? null } });
    }
  }
  const ids = [...existing].sort();
  const payloads: string[] = [];
  for (let index = 0; index < ids.length; index += IDS_PER_NOTIFY) payloads.push(JSON.stringify(ids.slice(index, index + IDS_PER_NOTIFY)));
  if (payloads.length > 0) await db.query('SELECT tickwise_notify($1, payload) FROM unnest($2::text[]) AS payload', [HINTS_CHANNEL, payloads]);
  return ids;
}

/**
 * Pause hints that end (or were cleared) less than this before a new one make one episode with it:
 * the new one is not told again.
 */
export const PAUSE_EPISODE_MS = 15 * 60_000;

/**
 * Of `endpointIds`, those with an uncleared pause hint in force or ended within PAUSE_EPISODE_MS (a
 * pause a person cleared ends its episode). Reads through the partial index of uncleared hints.
 */
async function pausedWithinEpisode(db: Queryable, endpointIds: readonly string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ endpoint_id: string }>(
    `SELECT DISTINCT endpoint_id FROM hints
      WHERE endpoint_id = ANY ($1::uuid[]) AND cleared_at IS NULL AND kind = 'pause_until'
        AND expires_at > now() - $2 * interval '1 millisecond' AND at > now() - $2 * interval '1 millisecond'`,
    [endpointIds, PAUSE_EPISODE_MS],
  );
  return new Set(rows.map((row) => row.endpoint_id));
}

export interface StoredHint extends Hint {
  endpointId: string;
  clearedAt: Date | null;
  analysisId: string | null;
}

/** Hints of an endpoint, newest first: active ones, and past ones (expired or cleared) when asked. */
export async function listHints(db: Queryable, endpointId: string, options: { includePast: boolean; limit: number }): Promise<StoredHint[]> {
  const { rows } = await db.query<RawHint & { cleared_at: Date | null; analysis_id: string | null }>(
    `SELECT id, endpoint_id, kind, interval_ms, at, reason, source, created_at, expires_at, cleared_at, analysis_id
       FROM hints
      WHERE endpoint_id = $1 AND ($2 OR (cleared_at IS NULL AND expires_at > now()))
      ORDER BY id DESC LIMIT $3`,
    [endpointId, options.includePast, options.limit],
  );
  return rows.map((row) => {
    const hint: StoredHint = {
      id: row.id,
      endpointId: row.endpoint_id,
      kind: row.kind,
      reason: row.reason,
      source: row.source,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      clearedAt: row.cleared_at,
      analysisId: row.analysis_id,
    };
    if (row.interval_ms !== null) hint.intervalMs = Number(row.interval_ms);
    if (row.at !== null) hint.at = row.at;
    return hint;
  });
}
