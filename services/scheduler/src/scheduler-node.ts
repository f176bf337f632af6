import { setMaxListeners } from 'node:events';
import { applyPersonsPause, planWrite } from '@tickwise/catalog';
import { activeHints, connectionSafetyOf, finishReason, tenantCount, tenantsWithDueWork, HINTS_CHANNEL, isConnectionError, machineWrite, newId, startListener, WAKE_CHANNEL, type Listener, type MachineWrite, type Pool, type RunRecord } from '@tickwise/db';
import { step } from '@tickwise/machines';
import type { Logger } from '@tickwise/platform';
import { admit, personsPause, type HeldRow, type HowHeld } from './admission.ts';
import { ClaimLoop } from './claim-loop.ts';
import { TenantShares } from './fair-share.ts';
import type { SchedulerConfig } from './config.ts';
import { Dispatcher } from './dispatcher.ts';
import { currentHints, HintReplanner } from './hint-replanner.ts';
import { leaseDeadline, mayDispatch, renewedDeadline } from './lease-deadline.ts';
import { LeaseKeeper } from './lease-keeper.ts';
import type { Held } from './held.ts';
import { NodeMetrics, type NodeCounts } from './metrics.ts';
import { requestFor } from './request.ts';
import { Retention } from './retention.ts';
import { nextAttempt, notBeforeOf } from './retry.ts';
import { runRecord } from './run-record.ts';
import { SecretValueCache } from './secret-values.ts';
import { SigningSecretCache } from './signing.ts';
import { StartTimes } from './start-times.ts';
import { BatchWriter } from './writer.ts';

/** Most tenants with due work a crowded node asks about (each is a share; more would be shares of nothing). */
const TENANTS_ASKED = 1_000;

/** A call still in flight after this long is persisted as `running`. */
const MARK_RUNNING_AFTER_MS = 250;

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
 * One scheduler node. It wires its parts (the claim loop, the lease keeper, the hint re-planner,
 * retention, the dispatcher and the group-commit writer) and runs the data path, which reads top to
 * bottom below: claim → admit → dispatch at the slot (never early) → record the run → plan the next
 * one → commit. It hands every lease back on shutdown.
 */
export class SchedulerNode {
  private readonly pool: Pool;
  private readonly config: SchedulerConfig;
  private readonly log: Logger;
  private readonly metrics: NodeMetrics;
  private readonly writer: BatchWriter;
  private readonly dispatcher: Dispatcher;
  private readonly claims: ClaimLoop;
  private readonly leases: LeaseKeeper;
  private readonly hints: HintReplanner;
  private readonly retention: Retention | undefined;
  private readonly shares: TenantShares;
  private readonly shutdown = new AbortController();
  private readonly held = new Map<string, Held>();
  /** Held machines waiting for their time (the slot, a retry's, a Retry-After's). */
  private readonly starts = new StartTimes<Held>((held) => this.dispatchWhenDue(held));
  private listener: Listener | undefined;
  private started = false;
  private stopping = false;

  constructor(private readonly options: SchedulerNodeOptions) {
    const { pool, config, log } = options;
    this.pool = pool;
    this.config = config;
    this.log = log;
    this.metrics = new NodeMetrics(config.workerId);
    this.writer = new BatchWriter(pool, config.workerId, log, this.metrics);
    const values = new SecretValueCache(pool, { keyring: config.secretsKeys, refreshMs: config.secretsRefreshMs, log });
    this.dispatcher = new Dispatcher({ policy: config.targetPolicy, secrets: new SigningSecretCache(pool, { refreshMs: config.signingRefreshMs, log }), values });
    // Every call in flight listens for the shutdown signal.
    setMaxListeners(0, this.shutdown.signal);
    const parts = { pool, config, log, metrics: this.metrics, onError: (message: string, error: Error) => this.logDbError(message, error) };
    const room = () => config.maxInFlight - this.held.size;
    this.shares = new TenantShares({ maxInFlight: config.maxInFlight, tenantsDue: (horizon) => tenantsWithDueWork(pool, horizon, TENANTS_ASKED), tenantCount: () => tenantCount(pool) });
    this.claims = new ClaimLoop({ ...parts, room, share: (horizon, limit) => this.shares.next(this.held.size, () => [...this.held.values()].map((held) => held.row.tenantId), horizon, limit), accept: (rows, sentAt) => this.accept(rows, 'claimed', sentAt) });
    this.leases = new LeaseKeeper({ ...parts, room, held: () => [...this.held.keys()], lost: (id) => this.leaseLost(id), renewed: (ids, sentAt) => this.leasesRenewed(ids, sentAt), accept: (rows, sentAt) => this.accept(rows, 'takeover', sentAt) });
    this.hints = new HintReplanner({ ...parts, markHeldStale: (id) => this.markHintsStale(id), replanned: (machine) => machine.changed && machine.state === 'idle' && machine.nextRunAt && this.claims.wakeFor(machine.nextRunAt.getTime()) });
    this.retention = config.prune ? new Retention({ pool, retentionMs: config.runRetentionMs, onError: (error) => this.logDbError('pruning failed', error) }) : undefined;
  }

