import { Counter, Gauge, Histogram } from 'prom-client';
import { metric } from '@tickwise/platform';
import type { CallOutcome } from './dispatcher.ts';

// The scheduler's Prometheus metrics, made once per process on the shared registry (several nodes
// in one process share them, labelled by `worker`). docs/operations.md lists them.

/** Dispatch start − slot: 1 ms to 60 s. */
export const LATENESS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Claim statements and HTTP calls: 1 ms to 60 s. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000];

/** What a gauge reads from a live node when Prometheus scrapes. */
export interface NodeGauges {
  held(): number;
  inFlight(): number;
}

// Shared through globalThis so a second load of this module still reports the nodes of the first.
const LIVE_KEY = Symbol.for('tickwise.scheduler.metrics.live-nodes');
const live: Map<string, NodeGauges> = ((globalThis as Record<symbol, unknown>)[LIVE_KEY] as Map<string, NodeGauges> | undefined) ?? new Map();
(globalThis as Record<symbol, unknown>)[LIVE_KEY] = live;

export const schedulerMetrics = {
  runs: metric('tickwise_scheduler_runs_total', (name) => new Counter({ name, help: 'Runs finished, by outcome (succeeded, failed, aborted), HTTP status class (2xx..5xx, none) and error kind (none when it succeeded)', labelNames: ['worker', 'outcome', 'status_class', 'error_kind'] })),
  lateness: metric('tickwise_scheduler_lateness_seconds', (name) => new Histogram({ name, help: 'How late a call started after its slot (dispatch start − slot)', labelNames: ['worker'], buckets: LATENESS_BUCKETS })),
  callDuration: metric('tickwise_scheduler_call_duration_seconds', (name) => new Histogram({ name, help: 'HTTP call duration, headers and body', labelNames: ['worker'], buckets: DURATION_BUCKETS })),
  claims: metric('tickwise_scheduler_claims_total', (name) => new Counter({ name, help: 'Claim statements run', labelNames: ['worker'] })),
  claimed: metric('tickwise_scheduler_claimed_total', (name) => new Counter({ name, help: 'Due machines claimed', labelNames: ['worker'] })),
  claimDuration: metric('tickwise_scheduler_claim_duration_seconds', (name) => new Histogram({ name, help: 'Duration of one claim statement', labelNames: ['worker'], buckets: DURATION_BUCKETS })),
  claimBatch: metric('tickwise_scheduler_claim_batch_size', (name) => new Histogram({ name, help: 'Machines returned by one claim statement', labelNames: ['worker'], buckets: [0, ...SIZE_BUCKETS] })),
  takenOver: metric('tickwise_scheduler_leases_taken_over_total', (name) => new Counter({ name, help: 'Machines taken over from a peer whose lease expired', labelNames: ['worker'] })),
  leasesLost: metric('tickwise_scheduler_leases_lost_total', (name) => new Counter({ name, help: 'Machines whose lease a peer took before this node wrote them, or whose slot it dropped because its lease may have expired (its renewals stopped landing)', labelNames: ['worker'] })),
  skipped: metric('tickwise_slots_skipped_total', (name) => new Counter({ name, help: 'Slots never run, by reason: catch_up (missed beyond the catch-up grace under catchUp: skip), overlap (fell due while a run was going, under overlap: skip), paused (a person paused the endpoint while the slot was claimed)', labelNames: ['worker', 'reason'] })),
  retries: metric('tickwise_scheduler_retries_total', (name) => new Counter({ name, help: 'Attempts within a slot that failed and were retried (the endpoint\'s retry)', labelNames: ['worker'] })),
  released: metric('tickwise_scheduler_released_total', (name) => new Counter({ name, help: 'Slots handed back (shutdown before or during the call)', labelNames: ['worker'] })),
  hintReplans: metric('tickwise_scheduler_hint_replans_total', (name) => new Counter({ name, help: 'Free machines re-planned because their hints changed (changed: whether the next run moved)', labelNames: ['worker', 'changed'] })),
  commitBatch: metric('tickwise_scheduler_commit_batch_size', (name) => new Histogram({ name, help: 'Machine writes per group-commit statement', labelNames: ['worker'], buckets: SIZE_BUCKETS })),
  writeRetries: metric('tickwise_scheduler_write_retries_total', (name) => new Counter({ name, help: 'Group commits that waited because the database was unreachable', labelNames: ['worker'] })),
  held: metric('tickwise_scheduler_held_machines', (name) => new Gauge({
    name,
    help: 'Machines this node holds a lease on (waiting for their slot, in flight or being written)',
    labelNames: ['worker'],
    collect() {
      this.reset();
      for (const [worker, node] of live) this.set({ worker }, node.held());
    },
  })),
  inFlight: metric('tickwise_scheduler_calls_in_flight', (name) => new Gauge({
    name,
    help: 'HTTP calls in flight',
    labelNames: ['worker'],
    collect() {
      this.reset();
      for (const [worker, node] of live) this.set({ worker }, node.inFlight());
    },
  })),
};

