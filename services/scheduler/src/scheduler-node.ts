import { activeHints, BUCKET_COUNT, claimDue, commitMachines, HINTS_CHANNEL, hintVersions, isConnectionError, newId, nextDueAt, prune, renewLeases, startListener, takeOverExpired, WAKE_CHANNEL, withRetry, type EndpointRow, type Listener, type MachineWrite, type Pool, type RunRecord, type TransitionRow } from '@tickwise/db';
import { planWrite, replanForHints, type ReplannedMachine } from '@tickwise/catalog';
import { persistSnapshot, restoreSnapshot, stateOf, step, type EndpointEvent, type EndpointSnapshot, type Hint, type UserPause } from '@tickwise/machines';
import { setMaxListeners } from 'node:events';
import type { SchedulerConfig } from './config.ts';
import { Dispatcher, type DispatchResult } from './dispatcher.ts';
import type { Logger } from './log.ts';
import { NodeMetrics, type NodeCounts } from './metrics.ts';
import { SigningSecretCache } from './signing.ts';
import { BatchWriter } from './writer.ts';

/** A call still in flight after this long is persisted as `running`. */
const MARK_RUNNING_AFTER_MS = 250;

/** Most machines re-planned for hints in one transaction. */
const HINT_REPLAN_BATCH = 200;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A machine this node holds a lease on, from claim until its commit lands. */
interface Held {
  row: EndpointRow;
  snapshot: EndpointSnapshot;
  /** The version in the database; every write is guarded by it. */
  version: number;
  slot: Date;
  hints: Hint[];
  /** The hint_version read before `hints`: the plan after the run accounts for it. */
  hintVersion: number;
  /** Hints changed since `hints` were read (a notification): re-read them before planning. */
  hintsStale?: boolean;
  transitions: TransitionRow[];
  timer?: NodeJS.Timeout;
  inFlight?: Promise<void>;
}

export interface SchedulerStats extends NodeCounts {
  held: number;
}

export interface SchedulerNodeOptions {
  pool: Pool;
  connectionString: string;
  config: SchedulerConfig;
  log: Logger;
}

/**
 * One scheduler node: sleeps until the next due time or a wake-up, claims a little ahead, dispatches
 * each slot exactly on time (never early), records the run and plans the next one through the
 * endpoint machine, renews its leases, takes over machines of dead peers and hands its leases back
 * on shutdown.
 */
export class SchedulerNode {
  private readonly pool: Pool;
  private readonly config: SchedulerConfig;
  private readonly log: Logger;
  private readonly writer: BatchWriter;
  private readonly dispatcher: Dispatcher;
  private readonly shutdown = new AbortController();
  private readonly held = new Map<string, Held>();
  private readonly metrics: NodeMetrics;
  private listener: Listener | undefined;
  private loop: Promise<void> | undefined;
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private wakeUp: (() => void) | undefined;
  private sleepingUntil = Infinity;
  private bucketOffset: number;
  /** Endpoints named by hint notifications, not held here, waiting to be re-planned. */
  private readonly hintIds = new Set<string>();
  private hintPollDue = false;
  private hintWork: Promise<void> | undefined;

  constructor(private readonly options: SchedulerNodeOptions) {
    this.pool = options.pool;
    this.config = options.config;
    this.log = options.log;
    this.metrics = new NodeMetrics(this.config.workerId);
    this.writer = new BatchWriter(this.pool, this.config.workerId, this.log, this.metrics);
    this.dispatcher = new Dispatcher({ policy: this.config.targetPolicy, secrets: new SigningSecretCache(this.pool, { refreshMs: this.config.signingRefreshMs, log: this.log }) });
    // Every call in flight listens for the shutdown signal.
    setMaxListeners(0, this.shutdown.signal);
    this.bucketOffset = [...this.config.workerId].reduce((sum, char) => sum + char.charCodeAt(0), 0) % BUCKET_COUNT;
  }

  get workerId(): string {
    return this.config.workerId;
  }

  /** Started and not stopping: what the readiness probe asks. */
  get running(): boolean {
    return this.loop !== undefined && !this.stopping;
  }