  get workerId(): string {
    return this.config.workerId;
  }

  /** Started and not stopping: what the readiness probe asks. */
  get running(): boolean {
    return this.started && !this.stopping;
  }

  getStats(): SchedulerStats {
    return { ...this.metrics.counts, held: this.held.size };
  }

  start(): void {
    if (this.started) throw new Error('scheduler node already started');
    this.started = true;
    this.listen();
    this.hints.start();
    this.leases.start();
    this.retention?.start();
    this.metrics.track({ held: () => this.held.size, inFlight: () => [...this.held.values()].filter((held) => held.inFlight !== undefined).length });
    this.claims.start();
  }

  /** Stops claiming, lets runs in flight finish within the grace period, aborts the rest and hands every lease back. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.claims.stop();
    this.leases.stop();
    this.retention?.stop();
    await this.hints.stop();
    const waiting = [...this.held.values()].filter((held) => this.starts.has(held) && held.inFlight === undefined);
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

  private listen(): void {
    const { config, log } = this;
    const polling = `polling every ${config.pollIntervalMs}ms, hints every ${config.hintPollMs}ms`;
    if (!config.listen) {
      log.info(`LISTEN off; ${polling}`);
      return;
    }
    // The hint re-planner and the claim loop poll as well, LISTEN or not: a notification can be
    // missed (a listener reconnecting), and YugabyteDB before 2025.2.3 has none.
    this.listener = startListener({
      connectionString: this.options.connectionString,
      safety: connectionSafetyOf(this.pool),
      channels: [WAKE_CHANNEL, HINTS_CHANNEL],
      onNotify: (channel, payload) => (channel === HINTS_CHANNEL ? this.hints.notified(payload) : this.claims.wake()),
      onStatus: (status, error) => {
        const fields = { status, ...(error ? { error: error.message } : {}) };
        if (status === 'unsupported') log.warn(`LISTEN unsupported; ${polling}`, fields);
        else log.debug('listener', fields);
      },
    });
  }

  // --- the data path -----------------------------------------------------------------------------

  /**
   * Claimed or taken-over machines, leased by a statement sent at `sentAt`: each is admitted, then
   * dispatched at its slot or planned at once.
   */
  private async accept(rows: HeldRow[], how: HowHeld, sentAt: number): Promise<void> {
    const hints = await activeHints(this.pool, rows.map((row) => row.id));
    const now = new Date();
    // In id order, so machines sharing a slot start in the same order every time (see StartTimes).
    for (const row of rows.sort((a, b) => (a.id < b.id ? -1 : 1))) {
      try {
        const admission = admit(row, how, now, this.config);
        const slot = admission.kind === 'dispatch' ? admission.slot : (row.claimedSlot ?? now);
        const held: Held = { row, snapshot: admission.snapshot, version: row.version, slot, at: slot, attempt: 1, hints: hints.get(row.id) ?? [], hintVersion: row.hintVersion, transitions: admission.transitions, leaseDeadline: leaseDeadline(sentAt, this.config.leaseMs) };
        this.held.set(row.id, held);
        if (admission.kind === 'dispatch') {
          held.at = admission.at;
          held.attempt = admission.attempt;
          this.dispatchWhenDue(held);
        } else {
          if (admission.skipped) this.metrics.skipped(1, admission.skipped);
          this.plan(held, null, admission.at, null, null);
        }
      } catch (error) {
        // A machine we cannot move must not stop the node; its lease expires and a peer retries.
        this.held.delete(row.id);
        this.log.error('could not accept machine', { endpoint: row.id, state: row.state, error: (error as Error).message });
      }
    }
  }

