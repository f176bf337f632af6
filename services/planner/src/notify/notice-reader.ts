import { advanceNoticesPosition, newId, noticesAfter, noticesPosition, notifyEndpoints, uuid7Floor, uuid7Time, type Pool, type StoredNotice } from '@tickwise/db';
import type { Logger } from '@tickwise/platform';
import { notificationRow } from './notification-rows.ts';
import type { PauseDetail } from './payloads.ts';
import { writeNotifications } from './tracker.ts';

export interface NoticeReaderOptions {
  pool: Pool;
  publicUrl: string | null;
  log: Logger;
  /** Called after notifications with deliveries committed. */
  onDeliveries?: () => void;
  /** How far behind its position the reader looks for notices that committed late. */
  lateWindowMs?: number;
  pageSize?: number;
}

const PAUSED_BY = new Set(['person', 'hint', 'breaker']);

/**
 * Turns `endpoint_notices` (a person, a hint or the breaker paused an endpoint) into notifications,
 * on the database whichever path run events take. Every planner reads them (making a notification
 * is kept to once by its key), from the position any of them reached. Notice ids are UUIDv7 made
 * before the writer committed, so one can commit below the position: each read looks back
 * `lateWindowMs` and skips what it saw. The caller decides when to read (NOTIFY, or a poll).
 */
export class NoticeReader {
  private position: string | null | undefined;
  private readonly seen = new Set<string>();
  private readonly lateWindowMs: number;
  private readonly pageSize: number;

  constructor(private readonly options: NoticeReaderOptions) {
    this.lateWindowMs = options.lateWindowMs ?? 10_000;
    this.pageSize = options.pageSize ?? 500;
  }

  /** Reads the notices not yet seen, writes their notifications, moves the position. Returns how many were new. */
  async readOnce(): Promise<number> {
    const { pool } = this.options;
    if (this.position === undefined) this.position = await noticesPosition(pool);
    const floor = this.position === null ? null : uuid7Floor(new Date(uuid7Time(this.position).getTime() - this.lateWindowMs));
    const fresh: StoredNotice[] = [];
    for (let after = floor; ; ) {
      const page = await noticesAfter(pool, after, this.pageSize);
      fresh.push(...page.filter((notice) => !this.seen.has(notice.id)));
      if (page.length < this.pageSize) break;
      after = page.at(-1)!.id;
    }
    if (fresh.length === 0) return 0;
    const endpoints = await notifyEndpoints(pool, fresh.map((notice) => notice.endpointId));
    const rows = fresh.flatMap((notice) => {
      const endpoint = endpoints.get(notice.endpointId);
      const pause = pauseOf(notice);
      if (!endpoint || !pause) return [];
      const row = notificationRow({ kind: 'paused', pause, noticeId: notice.id, at: notice.createdAt }, endpoint, this.options.publicUrl, newId, new Date());
      return row ? [row] : [];
    });
    if (rows.length > 0) {
      const made = await writeNotifications(pool, rows, this.options.log);
      if (made.some(([, deliveries]) => deliveries > 0)) this.options.onDeliveries?.();
    }
    for (const notice of fresh) this.seen.add(notice.id);
    const highest = fresh.reduce((top, notice) => (notice.id > top ? notice.id : top), this.position ?? fresh[0]!.id);
    if (this.position === null || highest > this.position) {
      this.position = highest;
      await advanceNoticesPosition(pool, highest);
    }
    const keep = uuid7Floor(new Date(uuid7Time(this.position).getTime() - this.lateWindowMs));
    for (const id of this.seen) if (id < keep) this.seen.delete(id);
    return fresh.length;
  }
}

/** The pause a notice records, or null for a notice of another kind or shape (skipped). Pure. */
export function pauseOf(notice: StoredNotice): PauseDetail | null {
  const detail = notice.detail as Partial<PauseDetail> | null;
  if (notice.kind !== 'paused' || !detail || !PAUSED_BY.has(detail.by as string)) return null;
  return { by: detail.by!, reason: typeof detail.reason === 'string' ? detail.reason : '', until: typeof detail.until === 'string' ? detail.until : null };
}
