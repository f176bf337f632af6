import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { register, type Metric } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schedulerMetrics } from '@tickwise/scheduler';
import { HeuristicAnalyzer, LlmAnalyzer } from '../src/analysis/index.ts';
import { resolvePlannerConfig } from '../src/config.ts';
import { plannerMetrics } from '../src/metrics.ts';
import { Planner } from '../src/planner.ts';
import { DatabaseRunEventSource } from '../src/sources/database-source.ts';
import { KafkaRunEventSource } from '../src/sources/kafka-source.ts';
import { kafkaOrWarn } from '../../../test/support/kafka.ts';
import { freePort } from '../../../test/support/ports.ts';
import { applyJob, startNode, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { memoryLogger } from '../../../test/support/logger.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { startFakeOpenAi, type FakeOpenAi } from './support/fake-openai.ts';

/** The sum of a metric's samples whose labels include `labels` (`suffix` picks `_count`, `_sum`... of a histogram). */
async function sample(metric: Metric, labels: Record<string, string>, suffix = ''): Promise<number> {
  const { name, values } = await metric.get();
  return values
    .filter((value) => ((value as { metricName?: string }).metricName ?? name) === `${name}${suffix}`)
    .filter((value) => Object.entries(labels).every(([key, wanted]) => String((value.labels as Record<string, unknown>)[key]) === wanted))
    .reduce((sum, value) => sum + value.value, 0);
}

const fixture = useDatabaseAndTarget((_call, response) => {
  response.statusCode = 500;
  response.end('broken');
});

describe('planner metrics on the database path, with a failing target', () => {
  const plannerId = 'metrics-planner';
  const worker = 'metrics-node';
  let planner: Planner;
  let stopNode: () => Promise<void>;

  beforeAll(async () => {
    const { db, target } = fixture;
    await applyJob(db, 'metered', [{ name: 'failing', url: `${target.url}/failing`, schedule: { every: '300ms' }, maxInterval: '1m' }]);
    const { node } = startNode(db, { workerId: worker });
    stopNode = () => node.stop();
    const log = memoryLogger();
    const config = resolvePlannerConfig({ plannerId, minIntervalMs: 60_000, urgentFloorMs: 0, failureStreak: 3 });
    const source = new DatabaseRunEventSource({ pool: db.pool, connectionString: db.url, owner: plannerId, log, pollIntervalMs: 200 });
    planner = new Planner({ pool: db.pool, source, analyzer: new HeuristicAnalyzer(), config, log });
    expect(planner.running).toBe(false);
    await planner.start();
  });

  afterAll(async () => {
    await planner?.stop();
    await stopNode?.();
  });

  it('counts events, analyses by analyzer and outcome, and hint changes; the scheduler counts its re-plan for the hint', async () => {
    expect(planner.running).toBe(true);
    await waitFor('a hint written', async () => (await sample(plannerMetrics.hintChanges, { planner: plannerId, change: 'hint' })) >= 1, 20_000);
    expect(await sample(plannerMetrics.analyses, { planner: plannerId, analyzer: 'heuristic', outcome: 'hint' })).toBeGreaterThanOrEqual(1);
    // Events already in the runs the planner loaded when it met the endpoint are ignored (the fold is idempotent).
    expect(await sample(plannerMetrics.events, { planner: plannerId, result: 'folded' })).toBeGreaterThanOrEqual(1);
    expect(await sample(plannerMetrics.events, { planner: plannerId })).toBe(planner.stats.eventsFolded + planner.stats.eventsIgnored);
    const analyses = await sample(plannerMetrics.analyses, { planner: plannerId });
    expect(analyses).toBe(planner.stats.analyses);
    expect(await sample(plannerMetrics.analysisDuration, { planner: plannerId, analyzer: 'heuristic' }, '_count')).toBe(analyses);
    expect(await sample(plannerMetrics.hintChanges, { planner: plannerId })).toBe(planner.stats.hintChanges);
    expect(await sample(plannerMetrics.fallbacks, { planner: plannerId })).toBe(0);
    // The hint reaches the node, which re-plans the machine for it.
    await waitFor('the node re-planned for the hint', async () => (await sample(schedulerMetrics.hintReplans, { worker })) >= 1, 20_000);

    const text = await register.metrics();
    expect(text).toMatch(new RegExp(`tickwise_planner_consumer_lag\\{planner="${plannerId}",source="database"\\} \\d+\\n`));
    expect(text).toContain(`tickwise_planner_endpoints{planner="${plannerId}"} 1\n`);
  });

  it('stops reporting its gauges, and is no longer running, once stopped', async () => {
    await planner.stop();
    expect(planner.running).toBe(false);
    const text = await register.metrics();
    expect(text).not.toContain(`tickwise_planner_consumer_lag{planner="${plannerId}"`);
    expect(text).not.toContain(`tickwise_planner_endpoints{planner="${plannerId}"}`);
  });
});

describe('planner metrics of an LLM analyzer whose model is down', () => {
  const plannerId = 'metrics-llm';
  let fake: FakeOpenAi;
  let planner: Planner;
  let stopNode: () => Promise<void>;

  beforeAll(async () => {
    const { db, target } = fixture;
    await applyJob(db, 'metered-llm', [{ name: 'failing', url: `${target.url}/failing-too`, schedule: { every: '300ms' }, maxInterval: '1m' }]);
    const { node } = startNode(db, { workerId: 'metrics-llm-node' });
    stopNode = () => node.stop();
    // Nothing scripted: the fake answers every request with HTTP 500.
    fake = await startFakeOpenAi();
    const log = memoryLogger();
    const config = resolvePlannerConfig({ plannerId, minIntervalMs: 60_000, urgentFloorMs: 0, failureStreak: 3 });
    // Its own cursor: the first block's planner may still be handing its lease back.
    const source = new DatabaseRunEventSource({ pool: db.pool, connectionString: db.url, owner: plannerId, cursorName: 'metrics-llm', log, pollIntervalMs: 200 });
    planner = new Planner({ pool: db.pool, source, analyzer: new LlmAnalyzer({ apiKey: 'test-key', baseURL: fake.baseURL }), config, log });
    await planner.start();
  });

  afterAll(async () => {
    await planner?.stop();
    await stopNode?.();
    await fake?.close();
  });

  it('counts the fallbacks to the heuristic and the analyses under the llm analyzer', async () => {
    await waitFor('a fallback counted', async () => (await sample(plannerMetrics.fallbacks, { planner: plannerId })) >= 1, 20_000);
    await waitFor('the analysis counted', async () => (await sample(plannerMetrics.analyses, { planner: plannerId, analyzer: 'llm' })) >= 1, 20_000);
    expect(fake.requests.length).toBeGreaterThanOrEqual(1);
    expect(await sample(plannerMetrics.analyses, { planner: plannerId, analyzer: 'heuristic' })).toBe(0);
  });
});

describe('planner readiness and lag on the Kafka path', () => {
  it('is not running when its Kafka source could not start', async () => {
    const { db } = fixture;
    const log = memoryLogger();
    const source = new KafkaRunEventSource({ brokers: [`127.0.0.1:${await freePort()}`], connectRetries: 0, log });
    const planner = new Planner({ pool: db.pool, source, analyzer: new HeuristicAnalyzer(), config: resolvePlannerConfig({ plannerId: 'metrics-no-broker' }), log });
    await expect(planner.start()).rejects.toThrow(/could not consume/);
    expect(source.isRunning()).toBe(false);
    expect(planner.running).toBe(false);
    expect(await register.metrics()).not.toContain('planner="metrics-no-broker"');
  });

  const kafka = kafkaOrWarn('services/planner/test/metrics.test.ts (consumer lag of the Kafka source)');
  it.skipIf(!kafka)('reports the consumer lag of its group as a gauge while running, and none once stopped', async () => {
    const { db } = fixture;
    const topic = `metrics-${randomBytes(4).toString('hex')}`;
    const admin = new Kafka({ brokers: kafka!.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      const log = memoryLogger();
      const source = new KafkaRunEventSource({ brokers: kafka!.brokers, topic, groupId: `${topic}-group`, lagRefreshMs: 200, log });
      const planner = new Planner({ pool: db.pool, source, analyzer: new HeuristicAnalyzer(), config: resolvePlannerConfig({ plannerId: 'metrics-kafka' }), log });
      await planner.start();
      try {
        expect(planner.running).toBe(true);
        // An empty topic: nothing waits.
        await waitFor('the lag gauge', async () => (await register.metrics()).includes('tickwise_planner_consumer_lag{planner="metrics-kafka",source="kafka"} 0\n'), 20_000);
      } finally {
        await planner.stop();
      }
      expect(planner.running).toBe(false);
      expect(await register.metrics()).not.toContain('planner="metrics-kafka"');
    } finally {
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});
