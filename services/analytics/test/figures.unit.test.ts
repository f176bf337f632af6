import { describe, expect, it } from 'vitest';
import type { RunEvent } from '@tickwise/events';
import { nearestRank } from '../src/quantile.ts';
import { RollingFigures } from '../src/figures.ts';

const T0 = Date.parse('2026-11-24T09:00:00.000Z');
const A = '019ab8f0-0000-7000-8000-00000000000a';
const B = '019ab8f0-0000-7000-8000-00000000000b';
const JOB = '019ab8f0-0000-7000-8000-0000000000f1';
let sequence = 0;

/** A run event finished at `at` (ms since epoch), succeeded unless told. */
function event(endpoint: string, at: number, overrides: Partial<RunEvent> = {}): RunEvent {
  sequence += 1;
  const id = `019ab8f2-0000-7000-8000-${sequence.toString(16).padStart(12, '0')}`;
  return {
    schema_version: 1,
    type: 'run.finished',
    event_id: id,
    run_id: id,
    endpoint_id: endpoint,
    job_id: JOB,
    status: 'succeeded',
    http_status: 200,
    duration_ms: 10,
    scheduled_at: new Date(at - 20).toISOString(),
    started_at: new Date(at - 10).toISOString(),
    finished_at: new Date(at).toISOString(),
    lateness_ms: 10,
    error_kind: null,
    attempt: 1,
    planned_source: 'baseline',
    retry_after_ms: null,
    worker: 'node-a',
    ...overrides,
  };
}

describe('nearestRank', () => {
  it('returns an observed value: the smallest with at least q of the values at or below it', () => {
    expect(nearestRank([1, 2, 3, 4], 0.5)).toBe(2);
    expect(nearestRank([1, 2, 3, 4], 0.95)).toBe(4);
    expect(nearestRank([7], 0.5)).toBe(7);
    expect(nearestRank(Array.from({ length: 20 }, (_, i) => i + 1), 0.95)).toBe(19);
    // 0.95 * 60 is 57.00000000000001 in floating point: still rank 57.
    expect(nearestRank(Array.from({ length: 60 }, (_, i) => i + 1), 0.95)).toBe(57);
    expect(nearestRank(Array.from({ length: 100 }, (_, i) => i + 1), 0.5)).toBe(50);
  });

  it('has no value for no samples, and refuses a quantile outside (0, 1]', () => {
    expect(nearestRank([], 0.5)).toBeNull();
    expect(() => nearestRank([1], 0)).toThrow('a quantile must be in (0, 1], got 0');
    expect(() => nearestRank([1], 1.5)).toThrow('a quantile must be in (0, 1], got 1.5');
  });
});