/** `2xx`..`5xx` for an HTTP status, `none` without one. Pure. */
export function statusClass(httpStatus: number | null): string {
  return httpStatus === null ? 'none' : `${Math.floor(httpStatus / 100)}xx`;
}

/** What one node has done since it was made: the plain counts `SchedulerNode.getStats()` reports. */
export interface NodeCounts {
  claimed: number;
  takenOver: number;
  dispatched: number;
  succeeded: number;
  failed: number;
  skipped: number;
  retried: number;
  released: number;
  leasesLost: number;
}

/**
 * The metrics of one node, and its plain counts: one call per event feeds both. Label children
 * bound once (the hot path skips the label lookup); the node's gauges reported while it is tracked
 * (from start to stop).
 */
export class NodeMetrics {
  readonly counts: NodeCounts = { claimed: 0, takenOver: 0, dispatched: 0, succeeded: 0, failed: 0, skipped: 0, retried: 0, released: 0, leasesLost: 0 };
  private readonly worker: string;
  private readonly lateness;
  private readonly callDuration;
  private readonly runs = new Map<string, Counter.Internal>();

  constructor(worker: string) {
    this.worker = worker;
    this.lateness = schedulerMetrics.lateness.labels(worker);
    this.callDuration = schedulerMetrics.callDuration.labels(worker);
  }

  track(gauges: NodeGauges): void {
    live.set(this.worker, gauges);
  }

  untrack(): void {
    live.delete(this.worker);
  }

  claim(seconds: number, machines: number): void {
    schedulerMetrics.claims.labels(this.worker).inc();
    schedulerMetrics.claimDuration.labels(this.worker).observe(seconds);
    schedulerMetrics.claimBatch.labels(this.worker).observe(machines);
    if (machines > 0) schedulerMetrics.claimed.labels(this.worker).inc(machines);
    this.counts.claimed += machines;
  }

  tookOver(machines: number): void {
    schedulerMetrics.takenOver.labels(this.worker).inc(machines);
    this.counts.takenOver += machines;
  }

  dispatched(latenessMs: number): void {
    this.lateness.observe(Math.max(0, latenessMs) / 1_000);
    this.counts.dispatched++;
  }

  finished(result: CallOutcome): void {
    const outcome = result.errorKind === 'aborted' ? 'aborted' : result.status;
    const labels = `${outcome}|${statusClass(result.httpStatus)}|${result.errorKind ?? 'none'}`;
    let child = this.runs.get(labels);
    if (!child) {
      child = schedulerMetrics.runs.labels({ worker: this.worker, outcome, status_class: statusClass(result.httpStatus), error_kind: result.errorKind ?? 'none' });
      this.runs.set(labels, child);
    }
    child.inc();
    this.callDuration.observe(result.durationMs / 1_000);
    // An aborted call is neither: its slot is handed back and run again.
    if (outcome === 'succeeded') this.counts.succeeded++;
    else if (outcome === 'failed') this.counts.failed++;
  }

  leaseLost(): void {
    schedulerMetrics.leasesLost.labels(this.worker).inc();
    this.counts.leasesLost++;
  }

  skipped(count: number, reason: string): void {
    schedulerMetrics.skipped.labels(this.worker, reason).inc(count);
    this.counts.skipped += count;
  }

  retried(): void {
    schedulerMetrics.retries.labels(this.worker).inc();
    this.counts.retried++;
  }

  released(): void {
    schedulerMetrics.released.labels(this.worker).inc();
    this.counts.released++;
  }

  hintReplan(changed: boolean): void {
    schedulerMetrics.hintReplans.labels(this.worker, String(changed)).inc();
  }

  committed(machines: number): void {
    schedulerMetrics.commitBatch.labels(this.worker).observe(machines);
  }

  writeRetried(): void {
    schedulerMetrics.writeRetries.labels(this.worker).inc();
  }
}
