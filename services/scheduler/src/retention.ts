import { prune, pruneAuditEvents, type Pool } from '@tickwise/db';
import { every, type Periodic } from './periodic.ts';

const ROUND_MS = 10 * 60_000;
const BATCH = 5_000;
/** Most batches per round: a long backlog is worked off over several rounds, not in one burst. */
const MAX_BATCHES = 20;

/**
 * Deletes runs (and transitions of long-archived endpoints, expired hints) older than the retention,
 * every ten minutes, in batches; and audit events, which are kept as long as runs. One pruning node
 * is enough (TICKWISE_PRUNE on the others: false).
 */
export class Retention {
  private periodic: Periodic | undefined;

  constructor(private readonly options: { pool: Pool; retentionMs: number; onError: (error: Error) => void }) {}

  start(): void {
    this.periodic = every(ROUND_MS, () => this.pruneOnce(), this.options.onError);
  }

  stop(): void {
    this.periodic?.stop();
  }

  /** One round: batches until one comes back short. */
  async pruneOnce(now = new Date()): Promise<void> {
    const before = new Date(now.getTime() - this.options.retentionMs);
    for (let round = 0; round < MAX_BATCHES; round++) {
      const deleted = await prune(this.options.pool, before, BATCH);
      const audit = await pruneAuditEvents(this.options.pool, before, BATCH);
      if (deleted.runs + deleted.transitions + deleted.hints < BATCH && audit < BATCH) return;
    }
  }
}