  getStats(): SchedulerStats {
    return { ...this.metrics.counts, held: this.held.size };
  }

  start(): void {
    if (this.loop) throw new Error('scheduler node already started');
    if (this.config.listen) {
      this.listener = startListener({
        connectionString: this.options.connectionString,
        channels: [WAKE_CHANNEL, HINTS_CHANNEL],
        onNotify: (channel, payload) => (channel === HINTS_CHANNEL ? this.hintsChanged(payload) : this.wake()),
        onStatus: (status, error) => {
          const fields = { status, ...(error ? { error: error.message } : {}) };
          if (status === 'unsupported') this.log.warn(`LISTEN unsupported; polling every ${this.config.pollIntervalMs}ms, hints every ${this.config.hintPollMs}ms`, fields);
          else this.log.debug('listener', fields);
        },
      });
    } else {
      this.log.info(`LISTEN off; polling every ${this.config.pollIntervalMs}ms, hints every ${this.config.hintPollMs}ms`);
    }
    // Always, LISTEN or not: a notification can be missed (listener reconnecting, a hint that
    // arrived while a machine was being claimed), and YugabyteDB before 2025.2.3 has none.
    this.timers.push(
      setInterval(() => {
        this.hintPollDue = true;
        this.kickHints();
      }, this.config.hintPollMs),
    );
    this.every(Math.max(100, Math.floor(this.config.leaseMs / 3)), () => this.renew());
    this.every(Math.max(100, Math.floor(this.config.leaseMs / 4)), () => this.takeOver());
    if (this.config.prune) this.every(10 * 60_000, () => this.pruneOld());
    this.metrics.track({ held: () => this.held.size, inFlight: () => [...this.held.values()].filter((held) => held.inFlight !== undefined).length });
    this.loop = this.claimLoop();
  }

  /** Stops claiming, lets runs in flight finish within the grace period, aborts the rest and hands every lease back. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.wake();
    await this.loop;
    for (const timer of this.timers) clearInterval(timer);
    await this.hintWork;
    const waiting = [...this.held.values()].filter((held) => held.timer !== undefined && held.inFlight === undefined);
    await Promise.all(waiting.map((held) => this.release(held, 'node shutting down before the slot')));
    const inFlight = [...this.held.values()].flatMap((held) => (held.inFlight ? [held.inFlight] : []));
    if (inFlight.length > 0) {
      const graceOver = new Promise((resolve) => setTimeout(resolve, this.config.shutdownGraceMs).unref());
      await Promise.race([Promise.all(inFlight), graceOver]);
      this.shutdown.abort();
      await Promise.all(inFlight);
    }
    await this.writer.drain();
    this.writer.close();
    await this.listener?.close();
    await this.dispatcher.close();
    this.metrics.untrack();
    this.log.info('scheduler node stopped', { worker: this.workerId, ...this.getStats() });
  }

  private every(ms: number, task: () => Promise<void>): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy || this.stopping) return;
      busy = true;
      task()
        .catch((error: Error) => this.logDbError('periodic task failed', error))
        .finally(() => (busy = false));
    }, ms);
    this.timers.push(timer);
  }

  private wake(): void {
    this.wakeUp?.();
  }

  /** Sleeps until `until` or a wake-up, whichever comes first. */
  private async sleep(until: number): Promise<void> {
    const ms = until - Date.now();
    if (ms <= 0 || this.stopping) return;
    this.sleepingUntil = until;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeUp = undefined;
    this.sleepingUntil = Infinity;
  }

  private rotatedBuckets(): number[] {
    this.bucketOffset = (this.bucketOffset + 1) % BUCKET_COUNT;
    return Array.from({ length: BUCKET_COUNT }, (_, index) => (index + this.bucketOffset) % BUCKET_COUNT);
  }

