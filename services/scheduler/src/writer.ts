import { commitMachines, isConnectionError, markRunning, withRetry, type Committed, type MachineWrite, type Pool, type RunRecord } from '@tickwise/db';
import type { Logger } from '@tickwise/platform';
import type { NodeMetrics } from './metrics.ts';

interface PendingCommit {
  run: RunRecord | null;
  machine: MachineWrite;
  settle: (result: Committed | null) => void;
  fail: (error: Error) => void;
}

/**
 * Group commit for one node: while one statement is in flight, the next batch gathers, so the
 * number of statements per run falls as load rises. Writes survive a database restart (they are
 * retried until they land or the writer closes); a machine that lost its lease comes back as null.
 */
export class BatchWriter {
  private running: { id: string; version: number }[] = [];
  private commits: PendingCommit[] = [];
  private flushing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly worker: string,
    private readonly log: Logger,
    private readonly metrics?: NodeMetrics,
    private readonly maxBatch = 500,
  ) {}

  /** Persists due → running for a dispatch that started. Best effort: the commit that follows is what counts. */
  markRunning(id: string, version: number): void {
    this.running.push({ id, version });
    this.kick();
  }

  /** Records the run (if any) and writes the machine; resolves with the new version, or null if the lease was lost. */
  commit(run: RunRecord | null, machine: MachineWrite): Promise<Committed | null> {
    return new Promise((settle, fail) => {
      this.commits.push({ run, machine, settle, fail });
      this.kick();
    });
  }

  /** Waits until everything queued so far has been written. */
  async drain(): Promise<void> {
    while (this.flushing || this.commits.length > 0 || this.running.length > 0) {
      this.kick();
      await this.flushing;
    }
  }

  close(): void {
    this.closed = true;
    for (const pending of this.commits.splice(0)) pending.fail(new Error('writer closed before the write landed'));
    this.running = [];
  }

  private kick(): void {
    if (this.flushing || this.closed) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = null;
    });
  }

  private async flushLoop(): Promise<void> {
    let backoff = 50;
    while (!this.closed && (this.running.length > 0 || this.commits.length > 0)) {
      try {
        await this.flushOnce();
        backoff = 50;
      } catch (error) {
        if (!isConnectionError(error)) throw error;
        this.metrics?.writeRetried();
        this.log.warn('database unreachable; writes wait', { error: (error as Error).message, retryInMs: backoff });
        await new Promise((resolve) => setTimeout(resolve, backoff));
        backoff = Math.min(2_000, backoff * 2);
      }
    }
  }

  private async flushOnce(): Promise<void> {
    if (this.running.length > 0) {
      const batch = this.running.slice(0, this.maxBatch);
      try {
        await withRetry(() => markRunning(this.pool, this.worker, batch));
      } catch (error) {
        if (isConnectionError(error)) throw error;
        this.log.error('marking runs as running failed', { error: (error as Error).message, machines: batch.length });
      }
      this.running.splice(0, batch.length);
    }
    if (this.commits.length === 0) return;
    const batch = this.commits.slice(0, this.maxBatch);
    let written: Map<string, Committed>;
    try {
      const runs = batch.flatMap((pending) => (pending.run ? [pending.run] : []));
      const machines = batch.map((pending) => pending.machine);
      // Safe to repeat: run ids make the inserts idempotent and versions guard the machines.
      written = await withRetry(() => commitMachines(this.pool, this.worker, runs, machines));
    } catch (error) {
      if (isConnectionError(error)) throw error;
      // Not a connection problem: a bug or bad data. Fail these writes instead of retrying forever.
      this.commits.splice(0, batch.length);
      for (const pending of batch) pending.fail(error as Error);
      this.log.error('commit failed', { error: (error as Error).message, machines: batch.length });
      return;
    }
    this.commits.splice(0, batch.length);
    this.metrics?.committed(batch.length);
    for (const pending of batch) pending.settle(written.get(pending.machine.id) ?? null);
  }
}
