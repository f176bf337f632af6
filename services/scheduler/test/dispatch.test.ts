import { describe, expect, it } from 'vitest';
import { insertHint, machineHistory, newId } from '@tickwise/db';
import { freePort } from '../../../test/support/ports.ts';
import { applyJob, endpointId, startNode, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { waitFor } from '../../../test/support/wait.ts';

const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('a scheduler node dispatching to a real HTTP target', () => {
  const env = useDatabaseAndTarget();

  it('calls on time, never early, with the Tickwise headers, and records every run', async () => {
    const { db, target } = env;
    await applyJob(db, 'basic', [
      { name: 'tick', url: `${target.url}/tick`, schedule: { every: '100ms' } },
      { name: 'post', url: `${target.url}/post`, method: 'POST', body: { since: 'last' }, headers: { 'X-Team': 'billing' }, schedule: { every: '250ms' } },
    ]);
    const tickId = await endpointId(db, 'basic', 'tick');
    const postId = await endpointId(db, 'basic', 'post');
    const { node } = startNode(db);
    await waitFor('12 calls of tick', () => target.calls.filter((call) => call.path === '/tick').length >= 12);
    await node.stop();

    const ticks = target.calls.filter((call) => call.path === '/tick');
    const slots = ticks.map((call) => Date.parse(String(call.headers['x-tickwise-scheduled-at'])));
    for (const call of ticks) {
      const scheduledAt = String(call.headers['x-tickwise-scheduled-at']);
      expect(scheduledAt).toMatch(RFC3339_MS);
      expect(call.headers['x-tickwise-endpoint']).toBe(tickId);
      expect(call.headers['x-tickwise-run']).toMatch(/^[0-9a-f-]{36}$/);
      expect(call.headers['idempotency-key']).toBe(`${tickId}:${Date.parse(scheduledAt)}`);
      expect(call.receivedAt).toBeGreaterThanOrEqual(Date.parse(scheduledAt));
    }
    expect(new Set(slots).size).toBe(slots.length);
    // Anchored on the slot, not on the finish time: no drift between consecutive slots.
    for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBe(100);

    const post = target.calls.find((call) => call.path === '/post')!;
    expect(post.method).toBe('POST');
    expect(JSON.parse(post.body)).toEqual({ since: 'last' });
    expect(post.headers['content-type']).toBe('application/json');
    expect(post.headers['x-team']).toBe('billing');
    expect(post.headers['x-tickwise-endpoint']).toBe(postId);

    const { rows: runs } = await db.pool.query('SELECT status, http_status, attempt, response_body, slot FROM runs WHERE endpoint_id = $1 ORDER BY slot', [tickId]);
    expect(runs.length).toBe(ticks.length);
    expect(runs.every((run) => run.status === 'succeeded' && run.http_status === 200 && run.attempt === 1 && run.response_body === 'ok')).toBe(true);
    const history = await machineHistory(db.pool, tickId);
    expect(history.slice(0, 2).map((step) => step.event)).toEqual(['CREATE', 'PLANNED']);
    // Then every run is one write of four steps, the run id on its FINISH.
    const cycle = history.slice(2, 6);
    expect(cycle.map((step) => `${step.from}→${step.to} ${step.event}`)).toEqual(['idle→due CLAIM', 'due→running DISPATCH', 'running→planning FINISH', 'planning→idle PLANNED']);
    expect(new Set(cycle.map((step) => step.seq)).size).toBe(1);
    expect(cycle[2]!.runId).toMatch(/^[0-9a-f-]{36}$/);
    const { rows: leased } = await db.pool.query('SELECT count(*)::int AS n FROM endpoints WHERE lease_owner IS NOT NULL');
    expect(leased[0].n).toBe(0);
  });

  it('follows an interval hint and says why', async () => {
    const { db, target } = env;
    await applyJob(db, 'hinted', [{ name: 'fast', url: `${target.url}/hinted`, schedule: { every: '1h' }, minInterval: '100ms' }]);
    const id = await endpointId(db, 'hinted', 'fast');
    await insertHint(db.pool, { id: newId(), endpointId: id, kind: 'interval', intervalMs: 150, reason: 'error rate rising', source: 'test', expiresAt: new Date(Date.now() + 60_000) });
    const { node } = startNode(db);
    await waitFor('4 hinted calls', () => target.calls.filter((call) => call.path === '/hinted').length >= 4);
    await node.stop();
    const slots = target.calls.filter((call) => call.path === '/hinted').map((call) => Date.parse(String(call.headers['x-tickwise-scheduled-at'])));
    for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBe(150);
    const { rows } = await db.pool.query('SELECT reason FROM endpoints WHERE id = $1', [id]);
    expect(rows[0].reason).toMatch(/hint \(test\): every 150ms .*error rate rising/);
  });
});

describe('hostile targets are outcomes, never crashes', () => {
  const env = useDatabaseAndTarget((call, response, { hold }) => {
    if (call.path === '/hang') return hold();
    if (call.path === '/huge') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(1024 * 1024, 'x');
      for (let i = 0; i < 10; i++) response.write(chunk);
      return void response.end();
    }
    if (call.path === '/trickle') {
      response.writeHead(200);
      const timer = setInterval(() => response.write('.'), 50);
      response.on('close', () => clearInterval(timer));
      return;
    }
    if (call.path === '/fail') {
      response.writeHead(503);
      return void response.end('down for maintenance');
    }
    response.end('ok');
  });

  it('records refused, hanging, huge, trickling, 5xx and invalid-URL calls with their error kinds', async () => {
    const { db, target } = env;
    const closedPort = await freePort();
    await applyJob(db, 'hostile', [
      { name: 'refused', url: `http://127.0.0.1:${closedPort}/`, schedule: { every: '1h' } },
      { name: 'hanging', url: `${target.url}/hang`, schedule: { every: '1h' }, timeout: '300ms' },
      { name: 'huge', url: `${target.url}/huge`, schedule: { every: '1h' } },
      { name: 'trickle', url: `${target.url}/trickle`, schedule: { every: '1h' }, timeout: '400ms' },
      { name: 'fail', url: `${target.url}/fail`, schedule: { every: '1h' } },
      { name: 'bad-url', url: `${target.url}/ok`, schedule: { every: '1h' } },
    ]);
    // A row written by an older version or by hand can still hold a URL the validator would refuse.
    await db.pool.query(`UPDATE endpoints SET spec = jsonb_set(spec, '{url}', '"http://[::1"') WHERE name = 'bad-url'`);
    const { node } = startNode(db);
    const runs = await waitFor('six runs', async () => {
      const { rows } = await db.pool.query(
        `SELECT e.name, r.status, r.http_status, r.error_kind, r.error_message, r.response_truncated, length(r.response_body) AS body_length
           FROM runs r JOIN endpoints e ON e.id = r.endpoint_id`,
      );
      return rows.length >= 6 ? new Map(rows.map((row) => [row.name as string, row])) : null;
    });
    expect(node.getStats().dispatched).toBeGreaterThanOrEqual(6);
    await node.stop();

    expect(runs.get('refused')).toMatchObject({ status: 'failed', error_kind: 'connection_refused', http_status: null });
    expect(runs.get('hanging')).toMatchObject({ status: 'failed', error_kind: 'timeout' });
    expect(runs.get('huge')).toMatchObject({ status: 'succeeded', http_status: 200, response_truncated: true, body_length: 64 * 1024 });
    expect(runs.get('trickle')).toMatchObject({ status: 'failed', error_kind: 'timeout' });
    expect(runs.get('fail')).toMatchObject({ status: 'failed', http_status: 503, error_kind: 'http_status' });
    expect(runs.get('bad-url')).toMatchObject({ status: 'failed', error_kind: 'invalid_url' });
    expect(runs.get('bad-url').error_message).toContain('http://[::1');
    // Failures feed the backoff: each failed machine is idle again with a reason.
    const { rows } = await db.pool.query(`SELECT name, state, reason FROM endpoints`);
    expect(rows.every((row) => row.state === 'idle' && typeof row.reason === 'string')).toBe(true);
  });
});