  private async claimLoop(): Promise<void> {
    let backoff = 100;
    while (!this.stopping) {
      try {
        const room = this.config.maxInFlight - this.held.size;
        if (room <= 0) {
          await this.sleep(Date.now() + this.config.pollIntervalMs);
          continue;
        }
        const limit = Math.min(this.config.claimBatch, room);
        const buckets = this.rotatedBuckets();
        const claimStarted = performance.now();
        // Under REPEATABLE READ (YugabyteDB without read committed) competing claims can fail with 40001.
        const rows = await withRetry(() => claimDue(this.pool, { worker: this.workerId, limit, leaseMs: this.config.leaseMs, horizon: new Date(Date.now() + this.config.claimAheadMs), buckets }));
        const claimMs = performance.now() - claimStarted;
        this.metrics.claim(claimMs / 1_000, rows.length);
        if (claimMs > this.config.claimAheadMs) {
          this.log.warn('a claim took longer than the claim-ahead window: slots may start late', { claimMs: Math.round(claimMs), claimAheadMs: this.config.claimAheadMs, claimed: rows.length });
        }
        if (rows.length > 0) await this.accept(rows, 'claimed');
        backoff = 100;
        if (rows.length === limit || this.stopping) continue;
        const next = await nextDueAt(this.pool, buckets);
        const wakeAt = Math.min(Date.now() + this.config.pollIntervalMs, next ? next.getTime() - this.config.claimAheadMs : Infinity);
        await this.sleep(wakeAt);
      } catch (error) {
        this.logDbError('claim failed', error as Error);
        await this.sleep(Date.now() + backoff);
        backoff = Math.min(5_000, backoff * 2);
      }
    }
  }

  private async takeOver(): Promise<void> {
    const room = this.config.maxInFlight - this.held.size;
    if (room <= 0) return;
    const rows = await withRetry(() => takeOverExpired(this.pool, this.workerId, Math.min(room, this.config.claimBatch), this.config.leaseMs));
    if (rows.length === 0) return;
    this.metrics.tookOver(rows.length);
    this.log.info('took over expired leases', { count: rows.length, from: [...new Set(rows.map((row) => row.previousOwner))] });
    await this.accept(rows, 'takeover');
  }

  private async accept(rows: (EndpointRow & { previousOwner?: string })[], how: 'claimed' | 'takeover'): Promise<void> {
    const hints = await activeHints(this.pool, rows.map((row) => row.id));
    const now = new Date();
    for (const row of rows) {
      try {
        this.acceptOne(row, hints.get(row.id) ?? [], how, now);
      } catch (error) {
        // A machine we cannot move must not stop the node; its lease expires and a peer retries.
        this.log.error('could not accept machine', { endpoint: row.id, state: row.state, error: (error as Error).message });
      }
    }
  }

  private acceptOne(row: EndpointRow & { previousOwner?: string }, hints: Hint[], how: 'claimed' | 'takeover', now: Date): void {
    const transitions: TransitionRow[] = [];
    let snapshot: EndpointSnapshot;
    if (how === 'takeover') {
      const restored = restoreSnapshot(row.snapshot, row).snapshot;
      const moved = step(restored, { type: 'TAKE_OVER', attempt: row.attempt, slot: row.claimedSlot!.toISOString() }, now);
      transitions.push({ ...moved.record, reason: `lease of ${row.previousOwner ?? 'a node'} expired; attempt ${row.attempt}` });
      snapshot = moved.snapshot;
    } else if (row.state === 'paused') {
      const restored = restoreSnapshot(row.snapshot, row).snapshot;
      this.holdAndPlan(row, restored, { type: 'RESUME' }, hints, transitions, now, null);
      return;
    } else {
      // The claim statement moved the row idle → due; replay CLAIM on the machine so it, not SQL, judges the move.
      const before = restoreSnapshot({ ...(row.snapshot as object), value: 'idle' }, { ...row, state: 'idle' }).snapshot;
      const moved = step(before, { type: 'CLAIM', slot: row.claimedSlot!.toISOString() }, now);
      transitions.push(moved.record);
      snapshot = moved.snapshot;
    }
    const slot = new Date(snapshot.context.slot!);
    const userPause = pauseOf(row, now);
    if (how === 'claimed' && (userPause || (row.spec.catchUp === 'skip' && now.getTime() - slot.getTime() > this.config.catchUpGraceMs))) {
      this.metrics.skipped();
      this.holdAndPlan(row, snapshot, { type: 'SKIP' }, hints, transitions, now, null);
      return;
    }
    const held: Held = { row, snapshot, version: row.version, slot, hints, hintVersion: row.hintVersion, transitions };
    this.held.set(row.id, held);
    this.armDispatch(held);
  }

