import type { ServerResponse } from 'node:http';
import { register, type Metric } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { NodeMetrics, schedulerMetrics, statusClass } from '../src/metrics.ts';
import { applyJob, endpointId, startNode, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { waitFor } from '../../../test/support/wait.ts';

/** The sum of a metric's samples whose labels include `labels` (`suffix` picks `_count`, `_bucket`... of a histogram). */
async function sample(metric: Metric, labels: Record<string, string>, suffix = ''): Promise<number> {
  const { name, values } = await metric.get();
  return values
    .filter((value) => ((value as { metricName?: string }).metricName ?? name) === `${name}${suffix}`)
    .filter((value) => Object.entries(labels).every(([key, wanted]) => String((value.labels as Record<string, unknown>)[key]) === wanted))
    .reduce((sum, value) => sum + value.value, 0);
}

describe('scheduler metrics of a node dispatching to a real HTTP target', () => {
  const env = useDatabaseAndTarget((call, response) => {
    response.statusCode = call.path === '/broken' ? 500 : 200;
    response.end(call.path === '/broken' ? 'broken' : 'ok');
  });

  it('count runs by outcome and status class, observe lateness and claims, and report held machines while the node runs', async () => {
    const { db, target } = env;
    await applyJob(db, 'metered', [
      { name: 'fine', url: `${target.url}/fine`, schedule: { every: '200ms' } },
      { name: 'broken', url: `${target.url}/broken`, schedule: { every: '200ms' } },
    ]);
    const worker = 'metrics-a';
    const { node } = startNode(db, { workerId: worker });
    expect(node.running).toBe(true);
    try {
      await waitFor('three runs of each endpoint counted', async () =>
        (await sample(schedulerMetrics.runs, { worker, outcome: 'succeeded', status_class: '2xx', error_kind: 'none' })) >= 3 &&
        (await sample(schedulerMetrics.runs, { worker, outcome: 'failed', status_class: '5xx', error_kind: 'http_status' })) >= 3,
      20_000);
      const runs = await sample(schedulerMetrics.runs, { worker });
      const lateness = await sample(schedulerMetrics.lateness, { worker }, '_count');
      // Lateness is observed at dispatch, the run when its call ends: at most the calls in flight apart.
      expect(lateness).toBeGreaterThanOrEqual(runs);
      expect(lateness).toBeLessThanOrEqual(runs + 2);
      // Every slot started within the largest bucket (60 s), and no observation is negative.
      expect(await sample(schedulerMetrics.lateness, { worker, le: '60' }, '_bucket')).toBe(lateness);
      expect(await sample(schedulerMetrics.lateness, { worker }, '_sum')).toBeGreaterThanOrEqual(0);
      expect(await sample(schedulerMetrics.callDuration, { worker }, '_count')).toBe(runs);
      expect(await sample(schedulerMetrics.claims, { worker })).toBeGreaterThan(0);
      expect(await sample(schedulerMetrics.claimed, { worker })).toBeGreaterThanOrEqual(runs);
      expect(await sample(schedulerMetrics.claimDuration, { worker }, '_count')).toBe(await sample(schedulerMetrics.claims, { worker }));
      // Commits land a moment after their runs are counted: some have by now.
      expect(await sample(schedulerMetrics.commitBatch, { worker }, '_sum')).toBeGreaterThan(0);
      // The run counter agrees with the node's own stats and with the target.
      expect(runs).toBeLessThanOrEqual(target.calls.length);

      const text = await register.metrics();
      expect(text).toMatch(new RegExp(`tickwise_scheduler_held_machines\\{worker="${worker}"\\} [0-2]\\n`));
      expect(text).toContain(`tickwise_scheduler_calls_in_flight{worker="${worker}"}`);
      expect(text).toContain(`tickwise_scheduler_lateness_seconds_bucket{le="0.001",worker="${worker}"}`);
    } finally {
      await node.stop();
    }
    // What the readiness probe of `tickwise scheduler` asks.
    expect(node.running).toBe(false);
    expect(node.getStats().dispatched).toBe(await sample(schedulerMetrics.runs, { worker }));
    // A stopped node's gauges are gone; its counters stay (they only ever grow).
    expect(await register.metrics()).not.toContain(`tickwise_scheduler_held_machines{worker="${worker}"}`);
  });
});

describe('scheduler metrics of a lease taken over', () => {
  // The first call answers only once the peer that took the slot over has called too.
  let slow: ServerResponse | undefined;
  const env = useDatabaseAndTarget((_call, response, { calls }) => {
    if (calls.length === 1) return void (slow = response);
    slow?.end('late');
    response.end('ok');
  });

  it('counts the takeover on the node that took the lease and the lost lease on the node that had it', async () => {
    const { db, target } = env;
    await applyJob(db, 'stolen', [{ name: 'slow', url: `${target.url}/slow`, schedule: { every: '1h' }, timeout: '10s' }]);
    const id = await endpointId(db, 'stolen', 'slow');
    // A long lease: the first node renews it only every 20 min, like a node that stalled.
    const first = startNode(db, { workerId: 'metrics-slowpoke', leaseMs: 3_600_000 });
    await waitFor('the slow call', () => target.calls.length >= 1);
    const second = startNode(db, { workerId: 'metrics-peer', leaseMs: 2_000 });
    try {
      await db.pool.query(`UPDATE endpoints SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [id]);
      await waitFor('the takeover counted', async () => (await sample(schedulerMetrics.takenOver, { worker: 'metrics-peer' })) === 1, 15_000);
      await waitFor('the lost lease counted', async () => (await sample(schedulerMetrics.leasesLost, { worker: 'metrics-slowpoke' })) === 1, 15_000);
      await waitFor('the peer run counted', async () => (await sample(schedulerMetrics.runs, { worker: 'metrics-peer', outcome: 'succeeded' })) === 1, 15_000);
      expect(await sample(schedulerMetrics.takenOver, { worker: 'metrics-slowpoke' })).toBe(0);
      expect(second.node.getStats().takenOver).toBe(1);
    } finally {
      await Promise.all([first.node.stop(), second.node.stop()]);
    }
  });
});

describe('scheduler metrics definitions', () => {
  it('bind the same process-wide metrics for any number of nodes (no "already registered")', () => {
    expect(() => [new NodeMetrics('twice'), new NodeMetrics('twice')]).not.toThrow();
    expect(register.getSingleMetric('tickwise_scheduler_runs_total')).toBe(schedulerMetrics.runs);
  });

  it('name status classes', () => {
    expect([statusClass(200), statusClass(302), statusClass(429), statusClass(503), statusClass(null)]).toEqual(['2xx', '3xx', '4xx', '5xx', 'none']);
  });
});
