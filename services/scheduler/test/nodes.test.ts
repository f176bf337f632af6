import { spawn, type ChildProcess } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { applyJob, endpointId, startNode, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { TEST_TARGET_ENV } from '../../../test/support/targets.ts';
import { sleep, waitFor } from '../../../test/support/wait.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

describe('several scheduler nodes on one database', () => {
  const env = useDatabaseAndTarget();

  it('run every slot exactly once: none twice, none lost (counted at the target)', async () => {
    const { db, target } = env;
    // A generous timeout: on a starved machine a call can take seconds, and a failed call backs off
    // (the next slot moves by design), which would look like a lost slot here.
    const endpoints = Array.from({ length: 150 }, (_, i) => ({ name: `e${i}`, url: `${target.url}/e${i}`, schedule: { every: '250ms' }, timeout: '5m' }));
    await applyJob(db, 'fleet', endpoints);
    const { rows: planned } = await db.pool.query<{ name: string; next_run_at: Date }>('SELECT name, next_run_at FROM endpoints');
    const firstSlot = new Map(planned.map((row) => [`/${row.name}`, row.next_run_at.getTime()]));
    // On a starved machine slots fall behind. By design a slot later than catchUpGrace is skipped
    // (catchUp: skip) and a lease not renewed in time is taken over (the slot runs again under the
    // same key); neither is what this test is about, so the grace and the lease outlast it.
    const settings = { catchUpGraceMs: 600_000, leaseMs: 60_000 };
    const nodes = ['node-a', 'node-b', 'node-c'].map((workerId) => startNode(db, { workerId, ...settings }));
    // Run until every endpoint has had 10 slots and every node has worked, however long that takes
    // on this machine at this moment: how many fit in a fixed time is not what this test is about.
    const callsOf = () => {
      const counts = new Map<string, number>();
      for (const call of target.calls) counts.set(call.path, (counts.get(call.path) ?? 0) + 1);
      return counts;
    };
    try {
      await waitFor(
        () => `10 slots of each of the 150 endpoints, every node at work (${callsOf().size} endpoints called, fewest calls ${Math.min(...callsOf().values())}, dispatched per node ${nodes.map(({ node }) => node.getStats().dispatched).join('/')})`,
        () => {
          const counts = callsOf();
          return counts.size === 150 && Math.min(...counts.values()) >= 10 && nodes.every(({ node }) => node.getStats().dispatched > 0);
        },
        45_000,
      );
    } finally {
      await Promise.all(nodes.map(({ node }) => node.stop()));
    }
    const afterStop = target.calls.length;
    await sleep(300);
    expect(target.calls.length).toBe(afterStop);

    const byEndpoint = new Map<string, number[]>();
    const keys = new Set<string>();
    for (const call of target.calls) {
      const key = String(call.headers['idempotency-key']);
      expect(keys.has(key), `slot ${key} ran twice`).toBe(false);
      keys.add(key);
      const slots = byEndpoint.get(call.path) ?? [];
      slots.push(Date.parse(String(call.headers['x-tickwise-scheduled-at'])));
      byEndpoint.set(call.path, slots);
    }
    expect(byEndpoint.size).toBe(150);
    const { rows: failed } = await db.pool.query(`SELECT slot, error_kind, error_message FROM runs WHERE status <> 'succeeded'`);
    expect(failed, 'failed calls (a failure backs off: the next slot moves)').toEqual([]);
    // None lost: each endpoint's slots run from its first planned slot, 250 ms apart without a gap,
    // up to the slot its machine now waits for (the next one, or the last one again if its call was
    // cut off by the shutdown: that slot is left to a peer, under the same idempotency key).
    const { rows: after } = await db.pool.query<{ name: string; next_run_at: Date }>('SELECT name, next_run_at FROM endpoints');
    const nextSlot = new Map(after.map((row) => [`/${row.name}`, row.next_run_at.getTime()]));
    for (const [path, slots] of byEndpoint) {
      slots.sort((a, b) => a - b);
      expect(slots[0], `the first slot of ${path} was lost`).toBe(firstSlot.get(path));
      for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!, `a slot of ${path} was lost`).toBe(250);
      expect([slots.at(-1)! + 250, slots.at(-1)], `the slots of ${path} after the last one run`).toContain(nextSlot.get(path));
    }
    // Every node did part of the work, and every call has its run row.
    const stats = nodes.map(({ node }) => node.getStats());
    expect(stats.every((s) => s.dispatched > 0)).toBe(true);
    expect(stats.reduce((sum, s) => sum + s.dispatched, 0)).toBe(target.calls.length);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n, count(DISTINCT (endpoint_id, slot))::int AS slots FROM runs');
    expect(rows[0]).toEqual({ n: target.calls.length, slots: target.calls.length });
  });
});