describe('RollingFigures', () => {
  const window = { windowMs: 60_000, windowRuns: 100 };

  it('keeps runs, failures, failure rate and p50/p95 of duration and lateness per endpoint', () => {
    const figures = new RollingFigures(window);
    for (let i = 1; i <= 20; i += 1) {
      const failed = i % 4 === 0;
      expect(figures.add(event(A, T0 + i * 100, { duration_ms: i * 10, lateness_ms: i, status: failed ? 'failed' : 'succeeded', http_status: failed ? 503 : 200, error_kind: failed ? 'http_status' : null }), T0 + 2_100, 0)).toBe('counted');
    }
    figures.add(event(B, T0 + 500, { duration_ms: 3, lateness_ms: 0 }), T0 + 2_100, 1);
    const [a, b] = figures.snapshot(T0 + 2_100);
    expect(a).toEqual({
      endpointId: A,
      jobId: JOB,
      runs: 20,
      failures: 5,
      failureRate: 0.25,
      durationMs: { p50: 100, p95: 190 },
      latenessMs: { p50: 10, p95: 19 },
      lastFinishedAt: new Date(T0 + 2_000).toISOString(),
    });
    expect(b).toMatchObject({ endpointId: B, runs: 1, failures: 0, failureRate: 0, durationMs: { p50: 3, p95: 3 }, latenessMs: { p50: 0, p95: 0 } });
  });

  it('is a time window on finished_at: runs leave it as time passes, and an endpoint with none left is dropped', () => {
    const figures = new RollingFigures(window);
    figures.add(event(A, T0), T0);
    figures.add(event(A, T0 + 30_000), T0 + 30_000);
    figures.add(event(B, T0 + 10_000), T0 + 30_000);
    expect(figures.snapshot(T0 + 60_000).map((row) => [row.endpointId, row.runs])).toEqual([[A, 2], [B, 1]]);
    expect(figures.snapshot(T0 + 60_001).map((row) => [row.endpointId, row.runs])).toEqual([[A, 1], [B, 1]]);
    expect(figures.snapshot(T0 + 70_001).map((row) => [row.endpointId, row.runs])).toEqual([[A, 1]]);
    expect(figures.size).toBe(1);
    expect(figures.snapshot(T0 + 90_001)).toEqual([]);
    expect(figures.size).toBe(0);
  });

  it('refuses an event that finished before the window (a re-read of old messages), whenever it arrives', () => {
    const figures = new RollingFigures(window);
    expect(figures.add(event(A, T0), T0 + 60_001)).toBe('outside_window');
    expect(figures.size).toBe(0);
  });

  it('keeps at most windowRuns runs per endpoint: the latest by finished_at, whatever the arrival order', () => {
    const figures = new RollingFigures({ windowMs: 60_000, windowRuns: 10 });
    for (let i = 0; i < 15; i += 1) figures.add(event(A, T0 + i * 100, { duration_ms: i }), T0 + 2_000);
    // An older straggler (a takeover's run, a rewind) does not push a newer run out.
    expect(figures.add(event(A, T0 + 50, { duration_ms: 999 }), T0 + 2_000)).toBe('outside_window');
    // A straggler newer than the oldest kept run takes its place, in order.
    expect(figures.add(event(A, T0 + 550, { duration_ms: 5.5 }), T0 + 2_000)).toBe('counted');
    const [a] = figures.snapshot(T0 + 2_000);
    expect(a!.runs).toBe(10);
    expect(a!.durationMs).toEqual({ p50: 9, p95: 14 });
    expect(a!.lastFinishedAt).toBe(new Date(T0 + 1_400).toISOString());
  });

  it('counts an event once however often it is delivered (at-least-once delivery)', () => {
    const figures = new RollingFigures(window);
    const once = event(A, T0, { status: 'failed', http_status: 500, error_kind: 'http_status' });
    expect(figures.add(once, T0)).toBe('counted');
    expect(figures.add({ ...once }, T0 + 5)).toBe('duplicate');
    expect(figures.snapshot(T0 + 10)[0]).toMatchObject({ runs: 1, failures: 1, failureRate: 1 });
  });

  it('drops the endpoints of partitions taken away, and keeps the others', () => {
    const figures = new RollingFigures(window);
    figures.add(event(A, T0), T0, 0);
    figures.add(event(B, T0), T0, 1);
    expect(figures.dropPartitions([1, 2])).toBe(1);
    expect(figures.snapshot(T0).map((row) => row.endpointId)).toEqual([A]);
  });

  it('orders endpoints by runs, then by id, and clamps a negative lateness to 0', () => {
    const figures = new RollingFigures(window);
    figures.add(event(B, T0), T0);
    figures.add(event(A, T0, { lateness_ms: -3 }), T0);
    expect(figures.snapshot(T0).map((row) => row.endpointId)).toEqual([A, B]);
    expect(figures.snapshot(T0)[0]!.latenessMs).toEqual({ p50: 0, p95: 0 });
    figures.add(event(B, T0 + 1), T0 + 1);
    expect(figures.snapshot(T0 + 1).map((row) => row.endpointId)).toEqual([B, A]);
  });

  it('refuses a window it cannot keep', () => {
    expect(() => new RollingFigures({ windowMs: 10, windowRuns: 5 })).toThrow('windowMs must be a whole number of ms, at least 1000, got 10');
    expect(() => new RollingFigures({ windowMs: 60_000, windowRuns: 0 })).toThrow('windowRuns must be a positive integer, got 0');
  });
});
