import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { applyJobs } from '@tickwise/catalog';
import { machineHistory } from '@tickwise/db';
import { endpointInputSchema } from '@tickwise/machines';
import { applyJob, endpointId, startNode, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { TEST_TARGET_ENV, TEST_TARGET_POLICY } from '../../../test/support/targets.ts';
import { sleep, waitFor } from '../../../test/support/wait.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

describe('first runs are never missed', () => {
  const env = useDatabaseAndTarget();

  it('runs the first slot of every endpoint created while no node ran, however late the node starts', async () => {
    const { db, target } = env;
    await applyJob(db, 'late', Array.from({ length: 30 }, (_, index) => ({ name: `e${index}`, url: `${target.url}/late/${index}`, schedule: { every: '1h' } })));
    // Longer than the node's catch-up grace: a slot this late would be skipped, were it not a first one.
    await sleep(1_500);
    const { node } = startNode(db, { catchUpGraceMs: 1_000 });
    try {
      await waitFor('30 first runs', () => new Set(target.calls.filter((call) => call.path.startsWith('/late/')).map((call) => call.path)).size === 30);
      await sleep(300);
      expect(target.calls.filter((call) => call.path.startsWith('/late/'))).toHaveLength(30);
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM endpoints WHERE reason = 'baseline every 1h' AND next_run_at > now() + interval '55 minutes'`);
      expect(rows[0].n).toBe(30);
    } finally {
      await node.stop();
    }
  });

  it('runs the first slots planned at the start of a long apply, committed long after', async () => {
    const { db, target } = env;
    // The apply's clock said a minute ago when it planned these: their first slots were old at commit.
    const minuteAgo = new Date(Date.now() - 60_000);
    await applyJobs(db.pool, [{ name: 'long-apply', synthetic: false, endpoints: [0, 1, 2].map((index) => endpointInputSchema.parse({ name: `e${index}`, url: `${target.url}/apply/${index}`, schedule: { cron: '*/5 * * * *', timezone: 'UTC' } })) }], { now: () => minuteAgo, targetPolicy: TEST_TARGET_POLICY });
    await db.pool.query(`UPDATE endpoints SET next_run_at = $1 WHERE job_id = (SELECT id FROM jobs WHERE name = 'long-apply')`, [minuteAgo]);
    const { node } = startNode(db, { catchUpGraceMs: 1_000 });
    try {
      await waitFor('3 first runs', () => target.calls.filter((call) => call.path.startsWith('/apply/')).length === 3);
    } finally {
      await node.stop();
    }
  });
});

describe('Retry-After, honoured by the node itself', () => {
  const env = useDatabaseAndTarget((call, response) => {
    if (call.path === '/throttled') {
      response.writeHead(429, { 'retry-after': '3' });
      return void response.end('slow down');
    }
    response.end('ok');
  });

  it('starts no slot before the time a 429 asked for, without a planner', async () => {
    const { db, target } = env;
    await applyJob(db, 'throttled', [{ name: 'tight', url: `${target.url}/throttled`, schedule: { every: '1s' } }]);
    const id = await endpointId(db, 'throttled', 'tight');
    const { node } = startNode(db);
    try {
      await waitFor('two calls', () => target.calls.filter((call) => call.path === '/throttled').length >= 2, 10_000);
    } finally {
      await node.stop();
    }
    const [first, second] = target.calls.filter((call) => call.path === '/throttled');
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(2_990);
    const { rows } = await db.pool.query('SELECT retry_after_ms FROM runs WHERE endpoint_id = $1 ORDER BY id LIMIT 1', [id]);
    expect(Number(rows[0].retry_after_ms)).toBe(3_000);
    const history = await machineHistory(db.pool, id);
    expect(history.some((step) => /held until .* by the target's Retry-After/.test(step.reason ?? ''))).toBe(true);
  });
});

describe('retries within the slot', () => {
  // Fails the first two attempts of every Idempotency-Key, then succeeds.
  const seen = new Map<string, number>();
  const env = useDatabaseAndTarget((call, response) => {
    const key = String(call.headers['idempotency-key']);
    const count = (seen.get(key) ?? 0) + 1;
    seen.set(key, count);
    if (call.path.startsWith('/flaky') && count <= 2) {
      response.statusCode = 503;
      return void response.end('not yet');
    }
    if (call.path === '/ok-false') return void response.end('{"ok":false}');
    response.end('{"ok":true}');
  });
  let child: ChildProcess | undefined;
  afterEach(() => child?.kill('SIGKILL'));

  it('makes each attempt a run with its number, the same key, and one failed slot at most', async () => {
    const { db, target } = env;
    await applyJob(db, 'retry', [{ name: 'flaky', url: `${target.url}/flaky-a`, schedule: { every: '1h' }, retry: { attempts: 3, backoff: '200ms', maxBackoff: '400ms' } }]);
    const id = await endpointId(db, 'retry', 'flaky');
    const { node } = startNode(db);
    try {
      await waitFor('the slot to succeed', async () => (await db.pool.query(`SELECT 1 FROM runs WHERE endpoint_id = $1 AND status = 'succeeded'`, [id])).rowCount);
    } finally {
      await node.stop();
    }
    const calls = target.calls.filter((call) => call.path === '/flaky-a');
    expect(calls.map((call) => call.headers['x-tickwise-attempt'])).toEqual(['1', '2', '3']);
    expect(new Set(calls.map((call) => call.headers['idempotency-key'])).size).toBe(1);
    expect(calls[1]!.receivedAt - calls[0]!.receivedAt).toBeGreaterThanOrEqual(100);
    const { rows } = await db.pool.query('SELECT attempt, last_attempt, status FROM runs WHERE endpoint_id = $1 ORDER BY id', [id]);
    expect(rows).toEqual([
      { attempt: 1, last_attempt: false, status: 'failed' },
      { attempt: 2, last_attempt: false, status: 'failed' },
      { attempt: 3, last_attempt: true, status: 'succeeded' },
    ]);
    const { rows: machine } = await db.pool.query(`SELECT state, snapshot -> 'context' ->> 'consecutiveFailures' AS failures FROM endpoints WHERE id = $1`, [id]);
    expect(machine[0]).toEqual({ state: 'idle', failures: '0' });
    const { rows: events } = await db.pool.query(`SELECT payload ->> 'attempt' AS attempt, payload ->> 'last_attempt' AS last FROM run_events WHERE aggregate_id = $1 ORDER BY id`, [id]);
    expect(events).toEqual([{ attempt: '1', last: 'false' }, { attempt: '2', last: 'false' }, { attempt: '3', last: 'true' }]);
  });

  it('continues the count after the node is killed between attempts: same key, the next attempt', async () => {
    const { db, target } = env;
    await applyJob(db, 'retry-kill', [{ name: 'flaky', url: `${target.url}/flaky-b`, schedule: { every: '1h' }, retry: { attempts: 3, backoff: '4s', maxBackoff: '4s' } }]);
    const id = await endpointId(db, 'retry-kill', 'flaky');
    child = spawn(process.execPath, ['bin/tickwise.mjs', 'scheduler'], {
      cwd: REPO,
      env: { ...process.env, DATABASE_URL: db.url, TICKWISE_WORKER_ID: 'victim', TICKWISE_LEASE: '2s', TICKWISE_POLL_INTERVAL: '100ms', TICKWISE_OPS_PORT: 'off', TICKWISE_LOG_FORMAT: 'json', ...TEST_TARGET_ENV },
      stdio: 'ignore',
    });
    // Attempt 1 failed and is recorded; the victim waits out its backoff holding the slot.
    await waitFor('attempt 1 recorded', async () => (await db.pool.query(`SELECT 1 FROM runs WHERE endpoint_id = $1`, [id])).rowCount, 20_000);
    child.kill('SIGKILL');
    const { node } = startNode(db, { workerId: 'rescuer', leaseMs: 2_000 });
    try {
      await waitFor('the slot to succeed', async () => (await db.pool.query(`SELECT 1 FROM runs WHERE endpoint_id = $1 AND status = 'succeeded'`, [id])).rowCount, 20_000);
    } finally {
      await node.stop();
    }
    const calls = target.calls.filter((call) => call.path === '/flaky-b');
    expect(calls.map((call) => call.headers['x-tickwise-attempt'])).toEqual(['1', '2', '3']);
    expect(new Set(calls.map((call) => call.headers['idempotency-key'])).size).toBe(1);
    const { rows } = await db.pool.query('SELECT attempt, worker, status FROM runs WHERE endpoint_id = $1 ORDER BY id', [id]);
    expect(rows).toEqual([
      { attempt: 1, worker: 'victim', status: 'failed' },
      { attempt: 2, worker: 'rescuer', status: 'failed' },
      { attempt: 3, worker: 'rescuer', status: 'succeeded' },
    ]);
  });

  it('never retries into the next slot, and judges success by the endpoint’s rule', async () => {
    const { db, target } = env;
    await applyJob(db, 'rules', [
      // The backoff (1s to 2s) never ends before the next slot (1s after this one): no retry fits.
      { name: 'tight', url: `${target.url}/flaky-c`, schedule: { every: '1s' }, retry: { attempts: 3, backoff: '2s', maxBackoff: '2s' } },
      { name: 'asserted', url: `${target.url}/ok-false`, schedule: { every: '1h' }, success: { status: ['2xx'], bodyContains: '"ok":true' } },
    ]);
    const tight = await endpointId(db, 'rules', 'tight');
    const asserted = await endpointId(db, 'rules', 'asserted');
    const { node } = startNode(db);
    try {
      await waitFor('three slots of the tight one', async () => (await db.pool.query(`SELECT count(*)::int AS n FROM runs WHERE endpoint_id = $1`, [tight])).rows[0].n >= 3, 10_000);
    } finally {
      await node.stop();
    }
    const { rows } = await db.pool.query('SELECT endpoint_id, slot, attempt, last_attempt, status, error_kind, error_message FROM runs WHERE endpoint_id = ANY ($1::uuid[]) ORDER BY id', [[tight, asserted]]);
    const tightRuns = rows.filter((row) => row.endpoint_id === tight);
    // One attempt a slot, each the slot's last; every slot its own key.
    expect(tightRuns.every((row) => row.attempt === 1 && row.last_attempt === true)).toBe(true);
    expect(new Set(tightRuns.map((row) => row.slot.getTime())).size).toBe(tightRuns.length);
    expect(rows.find((row) => row.endpoint_id === asserted)).toMatchObject({ status: 'failed', error_kind: 'assertion', error_message: 'HTTP 200: the body does not contain "\\"ok\\":true"' });
  });
});

describe('overlap and the breaker', () => {
  let inFlight = 0;
  let most = 0;
  const env = useDatabaseAndTarget((call, response) => {
    if (call.path === '/slow') {
      inFlight++;
      most = Math.max(most, inFlight);
      return void setTimeout(() => {
        inFlight--;
        response.end('done');
      }, 2_500);
    }
    if (call.path === '/down') {
      response.statusCode = 500;
      return void response.end('down');
    }
    response.end('ok');
  });

  it('overlap: skip never runs a slot that fell due while the run was going, and says so', async () => {
    const { db, target } = env;
    await applyJob(db, 'overlap', [{ name: 'slow', url: `${target.url}/slow`, schedule: { every: '1s' }, overlap: 'skip', timeout: '10s' }]);
    const id = await endpointId(db, 'overlap', 'slow');
    const { node } = startNode(db);
    try {
      await waitFor('three runs', async () => (await db.pool.query('SELECT count(*)::int AS n FROM runs WHERE endpoint_id = $1', [id])).rows[0].n >= 3, 20_000);
    } finally {
      await node.stop();
    }
    expect(most).toBe(1);
    const calls = target.calls.filter((call) => call.path === '/slow');
    for (let index = 1; index < calls.length; index++) expect(calls[index]!.receivedAt - calls[index - 1]!.receivedAt).toBeGreaterThanOrEqual(2_400);
    const skips = (await machineHistory(db.pool, id)).filter((step) => step.skipped);
    expect(skips.length).toBeGreaterThanOrEqual(2);
    expect(skips[0]).toMatchObject({ skipped: { why: 'overlap' } });
    expect(skips[0]!.reason).toMatch(/^overlap skip: [23] slots fell due while the run was going/);
    expect(node.getStats().skipped).toBeGreaterThanOrEqual(4);
  });

  it('pauseAfter pauses a failing endpoint after that many failed slots, and leaves a notice', async () => {
    const { db, target } = env;
    await applyJob(db, 'breaker', [{ name: 'down', url: `${target.url}/down`, schedule: { every: '200ms' }, pauseAfter: 2 }]);
    const id = await endpointId(db, 'breaker', 'down');
    const { node } = startNode(db);
    try {
      await waitFor('the breaker', async () => (await db.pool.query(`SELECT 1 FROM endpoints WHERE id = $1 AND state = 'paused'`, [id])).rowCount, 20_000);
      await sleep(1_000);
    } finally {
      await node.stop();
    }
    expect(target.calls.filter((call) => call.path === '/down')).toHaveLength(2);
    const { rows } = await db.pool.query('SELECT state, reason, next_run_at FROM endpoints WHERE id = $1', [id]);
    expect(rows[0]).toMatchObject({ state: 'paused', next_run_at: null });
    expect(rows[0].reason).toBe('paused by the breaker after 2 consecutive failed slots (pauseAfter 2): resume it once the target is fixed');
    const { rows: notices } = await db.pool.query('SELECT kind, detail FROM endpoint_notices WHERE endpoint_id = $1', [id]);
    expect(notices).toEqual([{ kind: 'paused', detail: { by: 'breaker', reason: rows[0].reason, until: null } }]);
  });
});