describe('a node killed mid-run', () => {
  // The first call hangs until the tests are over (its caller dies); later ones answer.
  const env = useDatabaseAndTarget((call, response, { calls, hold }) => {
    if (calls.length === 1) return hold();
    response.end('done');
  });
  let child: ChildProcess | undefined;
  afterEach(() => child?.kill('SIGKILL'));

  it('has its slot taken over after the lease and run again with the same idempotency key', async () => {
    const { db, target } = env;
    await applyJob(db, 'takeover', [{ name: 'work', url: `${target.url}/work`, schedule: { every: '1h' }, timeout: '1m' }]);
    const id = await endpointId(db, 'takeover', 'work');
    child = spawn(process.execPath, ['bin/tickwise.mjs', 'scheduler'], {
      cwd: REPO,
      env: { ...process.env, DATABASE_URL: db.url, TICKWISE_WORKER_ID: 'victim', TICKWISE_LEASE: '2s', TICKWISE_POLL_INTERVAL: '100ms', TICKWISE_LOG_FORMAT: 'json', ...TEST_TARGET_ENV },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(`the victim's call (output so far: ${output})`, () => target.calls.length >= 1, 20_000);
    const { rows: during } = await db.pool.query('SELECT state, lease_owner FROM endpoints WHERE id = $1', [id]);
    expect(during[0].lease_owner).toBe('victim');
    child.kill('SIGKILL');

    const { node } = startNode(db, { workerId: 'rescuer', leaseMs: 2_000 });
    try {
      await waitFor('the takeover call', () => target.calls.length >= 2, 15_000);
      const [first, second] = target.calls;
      expect(second!.headers['idempotency-key']).toBe(first!.headers['idempotency-key']);
      expect(second!.headers['x-tickwise-scheduled-at']).toBe(first!.headers['x-tickwise-scheduled-at']);
      expect(second!.headers['x-tickwise-run']).not.toBe(first!.headers['x-tickwise-run']);
      const run = await waitFor('the run row', async () => (await db.pool.query('SELECT worker, attempt, status FROM runs WHERE endpoint_id = $1', [id])).rows[0]);
      expect(run).toEqual({ worker: 'rescuer', attempt: 2, status: 'succeeded' });
      const machine = await waitFor('the machine back to idle', async () => (await db.pool.query(`SELECT state, lease_owner, next_run_at FROM endpoints WHERE id = $1 AND state = 'idle'`, [id])).rows[0]);
      expect(machine.lease_owner).toBeNull();
      expect(machine.next_run_at.getTime()).toBeGreaterThan(Date.now() + 3_500_000);
      expect(node.getStats().takenOver).toBe(1);
      // The history names the node whose lease expired, not the one that took over.
      const { rows: history } = await db.pool.query(`SELECT steps -> 0 ->> 'reason' AS reason FROM endpoint_transitions WHERE endpoint_id = $1 AND steps -> 0 ->> 'event' = 'TAKE_OVER'`, [id]);
      expect(history.map((row: { reason: string }) => row.reason)).toEqual(['lease of victim expired; attempt 2']);
    } finally {
      await node.stop();
    }
  });
});

describe('a node whose lease ran out while its call was in flight', () => {
  // The first call answers only once the peer that took the slot over has called too (a fixed delay
  // would have to outlast the takeover, however slow the machine is at the moment).
  let slow: ServerResponse | undefined;
  const env = useDatabaseAndTarget((call, response, { calls }) => {
    if (calls.length === 1) return void (slow = response);
    slow?.end('late');
    response.end('ok');
  });

  it('has its write refused, while the peer that took over owns the machine and both attempts are recorded', async () => {
    const { db, target } = env;
    await applyJob(db, 'stolen', [{ name: 'slow', url: `${target.url}/slow`, schedule: { every: '1h' }, timeout: '10s' }]);
    const id = await endpointId(db, 'stolen', 'slow');
    // A long lease: slowpoke renews it only every 20 min, like a node that stalled.
    const first = startNode(db, { workerId: 'slowpoke', leaseMs: 3_600_000 });
    await waitFor('the slow call', () => target.calls.length >= 1);
    const second = startNode(db, { workerId: 'peer', leaseMs: 2_000 });
    try {
      // As if slowpoke had stalled past its lease: expire it; the peer takes the slot over.
      await db.pool.query(`UPDATE endpoints SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [id]);
      await waitFor('the takeover call', () => target.calls.length >= 2, 15_000);
      const runs = await waitFor('both attempts recorded', async () => {
        const { rows } = await db.pool.query('SELECT worker, attempt, status FROM runs WHERE endpoint_id = $1 ORDER BY attempt', [id]);
        return rows.length === 2 ? rows : null;
      });
      expect(runs).toEqual([
        { worker: 'slowpoke', attempt: 1, status: 'succeeded' },
        { worker: 'peer', attempt: 2, status: 'succeeded' },
      ]);
      expect(first.node.getStats().leasesLost).toBe(1);
      expect(first.log.lines.some((line) => line.includes('lease lost before the write'))).toBe(true);
      const { rows } = await db.pool.query('SELECT state, lease_owner, next_run_at FROM endpoints WHERE id = $1', [id]);
      expect(rows[0]).toMatchObject({ state: 'idle', lease_owner: null });
      expect(rows[0].next_run_at.getTime()).toBeGreaterThan(Date.now() + 3_500_000);
      const [slow, again] = target.calls;
      expect(again!.headers['idempotency-key']).toBe(slow!.headers['idempotency-key']);
    } finally {
      await Promise.all([first.node.stop(), second.node.stop()]);
    }
  });
});
