import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSigningSecret, setPause } from '@tickwise/catalog';
import { applyHintChanges, DEFAULT_TENANT_ID, inTransaction, insertNotice, newId } from '@tickwise/db';
import { applyJobs } from '@tickwise/catalog';
import { endpointInputSchema } from '@tickwise/machines';
import { endpointId, startNode, TEST_TARGET_POLICY, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { startHttpTarget, type HttpTarget } from '../../../test/support/http-target.ts';
import { sleep, waitFor } from '../../../test/support/wait.ts';
import { receipts, startNotifyingPlanner, type RunningPlanner } from './support/notify.ts';

// End to end on the database path: a real scheduler node calls a target that fails and recovers;
// the planner tells a local receiver (a webhook, signed, and a Slack incoming webhook) within 5 s,
// retries a delivery the receiver refused, and tells nothing twice across planner restarts.

let failing = false;
const fixture = useDatabaseAndTarget((_call, response) => {
  response.statusCode = failing ? 500 : 200;
  response.end(failing ? 'down' : 'ok');
});

const PUBLIC_URL = 'https://tickwise.example.com';
/** How many of the next webhook calls the receiver refuses with a 500. */
let refuseHooks = 0;
let receiver: HttpTarget;
let planner: RunningPlanner | undefined;
let stopNode: () => Promise<void>;
let id: string;
let secret: string;

const hooks = (kind?: string) => receipts(receiver.calls, '/hook', kind);
const slack = (kind?: string) => receipts(receiver.calls, '/slack', kind);
const startPlanner = (name: string) => startNotifyingPlanner(fixture.db, { id: name, settings: { publicUrl: PUBLIC_URL } });

async function deliveries(kind: string) {
  return (await fixture.db.pool.query('SELECT channel, status, attempts, last_error, last_http_status, id FROM notification_deliveries WHERE kind = $1 ORDER BY id', [kind])).rows;
}

beforeAll(async () => {
  const { db, target } = fixture;
  receiver = await startHttpTarget((call, response) => {
    const refuse = call.path === '/hook' && refuseHooks > 0;
    if (refuse) refuseHooks--;
    response.statusCode = refuse ? 500 : 200;
    response.end(refuse ? 'receiver down' : 'ok');
  });
  secret = (await addSigningSecret(db.pool, { tenantId: DEFAULT_TENANT_ID })).secret;
  await applyJobs(db.pool, [
    {
      name: 'orders',
      synthetic: false,
      endpoints: [endpointInputSchema.parse({ name: 'poll', url: `${target.url}/poll`, schedule: { every: '300ms' }, maxInterval: '400ms' })],
      notify: [
        { channel: 'webhook', url: `${receiver.url}/hook`, after: 2 },
        { channel: 'slack', url: `${receiver.url}/slack`, after: 3 },
      ],
    },
  ], { targetPolicy: TEST_TARGET_POLICY });
  id = await endpointId(db, 'orders', 'poll');
  stopNode = (({ node }) => () => node.stop())(startNode(db));
  planner = await startPlanner('planner-a');
});

afterAll(async () => {
  await planner?.stop();
  await stopNode?.();
  await receiver?.close();
});

describe('notifications on the database path', () => {
  it('tells the webhook once the streak reaches its after, signed, within 5 s, retrying after a 500', async () => {
    await waitFor('a first success', async () => (await fixture.db.pool.query("SELECT 1 FROM runs WHERE status = 'succeeded'")).rows.length > 0);
    refuseHooks = 1;
    failing = true;
    const [refused, sent] = await waitFor('the failing notice, refused then sent', () => (hooks('failing').length >= 2 ? hooks('failing') : null));
    expect(refused!.call.receivedAt).toBeLessThan(sent!.call.receivedAt);
    // The same delivery both times: one webhook-id, one body.
    expect(sent!.call.headers['webhook-id']).toBe(refused!.call.headers['webhook-id']);
    expect(sent!.call.body).toBe(refused!.call.body);
    const body = new Webhook(secret).verify(sent!.call.body, sent!.call.headers as Record<string, string>) as Record<string, any>;
    expect(body).toMatchObject({
      type: 'endpoint.failing',
      kind: 'failing',
      endpoint: { id, name: 'poll' },
      job: { name: 'orders' },
      tenant: { id: DEFAULT_TENANT_ID, name: 'default' },
      streak: { failures: 2, last_error: 'http_status 500' },
      link: `${PUBLIC_URL}/ui/#/endpoint/${id}`,
    });
    expect(body.summary).toBe('orders/poll is failing: 2 failed slots in a row (last error: http_status 500)');
    // Within 5 s of the run that reached the threshold.
    expect(refused!.call.receivedAt - Date.parse(body.streak.last_failure_at)).toBeLessThan(5_000);
    const rows = await waitFor('the delivery recorded as sent', async () => (await deliveries('failing')).filter((row) => row.channel === 'webhook' && row.status === 'sent'));
    expect(rows).toEqual([expect.objectContaining({ attempts: 2, last_http_status: 200, last_error: 'HTTP 500: receiver down' })]);
    expect(rows[0].id).toBe(sent!.call.headers['webhook-id']);
  });

  it('tells Slack at its own after, in the incoming-webhook format with a link, unsigned', async () => {
    const [message] = await waitFor('the Slack failing notice', () => (slack('failing').length > 0 ? slack('failing') : null));
    expect(message!.call.headers['webhook-signature']).toBeUndefined();
    expect(message!.body.text).toBe(`:rotating_light: orders/poll is failing: 3 failed slots in a row (last error: http_status 500) <${PUBLIC_URL}/ui/#/endpoint/${id}|open in Tickwise>`);
    expect(message!.body.blocks[0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: message!.body.text } });
    expect(message!.body.blocks[1].elements[0].text).toContain('tenant default');
  });

  it('tells both of the recovery at the first success, once', async () => {
    failing = false;
    await waitFor('both recovery notices', () => hooks('recovered').length >= 1 && slack('recovered').length >= 1);
    const [recovered] = hooks('recovered');
    expect(recovered!.body).toMatchObject({ kind: 'recovered', streak: { id: hooks('failing')[0]!.body.streak.id }, recovered: { run_id: expect.any(String) } });
    expect(recovered!.body.streak.failures).toBeGreaterThanOrEqual(3);
    expect(recovered!.call.receivedAt - Date.parse(recovered!.body.recovered.at)).toBeLessThan(5_000);
    await sleep(1_000);
    expect([hooks('failing').length, slack('failing').length, hooks('recovered').length, slack('recovered').length]).toEqual([2, 1, 1, 1]);
  });

  it('tells a streak reached while no planner ran, once, and nothing twice across two more restarts', async () => {
    await planner!.stop();
    planner = undefined;
    const streakStart = Date.now();
    failing = true;
    // The streak passes both thresholds with no planner running.
    await waitFor('4 failed slots', async () => (await fixture.db.pool.query("SELECT count(*)::int AS n FROM runs WHERE status = 'failed' AND started_at > $1", [new Date(streakStart)])).rows[0].n >= 4);
    planner = await startPlanner('planner-b');
    await waitFor('the second streak told to both', () => hooks('failing').length === 3 && slack('failing').length === 2);
    // Mid-streak: stopped and started again; the streak goes on and is not told again.
    await planner.stop();
    planner = await startPlanner('planner-c');
    const folded = planner.planner.stats.eventsFolded;
    await waitFor('more failed runs folded by the new planner', () => planner!.planner.stats.eventsFolded >= folded + 4);
    expect([hooks('failing').length, slack('failing').length]).toEqual([3, 2]);
    failing = false;
    await waitFor('the second recovery told to both', () => hooks('recovered').length === 2 && slack('recovered').length === 2);
    await sleep(1_000);
    expect([hooks('failing').length, slack('failing').length, hooks('recovered').length, slack('recovered').length]).toEqual([3, 2, 2, 2]);
    expect(new Set(hooks().map((receipt) => receipt.call.headers['webhook-id'])).size).toBe(4);
    const { rows } = await fixture.db.pool.query("SELECT count(*)::int AS n FROM notifications WHERE kind = 'failing'");
    expect(rows[0].n).toBe(4);
  });

  it('tells of a pause by a person, a hint and the breaker, each within 5 s', async () => {
    const before = hooks('paused').length;
    await setPause(fixture.db.pool, id, { reason: 'deploy window', until: null });
    const person = await waitFor('the person pause notice', () => hooks('paused')[before]);
    expect(person.body).toMatchObject({ kind: 'paused', pause: { by: 'person', reason: 'deploy window', until: null }, streak: null });
    await setPause(fixture.db.pool, id, null);
    const at = new Date(Date.now() + 60_000);
    const started = Date.now();
    await inTransaction(fixture.db.pool, (client) => applyHintChanges(client, [{ endpointId: id, add: [{ id: newId(), endpointId: id, kind: 'pause_until', at, reason: 'Retry-After 60s', source: 'planner:heuristic', expiresAt: at }] }]));
    const hint = await waitFor('the hint pause notice', () => hooks('paused')[before + 1]);
    expect(hint.body.pause).toEqual({ by: 'hint', reason: 'Retry-After 60s', until: at.toISOString() });
    expect(hint.call.receivedAt - started).toBeLessThan(5_000);
    // The breaker's notice, as a scheduler node's commit writes it.
    await insertNotice(fixture.db.pool, id, { id: newId(), kind: 'paused', detail: { by: 'breaker', reason: '5 consecutive failed slots (pauseAfter 5)', until: null } });
    const breaker = await waitFor('the breaker pause notice', () => hooks('paused')[before + 2]);
    expect(breaker.body.pause).toMatchObject({ by: 'breaker' });
    expect(breaker.body.summary).toBe('orders/poll was paused by the breaker (pauseAfter): 5 consecutive failed slots (pauseAfter 5)');
    await waitFor('the Slack pause notices', () => slack('paused').length === 3);
  });
});