  /** Dispatches at the slot, never before it: timers may fire early by a millisecond, so re-check. */
  private armDispatch(held: Held): void {
    const wait = held.slot.getTime() - Date.now();
    if (wait <= 0) {
      held.timer = undefined;
      held.inFlight = this.run(held).catch((error: Error) => {
        // A bug, not an outcome: keep the node up; the lease runs out and a peer retries the slot.
        this.log.error('run failed', { endpoint: held.row.id, error: error.message, stack: error.stack });
      });
      return;
    }
    held.timer = setTimeout(() => this.armDispatch(held), wait);
  }

  private async run(held: Held): Promise<void> {
    const { row } = held;
    const startedAt = new Date();
    const dispatched = step(held.snapshot, { type: 'DISPATCH' }, startedAt);
    held.transitions.push(dispatched.record);
    // Persist `running` only for calls still in flight after a moment: a fast call goes from due to
    // its commit directly, which spares a write per run; a slow one shows up as running.
    const markRunning = setTimeout(() => this.writer.markRunning(row.id, held.version), MARK_RUNNING_AFTER_MS);
    this.metrics.dispatched(startedAt.getTime() - held.slot.getTime());
    const runId = newId();
    const attempt = dispatched.snapshot.context.attempt;
    // Also the webhook-id of a signed call: the same for every attempt at this slot, so receivers dedupe on it.
    const idempotencyKey = `${row.id}:${held.slot.getTime()}`;
    const result = await this.dispatcher.call(
      {
        url: row.spec.url,
        method: row.spec.method,
        body: row.spec.body,
        timeoutMs: row.spec.timeoutMs,
        headers: {
          ...row.spec.headers,
          'x-tickwise-endpoint': row.id,
          'x-tickwise-run': runId,
          'x-tickwise-scheduled-at': held.slot.toISOString(),
          'idempotency-key': idempotencyKey,
        },
        sign: { endpointId: row.id, tenantId: null /* row.tenantId once EndpointRow carries it */, webhookId: idempotencyKey },
      },
      this.shutdown.signal,
    );
    clearTimeout(markRunning);
    this.metrics.finished(result);
    const finishedAt = new Date();
    const record = runRecord(runId, row, held.slot, attempt, this.workerId, startedAt, finishedAt, result, dispatched.snapshot.context.source);
    if (result.errorKind === 'aborted') {
      // Shut down mid-call: record the attempt and hand the slot back so a peer runs it again (same key).
      held.snapshot = dispatched.snapshot;
      await this.release(held, 'node shut down during the call', record);
      return;
    }
    const finished = step(dispatched.snapshot, { type: 'FINISH', outcome: result.ok ? 'succeeded' : 'failed' }, finishedAt);
    held.transitions.push({ ...finished.record, runId, reason: result.ok ? `HTTP ${result.httpStatus}` : (result.errorMessage ?? result.errorKind) });
    if (held.hintsStale) await this.rereadHints(held);
    this.planAndCommit(held, finished.snapshot, record, finishedAt, startedAt);
  }

  /** Holds a machine only long enough to plan it and write it (no run). */
  private holdAndPlan(row: EndpointRow, snapshot: EndpointSnapshot, event: EndpointEvent, hints: Hint[], transitions: TransitionRow[], now: Date, record: RunRecord | null): void {
    const moved = step(snapshot, event, now);
    transitions.push(moved.record);
    const held: Held = { row, snapshot: moved.snapshot, version: row.version, slot: row.claimedSlot ?? now, hints, hintVersion: row.hintVersion, transitions };
    this.held.set(row.id, held);
    this.planAndCommit(held, moved.snapshot, record, now, null);
  }

  private planAndCommit(held: Held, planning: EndpointSnapshot, record: RunRecord | null, now: Date, startedAt: Date | null): void {
    const write = { ...planWrite(planning, null, this.planningInput(held, held.version, now, pauseOf(held.row, now), startedAt), held.transitions), plannedHintVersion: held.hintVersion };
    void this.commit(held, record, write);
    if (write.state === 'idle' && write.nextRunAt && write.nextRunAt.getTime() - this.config.claimAheadMs < this.sleepingUntil) this.wake();
  }