  /**
   * Dispatches at `held.at`, never before it: timers may fire early by a millisecond, so re-check.
   * Never once the lease may have run out either (renewals stopped landing: the database is out of
   * reach): the slot is dropped, and a peer takes the machine over when the lease expires.
   */
  private dispatchWhenDue(held: Held): void {
    if (held.at.getTime() > Date.now()) {
      this.starts.add(held, held.at.getTime());
      return;
    }
    if (!mayDispatch(held.leaseDeadline, performance.now(), this.config.leaseMs)) {
      this.metrics.leaseLost();
      this.log.warn('lease may have expired before the slot (no renewal landed): slot dropped, a peer takes the machine over', { endpoint: held.row.id, slot: held.slot.toISOString(), attempt: held.attempt, deadlineMsAgo: Math.round(performance.now() - held.leaseDeadline) });
      this.letGo(held);
      return;
    }
    const flight = this.run(held).catch((error: Error) => {
      // A bug, not an outcome: keep the node up; the lease runs out and a peer retries the slot.
      this.log.error('run failed', { endpoint: held.row.id, error: error.message, stack: error.stack });
    });
    held.inFlight = flight;
    // Between attempts nothing is in flight (a retry's timer waits), unless the next one already started.
    void flight.then(() => {
      if (held.inFlight === flight) held.inFlight = undefined;
    });
  }

  /** Makes one attempt at the slot, records it, then retries within the slot or plans the next one. */
  private async run(held: Held): Promise<void> {
    const startedAt = new Date();
    const { attempt, slot } = held;
    const dispatched = step(held.snapshot, { type: 'DISPATCH', attempt }, startedAt);
    held.snapshot = dispatched.snapshot;
    held.transitions.push(dispatched.record);
    // A fast call goes from due straight to its commit, which spares a write per run; only a slow
    // one is persisted as running.
    const markRunning = setTimeout(() => this.writer.markRunning(held.row.id, held.version), MARK_RUNNING_AFTER_MS);
    if (attempt === 1) this.metrics.dispatched(startedAt.getTime() - slot.getTime());
    const runId = newId();
    const outcome = await this.dispatcher.call(requestFor(held.row, slot, runId, attempt), this.shutdown.signal);
    clearTimeout(markRunning);
    this.metrics.finished(outcome);
    const finishedAt = new Date();
    const aborted = outcome.errorKind === 'aborted';
    const retry = aborted || this.stopping ? null : nextAttempt(held.row.spec, slot, attempt, outcome, finishedAt, Math.random);
    const call = { runId, slot, attempt, lastAttempt: !aborted && retry === null, worker: this.workerId, startedAt, finishedAt, plannedSource: dispatched.snapshot.context.source };
    const record = runRecord(held.row, call, outcome);
    if (aborted) {
      // Shut down mid-call: record the attempt and hand the slot back so a peer runs it again (same key).
      await this.release(held, 'node shut down during the call', record);
      return;
    }
    const notBefore = notBeforeOf(outcome, finishedAt)?.toISOString() ?? null;
    if (retry) {
      const retried = step(held.snapshot, { type: 'RETRY', at: retry.at.toISOString(), reason: retry.reason, notBefore }, finishedAt);
      held.snapshot = retried.snapshot;
      held.transitions.push({ ...retried.record, runId, reason: retry.reason });
      this.metrics.retried();
      if (await this.commit(held, record, machineWrite(held.row.id, held.version, held.snapshot, held.transitions), { keep: true })) {
        held.attempt = attempt + 1;
        held.at = retry.at;
        this.dispatchWhenDue(held);
      }
      return;
    }
    const finished = step(held.snapshot, { type: 'FINISH', outcome: outcome.status, notBefore }, finishedAt);
    held.snapshot = finished.snapshot;
    held.transitions.push({ ...finished.record, runId, reason: finishReason(outcome) });
    if (held.hintsStale) await this.rereadHints(held);
    this.plan(held, record, finishedAt, startedAt, outcome.status);
  }

  /** Plans the next run of a machine in `planning` and commits it with the run (if any). */
  private plan(held: Held, record: RunRecord | null, now: Date, startedAt: Date | null, justFinished: 'succeeded' | 'failed' | null): void {
    const write = planWrite(
      held.snapshot,
      null,
      {
        id: held.row.id,
        version: held.version,
        spec: held.row.spec,
        now,
        hints: held.hints,
        userPause: personsPause(held.row, now),
        previousRunStartedAt: startedAt,
        justFinished,
        lateToleranceMs: this.config.catchUpGraceMs,
        random: Math.random,
        plannedHintVersion: held.hintVersion,
      },
      held.transitions,
    );
    const planned = write.transitions.at(-1);
    if (planned?.skipped) this.metrics.skipped(planned.skipped.count, planned.skipped.why);
    if (write.state === 'paused' && write.snapshot.context.source === 'breaker') {
      write.notice = { id: newId(), kind: 'paused', detail: { by: 'breaker', reason: write.reason ?? 'paused by the breaker', until: null } };
    }
    void this.commit(held, record, write);
    if (write.state === 'idle' && write.nextRunAt) this.claims.wakeFor(write.nextRunAt.getTime());
  }

