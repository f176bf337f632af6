import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { setPause } from '@tickwise/catalog';
import { machineHistory } from '@tickwise/db';
import { resolveSchedulerConfig, SchedulerNode } from '@tickwise/scheduler';
import { freePort } from '../../../test/support/ports.ts';
import { applyJob, endpointId, startNode, TEST_TARGET_POLICY, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { memoryLogger } from '../../../test/support/logger.ts';
import { sleep, waitFor } from '../../../test/support/wait.ts';
import { NO_POLL, changeHints, listening, newHint, ranOnce, row, settled, writesOf } from './hint-helpers.ts';

describe('a hint re-plans a free machine without waiting for its next run', () => {
  const held: ServerResponse[] = [];
  const env = useDatabaseAndTarget((call, response) => {
    if (call.path.startsWith('/hold')) return void held.push(response);
    response.end('ok');
  });

  it('an interval hint re-plans an idle machine through LISTEN: next run, reason and history persisted', async () => {
    const { db, target } = env;
    const { node, log } = startNode(db, NO_POLL);
    try {
      await listening(log);
      const { id, lastSlot } = await ranOnce(db, `${target.url}/interval`, 'interval');
      await changeHints(db, [{ endpointId: id, add: [newHint(id, 'interval', { intervalMs: 600_000, reason: 'upstream asked to slow down' })] }]);
      const replanned = await waitFor('the re-plan', async () => {
        const current = await row(db, id);
        return current.reason?.startsWith('hint') ? current : undefined;
      });
      expect(replanned.state).toBe('idle');
      expect(replanned.next_run_at.getTime()).toBe(lastSlot.getTime() + 600_000);
      expect(replanned.reason).toMatch(/^hint \(test\): every 10m until .*: upstream asked to slow down$/);
      expect(replanned.planned_hint_version).toBe(replanned.hint_version);
      const last = (await writesOf(db, id)).at(-1)!;
      expect(last.map((step) => [step.from, step.event, step.to])).toEqual([
        ['idle', 'REPLAN', 'planning'],
        ['planning', 'PLANNED', 'idle'],
      ]);
      expect(last[0]!.reason).toBe('hint (test): upstream asked to slow down');
      expect(last[1]!.reason).toBe(replanned.reason);
      expect(target.calls.filter((call) => call.path === '/interval')).toHaveLength(1);
      expect(log.lines.some((line) => line.startsWith('debug re-planned for hints') && line.includes(id))).toBe(true);
    } finally {
      await node.stop();
    }
  });

  it.each([
    ['its LISTEN connection fails', { listenUrl: 'closed port' }],
    ['LISTEN is off', { config: { listen: false } }],
  ] as const)('re-plans by polling when %s, and the node keeps running', async (_case, setup) => {
    const { db, target } = env;
    const log = memoryLogger();
    const config = resolveSchedulerConfig({ leaseMs: 3_000, pollIntervalMs: 100, shutdownGraceMs: 1_000, prune: false, hintPollMs: 200, targetPolicy: TEST_TARGET_POLICY, ...('config' in setup ? setup.config : {}) });
    const connectionString = 'listenUrl' in setup ? `postgres://postgres@127.0.0.1:${await freePort()}/nowhere` : db.url;
    const node = new SchedulerNode({ pool: db.pool, connectionString, config, log });
    node.start();
    try {
      const job = `poll-${config.listen ? 'failing' : 'off'}`;
      const { id, lastSlot } = await ranOnce(db, `${target.url}/${job}`, job);
      await changeHints(db, [{ endpointId: id, add: [newHint(id, 'interval', { intervalMs: 300_000 })] }]);
      const replanned = await waitFor('the re-plan by polling', async () => {
        const current = await row(db, id);
        return current.reason?.startsWith('hint') ? current : undefined;
      });
      expect(replanned.next_run_at.getTime()).toBe(lastSlot.getTime() + 300_000);
      if (config.listen) expect(log.lines.some((line) => line.includes('listener {"status":"reconnecting"'))).toBe(true);
      else expect(log.lines.some((line) => line.startsWith('info LISTEN off; polling'))).toBe(true);
      expect(log.lines.some((line) => line.includes('listener {"status":"listening"}'))).toBe(false);
    } finally {
      await node.stop();
    }
  });

  it('a pause_until hint pauses an idle machine; clearing it resumes it at baseline', async () => {
    const { db, target } = env;
    const { node, log } = startNode(db, NO_POLL);
    try {
      await listening(log);
      const { id, idle, lastSlot } = await ranOnce(db, `${target.url}/pause`, 'pause');
      const until = new Date(Date.now() + 1_800_000);
      await changeHints(db, [{ endpointId: id, add: [newHint(id, 'pause_until', { at: until, reason: 'upstream maintenance' })] }]);
      const paused = await waitFor('paused by the hint', async () => {
        const current = await row(db, id);
        return current.state === 'paused' ? current : undefined;
      });
      expect(paused.next_run_at.getTime()).toBe(until.getTime());
      expect(paused.reason).toMatch(/^hint \(test\): pause until .*: upstream maintenance$/);

      await changeHints(db, [{ endpointId: id, add: [], clearSources: ['test'] }]);
      const resumed = await waitFor('resumed', async () => {
        const current = await row(db, id);
        return current.state === 'idle' ? current : undefined;
      });
      expect(resumed.reason).toBe('baseline every 1h');
      expect(resumed.next_run_at.getTime()).toBe(lastSlot.getTime() + 3_600_000);
      expect(resumed.next_run_at.getTime()).toBe(idle.next_run_at.getTime());
      const last = (await writesOf(db, id)).at(-1)!;
      expect(last.map((step) => [step.from, step.event, step.to, step.reason])).toEqual([
        ['paused', 'REPLAN', 'planning', 'hints cleared'],
        ['planning', 'PLANNED', 'idle', 'baseline every 1h'],
      ]);
    } finally {
      await node.stop();
    }
  });

  it('a pause_until hint that ends resumes the machine once: one RESUME and one plan, no re-pausing within the claim-ahead', async () => {
    const { db, target } = env;
    const { node, log } = startNode(db, { ...NO_POLL, claimAheadMs: 500 });
    try {
      await listening(log);
      const { id } = await ranOnce(db, `${target.url}/pause-ends`, 'pause-ends');
      const until = new Date(Date.now() + 1_500);
      await changeHints(db, [{ endpointId: id, add: [newHint(id, 'pause_until', { at: until, reason: 'Retry-After 1s' })] }]);
      await waitFor('paused by the hint', async () => (await row(db, id)).state === 'paused');
      const resumed = await waitFor('resumed after the pause', async () => {
        const current = await row(db, id);
        return current.state === 'idle' ? current : undefined;
      });
      await sleep(300);
      const after = (await writesOf(db, id)).filter((write) => write.some((step) => step.from === 'paused' || step.to === 'paused'));
      // Paused once by the hint, resumed once: before the fix it paused again and again for the claim-ahead.
      expect(after.map((write) => write.map((step) => step.event))).toEqual([['REPLAN', 'PAUSED'], ['RESUME', 'PLANNED']]);
      expect(resumed.reason).toBe('baseline every 1h');
      expect((await row(db, id)).version).toBe(resumed.version);
    } finally {
      await node.stop();
    }
  });

  it('a hint arriving while the machine runs is honoured by the plan after the run', async () => {
    const { db, target } = env;
    const { node, log } = startNode(db, NO_POLL);
    try {
      await listening(log);
      await applyJob(db, 'busy', [{ name: 'work', url: `${target.url}/hold-busy`, schedule: { every: '1h' }, timeout: '30s' }]);
      const id = await endpointId(db, 'busy', 'work');
      await waitFor('the call in flight', () => held.length === 1);
      await changeHints(db, [{ endpointId: id, add: [newHint(id, 'interval', { intervalMs: 120_000 })] }]);
      await waitFor('the node told of the hint', () => log.lines.some((line) => line.startsWith('debug hints changed while held') && line.includes(id)));
      held.shift()!.end('ok');
      const planned = await settled(db, id);
      const { rows: runs } = await db.pool.query('SELECT slot FROM runs WHERE endpoint_id = $1', [id]);
      expect(runs).toHaveLength(1);
      expect(planned.state).toBe('idle');
      expect(planned.reason).toMatch(/^hint \(test\): every 2m/);
      expect(planned.next_run_at.getTime()).toBe(runs[0].slot.getTime() + 120_000);
      // The run's own plan used the hint: no re-plan afterwards.
      expect((await machineHistory(db.pool, id)).map((step) => step.event)).not.toContain('REPLAN');
    } finally {
      await node.stop();
    }
  });

  it('without LISTEN, a hint that arrived during the run leaves the machine pending, and the poll re-plans it right after', async () => {
    const { db, target } = env;
    const { node } = startNode(db, { listen: false, hintPollMs: 200 });
    try {
      await applyJob(db, 'busy-polled', [{ name: 'work', url: `${target.url}/hold-polled`, schedule: { every: '1h' }, timeout: '30s' }]);
      const id = await endpointId(db, 'busy-polled', 'work');
      await waitFor('the call in flight', () => held.length === 1);
      await changeHints(db, [{ endpointId: id, add: [newHint(id, 'interval', { intervalMs: 120_000 })] }]);
      held.shift()!.end('ok');
      const replanned = await waitFor('the re-plan after the run', async () => {
        const current = await row(db, id);
        return current.reason?.startsWith('hint') && current.planned_hint_version === current.hint_version ? current : undefined;
      });
      const writes = await writesOf(db, id);
      const run = writes.find((steps) => steps.some((step) => step.event === 'FINISH'))!;
      expect(run.at(-1)!.reason).toBe('baseline every 1h');
      expect(writes.at(-1)!.map((step) => step.event)).toEqual(['REPLAN', 'PLANNED']);
      const { rows: runs } = await db.pool.query('SELECT slot FROM runs WHERE endpoint_id = $1', [id]);
      expect(replanned.next_run_at.getTime()).toBe(runs[0].slot.getTime() + 120_000);
    } finally {
      await node.stop();
    }
  });

  it("never overrides a person's pause", async () => {
    const { db, target } = env;
    const { node, log } = startNode(db, NO_POLL);
    try {
      await listening(log);
      const { id } = await ranOnce(db, `${target.url}/person`, 'person');
      await setPause(db.pool, id, { reason: 'maintenance window', until: null });
      const writesBefore = (await writesOf(db, id)).length;
      const calls = target.calls.length;
      await changeHints(db, [{ endpointId: id, add: [newHint(id, 'run_at', { at: new Date(Date.now() + 200) }), newHint(id, 'interval', { intervalMs: 100 })] }]);
      const after = await settled(db, id);
      expect(after).toMatchObject({ state: 'paused', next_run_at: null, reason: 'paused by a person: maintenance window' });
      expect((await writesOf(db, id)).length).toBe(writesBefore);
      await sleep(500);
      expect(target.calls.length).toBe(calls);
    } finally {
      await node.stop();
    }
  });

  it('three nodes told of the same hint re-plan the machine exactly once', async () => {
    const { db, target } = env;
    const nodes = [startNode(db, { ...NO_POLL, workerId: 'hint-a' }), startNode(db, { ...NO_POLL, workerId: 'hint-b' }), startNode(db, { ...NO_POLL, workerId: 'hint-c' })];
    try {
      await Promise.all(nodes.map(({ log }) => listening(log)));
      const { id } = await ranOnce(db, `${target.url}/three`, 'three');
      const writesBefore = (await writesOf(db, id)).length;
      await changeHints(db, [{ endpointId: id, add: [newHint(id, 'interval', { intervalMs: 900_000 })] }]);
      await settled(db, id);
      // Every node handles the notification; give the others time to find nothing left to do.
      await sleep(500);
      const writes = await writesOf(db, id);
      expect(writes.length).toBe(writesBefore + 1);
      expect(writes.at(-1)!.map((step) => step.event)).toEqual(['REPLAN', 'PLANNED']);
      expect(nodes.filter(({ log }) => log.lines.some((line) => line.startsWith('debug re-planned for hints') && line.includes(id)))).toHaveLength(1);
    } finally {
      await Promise.all(nodes.map(({ node }) => node.stop()));
    }
  });

  it('an expired hint has no effect', async () => {
    const { db, target } = env;
    const { node, log } = startNode(db, NO_POLL);
    try {
      await listening(log);
      const { id, idle } = await ranOnce(db, `${target.url}/expired`, 'expired');
      const writesBefore = (await writesOf(db, id)).length;
      await changeHints(db, [{ endpointId: id, add: [newHint(id, 'interval', { intervalMs: 1_000, expiresAt: new Date(Date.now() - 1_000) })] }]);
      const after = await settled(db, id);
      expect(after).toMatchObject({ state: 'idle', next_run_at: idle.next_run_at, reason: idle.reason, version: idle.version });
      expect((await writesOf(db, id)).length).toBe(writesBefore);
    } finally {
      await node.stop();
    }
  });

  it('a hint for an archived endpoint does nothing', async () => {
    const { db, target } = env;
    const { node, log } = startNode(db, NO_POLL);
    try {
      await listening(log);
      await applyJob(db, 'archive', [
        { name: 'gone', url: `${target.url}/gone`, schedule: { every: '1h' } },
        { name: 'kept', url: `${target.url}/kept`, schedule: { every: '1h' } },
      ]);
      const id = await endpointId(db, 'archive', 'gone');
      await waitFor('run once', async () => (await row(db, id)).reason?.startsWith('baseline'));
      await applyJob(db, 'archive', [{ name: 'kept', url: `${target.url}/kept`, schedule: { every: '1h' } }]);
      const before = await row(db, id);
      const writesBefore = (await writesOf(db, id)).length;
      await changeHints(db, [{ endpointId: id, add: [newHint(id, 'run_at', { at: new Date(Date.now() + 100) })] }]);
      const after = await settled(db, id);
      expect(after).toMatchObject({ state: before.state, next_run_at: before.next_run_at, reason: before.reason, version: before.version });
      expect((await writesOf(db, id)).length).toBe(writesBefore);
      await sleep(300);
      expect(target.calls.filter((call) => call.path === '/gone')).toHaveLength(1);
    } finally {
      await node.stop();
    }
  });
});