  private planningInput(held: Held, version: number, now: Date, userPause: UserPause | null, previousRunStartedAt: Date | null) {
    return { id: held.row.id, version, spec: held.row.spec, now, hints: held.hints, userPause, previousRunStartedAt, lateToleranceMs: this.config.catchUpGraceMs, random: Math.random };
  }

  private async commit(held: Held, record: RunRecord | null, write: MachineWrite): Promise<void> {
    try {
      const committed = await this.writer.commit(record, write);
      if (!committed) {
        this.metrics.leaseLost();
        this.log.warn('lease lost before the write; a peer owns the machine now', { endpoint: held.row.id, slot: held.slot.toISOString() });
        return;
      }
      // A person paused the machine while we held it: re-plan it now that it is free.
      if (committed.pause && write.state === 'idle' && !this.stopping) {
        const snapshot = restoreSnapshot(write.snapshot, { state: 'idle', nextRunAt: write.nextRunAt }).snapshot;
        const again = planWrite(snapshot, { type: 'REPLAN', reason: 'paused by a person' }, this.planningInput(held, committed.version, new Date(), committed.pause, null));
        await withRetry(() => commitMachines(this.pool, null, [], [{ ...again, plannedHintVersion: held.hintVersion }]));
      }
    } catch (error) {
      this.log.error('write failed', { endpoint: held.row.id, error: (error as Error).message });
    } finally {
      this.held.delete(held.row.id);
      if (this.held.size === this.config.maxInFlight - 1) this.wake();
      // Hints changed after the plan was made: the machine is free now, re-plan it at once.
      if (held.hintsStale) {
        this.hintIds.add(held.row.id);
        this.kickHints();
      }
    }
  }

  private async release(held: Held, reason: string, record: RunRecord | null = null): Promise<void> {
    clearTimeout(held.timer);
    const now = new Date();
    const released = step(held.snapshot, { type: 'RELEASE' }, now);
    held.transitions.push({ ...released.record, reason });
    this.metrics.released();
    // The slot stays as planned, and so does the reason for it; the release is in the history.
    await this.commit(held, record, {
      id: held.row.id,
      expectedVersion: held.version,
      state: stateOf(released.snapshot),
      snapshot: persistSnapshot(released.snapshot),
      nextRunAt: held.slot,
      reason: released.snapshot.context.reason ?? `released: ${reason}`,
      claimedSlot: null,
      transitions: held.transitions,
    });
  }

  /** A hints notification: the payload is a JSON array of endpoint ids. */
  private hintsChanged(payload: string): void {
    let ids: unknown;
    try {
      ids = JSON.parse(payload);
    } catch {
      ids = undefined;
    }
    if (!Array.isArray(ids)) {
      // Not ours to judge further; the poll finds whatever the sender meant.
      this.log.warn('ignored a hints notification that is not a JSON array of endpoint ids', { payload: payload.slice(0, 200) });
      return;
    }
    for (const id of ids) {
      if (typeof id !== 'string' || !UUID.test(id)) continue;
      const held = this.held.get(id);
      if (held) {
        // Its node is this one: the plan after the run re-reads the hints.
        held.hintsStale = true;
        this.log.debug('hints changed while held; the plan after the run uses them', { endpoint: id });
      } else {
        this.hintIds.add(id);
      }
    }
    this.kickHints();
  }

  /** One hint worker at a time: notified ids first, then the poll, until nothing is left. */
  private kickHints(): void {
    if (this.hintWork || this.stopping || (this.hintIds.size === 0 && !this.hintPollDue)) return;
    this.hintWork = this.hintLoop().finally(() => {
      this.hintWork = undefined;
      this.kickHints();
    });
  }

