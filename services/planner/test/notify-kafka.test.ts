import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyJobs, setPause } from '@tickwise/catalog';
import { endpointInputSchema } from '@tickwise/machines';
import { KafkaRunEventSource } from '../src/sources/kafka-source.ts';
import { createTopic, deleteTopics, kafkaOrWarn, registerOutboxConnector, uniqueTopic, type OutboxConnector } from '../../../test/support/kafka.ts';
import { startHttpTarget, type HttpTarget } from '../../../test/support/http-target.ts';
import { memoryLogger } from '../../../test/support/logger.ts';
import { endpointId, startNode, TEST_TARGET_POLICY, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { sleep, waitFor } from '../../../test/support/wait.ts';
import { receipts, startNotifyingPlanner, type RunningPlanner } from './support/notify.ts';

// Notifications when run events come from Kafka (Debezium's outbox router): failing and recovered
// from the topic, paused from the database's notices (read there whatever the event path), and
// nothing told twice when a new planner of the group takes over mid-streak.

const SUITE = 'services/planner/test/notify-kafka.test.ts (notifications on the Kafka path)';
const kafka = kafkaOrWarn(SUITE);

let failing = false;

describe.skipIf(!kafka)('notifications on the Kafka path', () => {
  const settings = kafka!;
  const topic = uniqueTopic('notify-e2e');
  const group = `tickwise-test-${randomBytes(4).toString('hex')}`;
  const connectorName = `tickwise-test-${randomBytes(4).toString('hex')}`;
  const fixture = useDatabaseAndTarget((_call, response) => {
    response.statusCode = failing ? 500 : 200;
    response.end(failing ? 'down' : 'ok');
  });
  let connector: OutboxConnector | undefined;
  let receiver: HttpTarget;
  let planner: RunningPlanner | undefined;
  let stopNode: (() => Promise<void>) | undefined;
  let id: string;
  const hooks = (kind?: string) => receipts(receiver.calls, '/hook', kind);

  const startPlanner = (name: string) =>
    startNotifyingPlanner(fixture.db, {
      id: name,
      source: new KafkaRunEventSource({ brokers: settings.brokers, topic, groupId: group, retryDelayMs: 200, lagRefreshMs: 500, log: memoryLogger() }),
    });

  beforeAll(async () => {
    const { db, target } = fixture;
    receiver = await startHttpTarget();
    await createTopic(settings.brokers, topic, 1);
    connector = await registerOutboxConnector({ databaseUrl: db.url, name: connectorName, topic, partitions: 1, connectUrl: settings.connectUrl });
    await applyJobs(db.pool, [
      {
        name: 'streamed',
        synthetic: false,
        endpoints: [endpointInputSchema.parse({ name: 'poll', url: `${target.url}/poll`, schedule: { every: '300ms' }, maxInterval: '400ms' })],
        notify: [{ channel: 'webhook', url: `${receiver.url}/hook`, after: 3 }],
      },
    ], { targetPolicy: TEST_TARGET_POLICY });
    id = await endpointId(db, 'streamed', 'poll');
    stopNode = (({ node }) => () => node.stop())(startNode(db));
    planner = await startPlanner('kafka-notify-a');
  }, 120_000);

  afterAll(async () => {
    await planner?.stop();
    await stopNode?.();
    await receiver?.close();
    await connector?.remove();
    await deleteTopics(settings.brokers, [topic, `__debezium-heartbeat.${connectorName}`]);
  }, 120_000);

  it('tells of the failure streak from the topic, within 5 s of its run, and once across a takeover by a new planner', async () => {
    await waitFor('events through Kafka', () => planner!.planner.stats.eventsFolded >= 2, 60_000);
    failing = true;
    const [failure] = await waitFor('the failing notice', () => (hooks('failing').length > 0 ? hooks('failing') : null), 60_000);
    expect(failure!.body).toMatchObject({ kind: 'failing', endpoint: { id }, streak: { failures: 3 } });
    expect(failure!.call.receivedAt - Date.parse(failure!.body.streak.last_failure_at)).toBeLessThan(5_000);
    await planner!.stop();
    planner = await startPlanner('kafka-notify-b');
    const folded = planner.planner.stats.eventsFolded;
    await waitFor('more events folded by the new planner', () => planner!.planner.stats.eventsFolded >= folded + 3, 60_000);
    expect(hooks('failing')).toHaveLength(1);
  }, 180_000);

  it('tells of the recovery once, and of a person’s pause from the database', async () => {
    failing = false;
    await waitFor('the recovery notice', () => hooks('recovered').length > 0, 60_000);
    await setPause(fixture.db.pool, id, { reason: 'kafka path pause', until: null });
    const pause = await waitFor('the pause notice', () => hooks('paused')[0], 15_000);
    expect(pause.body.pause).toMatchObject({ by: 'person', reason: 'kafka path pause' });
    await sleep(1_000);
    expect([hooks('failing').length, hooks('recovered').length, hooks('paused').length]).toEqual([1, 1, 1]);
  }, 120_000);
});