  /** Hands a slot back unrun: the machine goes idle with the same slot, for this node or a peer. */
  private async release(held: Held, reason: string, record: RunRecord | null = null): Promise<void> {
    this.starts.cancel(held);
    const released = step(held.snapshot, { type: 'RELEASE' }, new Date());
    held.transitions.push({ ...released.record, reason });
    this.metrics.released();
    await this.commit(held, record, machineWrite(held.row.id, held.version, released.snapshot, held.transitions));
  }

  /**
   * The one way a held machine is written: with its run, by the group-commit writer. Then it is let
   * go, unless `keep` (a retry follows: the node holds it on, at the version written). Resolves with
   * whether the write landed.
   */
  private async commit(held: Held, record: RunRecord | null, write: MachineWrite, options: { keep?: boolean } = {}): Promise<boolean> {
    let landed = false;
    try {
      const committed = await this.writer.commit(record, write);
      landed = committed !== null;
      if (!committed) {
        this.metrics.leaseLost();
        this.log.warn('lease lost before the write; a peer owns the machine now', { endpoint: held.row.id, slot: held.slot.toISOString() });
      } else if (options.keep) {
        held.version = committed.version;
        held.transitions = [];
      } else if (committed.pause && write.state === 'idle' && !this.stopping) {
        // A person paused it while we held it: now that it is free, the pause takes effect.
        await applyPersonsPause(this.pool, held.row.id);
      }
    } catch (error) {
      this.logDbError('write failed', error as Error);
    } finally {
      if (!(options.keep && landed)) this.letGo(held);
    }
    return options.keep === true && landed;
  }

  private letGo(held: Held): void {
    // Taken over anew by this node (its own lease had run out, e.g. behind a partition): the newer hold stays.
    if (this.held.get(held.row.id) !== held) return;
    this.held.delete(held.row.id);
    if (this.held.size === this.config.maxInFlight - 1) this.claims.wake();
    else this.claims.released(held.row.tenantId);
    // Hints changed after the plan was made: the machine is free now, re-plan it at once.
    if (held.hintsStale) this.hints.replanSoon(held.row.id);
  }

  // --- what the parts tell the node --------------------------------------------------------------

  private markHintsStale(id: string): boolean {
    const held = this.held.get(id);
    if (held) held.hintsStale = true;
    return held !== undefined;
  }

  /** Reads the hints again before planning; on failure plans with the old ones and stays stale. */
  private async rereadHints(held: Held): Promise<void> {
    held.hintsStale = false;
    try {
      const { hints, version } = await currentHints(this.pool, held.row.id);
      held.hints = hints;
      if (version !== undefined) held.hintVersion = version;
    } catch (error) {
      held.hintsStale = true;
      this.logDbError('could not re-read hints before planning', error as Error);
    }
  }

  /** Renewed leases hold a lease longer from when the renewal was sent (see lease-deadline.ts). */
  private leasesRenewed(ids: string[], sentAt: number): void {
    for (const id of ids) {
      const held = this.held.get(id);
      if (held) held.leaseDeadline = renewedDeadline(held.leaseDeadline, sentAt, this.config.leaseMs);
    }
  }

  /** A peer took over a machine whose lease this node failed to renew; a waiting slot is dropped. */
  private leaseLost(id: string): void {
    const held = this.held.get(id);
    // A call in flight goes on; its commit is refused and counted then.
    if (!held || !this.starts.has(held) || held.inFlight) return;
    this.starts.cancel(held);
    this.held.delete(id);
    this.metrics.leaseLost();
    this.log.warn('lease lost while waiting for the slot', { endpoint: id });
  }

  private logDbError(message: string, error: Error): void {
    if (isConnectionError(error)) this.log.warn(`${message}: database unreachable, retrying`, { error: error.message });
    else this.log.error(message, { error: error.message, stack: error.stack });
  }
}