  private async hintLoop(): Promise<void> {
    const onReplanned = (machine: ReplannedMachine) => {
      this.metrics.hintReplan(machine.changed);
      this.log.debug('re-planned for hints', { endpoint: machine.id, trigger: machine.trigger, state: machine.state, nextRunAt: machine.nextRunAt?.toISOString() ?? null, reason: machine.reason, changed: machine.changed });
      // The re-plan's own wake-up reaches this node only through LISTEN.
      if (machine.changed && machine.state === 'idle' && machine.nextRunAt && machine.nextRunAt.getTime() - this.config.claimAheadMs < this.sleepingUntil) this.wake();
    };
    const options = { lateToleranceMs: this.config.catchUpGraceMs, onReplanned };
    while (!this.stopping) {
      if (this.hintIds.size > 0) {
        const ids = [...this.hintIds].slice(0, HINT_REPLAN_BATCH);
        for (const id of ids) this.hintIds.delete(id);
        try {
          await replanForHints(this.pool, { ...options, ids, limit: ids.length });
        } catch (error) {
          // Dropped, not retried: they stay pending in the database, and the poll finds them.
          this.logDbError('re-planning for hints failed', error as Error);
        }
      } else if (this.hintPollDue) {
        this.hintPollDue = false;
        try {
          const replanned = await replanForHints(this.pool, { ...options, limit: HINT_REPLAN_BATCH });
          // A full batch: more may be waiting.
          if (replanned === HINT_REPLAN_BATCH) this.hintPollDue = true;
        } catch (error) {
          this.logDbError('polling for hints failed', error as Error);
        }
      } else {
        return;
      }
    }
  }

  /** Reads the hints of a held machine again, its hint version first, so the plan never claims hints it did not see. */
  private async rereadHints(held: Held): Promise<void> {
    const id = held.row.id;
    held.hintsStale = false;
    try {
      const version = (await hintVersions(this.pool, [id])).get(id);
      const hints = (await activeHints(this.pool, [id])).get(id) ?? [];
      held.hints = hints;
      if (version !== undefined) held.hintVersion = version;
    } catch (error) {
      // Plan with the hints read at the claim: the machine stays pending and is re-planned once free.
      held.hintsStale = true;
      this.logDbError('could not re-read hints before planning', error as Error);
    }
  }

  private async renew(): Promise<void> {
    const ids = [...this.held.keys()];
    if (ids.length === 0) return;
    const kept = await withRetry(() => renewLeases(this.pool, this.workerId, ids, this.config.leaseMs));
    for (const id of ids) {
      const held = this.held.get(id);
      if (!held || kept.has(id)) continue;
      // Someone else holds it now; a commit from us would be refused anyway.
      if (held.timer && !held.inFlight) {
        clearTimeout(held.timer);
        this.held.delete(id);
        this.metrics.leaseLost();
        this.log.warn('lease lost while waiting for the slot', { endpoint: id });
      }
    }
  }

  private async pruneOld(): Promise<void> {
    const before = new Date(Date.now() - this.config.runRetentionMs);
    for (let round = 0; round < 20; round++) {
      const deleted = await prune(this.pool, before, 5_000);
      if (deleted.runs + deleted.transitions + deleted.hints < 5_000) return;
    }
  }

  private logDbError(message: string, error: Error): void {
    if (isConnectionError(error)) this.log.warn(`${message}: database unreachable, retrying`, { error: error.message });
    else this.log.error(message, { error: error.message, stack: error.stack });
  }
}

function pauseOf(row: EndpointRow, now: Date): UserPause | null {
  if (row.pausedReason === null) return null;
  if (row.pausedUntil && row.pausedUntil <= now) return null;
  return { reason: row.pausedReason, until: row.pausedUntil };
}

function runRecord(id: string, row: EndpointRow, slot: Date, attempt: number, worker: string, startedAt: Date, finishedAt: Date, result: DispatchResult, source: string | null): RunRecord {
  return {
    id,
    endpointId: row.id,
    jobId: row.jobId,
    slot,
    attempt,
    worker,
    status: result.ok ? 'succeeded' : 'failed',
    httpStatus: result.httpStatus,
    durationMs: result.durationMs,
    startedAt,
    finishedAt,
    errorKind: result.errorKind,
    errorMessage: result.errorMessage,
    responseBody: result.body,
    responseTruncated: result.truncated,
    plannedSource: source,
    retryAfterMs: result.retryAfterMs ?? null,
  };
}
