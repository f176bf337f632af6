import { randomBytes, randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { register } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TickwiseError } from '@tickwise/platform';
import { resolveAnalyticsConfig, startAnalyticsService, type AnalyticsService } from '../src/index.ts';
import { createTopic, deleteTopics, kafkaOrWarn, produceRaw, uniqueTopic } from '../../../test/support/kafka.ts';
import { freePort } from '../../../test/support/ports.ts';
import { memoryLogger } from '../../../test/support/logger.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { outboxMessage, parseMetrics, runEvent, sampleValue } from '../../../test/support/analytics.ts';

const kafka = kafkaOrWarn('services/analytics/test/analytics-kafka.test.ts (the analytics consumer on a real broker)');

describe('the analytics service without a broker', () => {
  it('fails to start as unavailable (start_failed), naming the topic and the brokers', async () => {
    const port = await freePort();
    const config = resolveAnalyticsConfig({ brokers: [`127.0.0.1:${port}`], connectRetries: 0 });
    const error = await startAnalyticsService({ config, log: memoryLogger() }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TickwiseError);
    expect(error).toMatchObject({ code: 'unavailable', reason: 'start_failed' });
    expect((error as Error).message).toMatch(new RegExp(`^analytics consumer: could not consume tickwise\\.run-events from 127\\.0\\.0\\.1:${port}: `));
  });
});

describe.skipIf(!kafka)('the analytics consumer on a real broker', () => {
  const brokers = kafka?.brokers ?? [];
  const topic = uniqueTopic('analytics');
  const job = randomUUID();
  const busy = randomUUID();
  const quiet = randomUUID();
  const services: AnalyticsService[] = [];

  const start = async (overrides: { groupId: string; maxSeries?: number }) => {
    const log = memoryLogger();
    const config = resolveAnalyticsConfig({ brokers, topic, groupId: overrides.groupId, maxSeries: overrides.maxSeries ?? 100 });
    const service = await startAnalyticsService({ config, log });
    services.push(service);
    return { service, log };
  };

  beforeAll(async () => {
    await createTopic(brokers, topic, 2);
    // 20 runs of one endpoint (every 4th fails, durations 10..200 ms, lateness 1..20 ms), 4 of another,
    // one repeat, poison (not JSON, a schema version from the future), a tombstone, a run older than the window.
    const busyEvents = Array.from({ length: 20 }, (_, index) => {
      const failed = (index + 1) % 4 === 0;
      return runEvent(busy, job, 60_000 - index * 1_000, {
        duration_ms: (index + 1) * 10,
        lateness_ms: index + 1,
        status: failed ? 'failed' : 'succeeded',
        http_status: failed ? 503 : 200,
        error_kind: failed ? 'http_status' : null,
      });
    });
    const quietEvents = Array.from({ length: 4 }, (_, index) => runEvent(quiet, job, 30_000 - index * 1_000, { duration_ms: 5 }));
    await produceRaw(brokers, topic, [
      ...busyEvents.map(outboxMessage),
      ...quietEvents.map(outboxMessage),
      outboxMessage(busyEvents[3]!),
      { key: busy, value: 'this is not a run event' },
      { key: quiet, value: JSON.stringify({ ...runEvent(quiet, job, 1_000), schema_version: 2 }) },
      { key: quiet, value: null },
      outboxMessage(runEvent(quiet, job, 20 * 60_000)),
    ]);
  });

  /** High watermark − committed offset, over the partitions (a partition without a commit counts whole). */
  const committedLag = async (groupId: string) => {
    const admin = new Kafka({ clientId: 'tickwise-tests', brokers, logLevel: logLevel.ERROR }).admin();
    await admin.connect();
    try {
      const [ends, groups] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
      const committed = new Map((groups[0]?.partitions ?? []).map((entry) => [entry.partition, Number(entry.offset)]));
      return ends.reduce((sum, end) => sum + Number(end.high) - Math.max(0, committed.get(end.partition) ?? 0), 0);
    } finally {
      await admin.disconnect();
    }
  };

  afterEach(async () => {
    await Promise.all(services.splice(0).map((service) => service.stop()));
  });

  afterAll(async () => {
    await deleteTopics(brokers, [topic]);
  });

  it('keeps per-endpoint figures, skips and counts poison messages, and exports them as metrics', async () => {
    const { service, log } = await start({ groupId: `tickwise-analytics-test-${randomBytes(4).toString('hex')}` });
    await waitFor(() => `all messages read (counts: ${JSON.stringify(service.consumer.counts)})`, () => {
      const { counted, duplicate, empty, outsideWindow, skipped } = service.consumer.counts;
      return counted === 24 && duplicate === 1 && empty === 1 && outsideWindow === 1 && skipped.not_json === 1 && skipped.unsupported_version === 1;
    }, 45_000);
    await service.ready();

    const table = service.table();
    expect(table).toMatchObject({ topic, windowMs: 900_000, windowRuns: 1_000, endpoints: 2, partitions: [0, 1] });
    expect(table.figures[0]).toMatchObject({
      endpointId: busy,
      jobId: job,
      runs: 20,
      failures: 5,
      failureRate: 0.25,
      durationMs: { p50: 100, p95: 190 },
      latenessMs: { p50: 10, p95: 19 },
    });
    expect(table.figures[1]).toMatchObject({ endpointId: quiet, runs: 4, failures: 0, failureRate: 0, durationMs: { p50: 5, p95: 5 } });
    expect(log.lines.filter((line) => line.startsWith('warn skipping a Kafka message that is not a run event'))).toHaveLength(2);
    expect(log.lines.some((line) => line.includes('"code":"unsupported_version"'))).toBe(true);

    const samples = parseMetrics(await register.metrics());
    const labels = { endpoint_id: busy, job_id: job };
    expect(sampleValue(samples, 'tickwise_analytics_endpoint_runs', labels)).toBe(20);
    expect(sampleValue(samples, 'tickwise_analytics_endpoint_failures', labels)).toBe(5);
    expect(sampleValue(samples, 'tickwise_analytics_endpoint_failure_ratio', labels)).toBe(0.25);
    expect(sampleValue(samples, 'tickwise_analytics_endpoint_duration_ms', { ...labels, quantile: '0.95' })).toBe(190);
    expect(sampleValue(samples, 'tickwise_analytics_endpoint_lateness_ms', { ...labels, quantile: '0.5' })).toBe(10);
    expect(sampleValue(samples, 'tickwise_analytics_messages_total', { outcome: 'skipped' })).toBe(2);
    expect(sampleValue(samples, 'tickwise_analytics_messages_total', { outcome: 'duplicate' })).toBe(1);
    expect(sampleValue(samples, 'tickwise_analytics_skipped_messages_total', { code: 'not_json' })).toBe(1);
    expect(sampleValue(samples, 'tickwise_analytics_window_runs', { status: 'failed' })).toBe(5);
    expect(sampleValue(samples, 'tickwise_analytics_window_runs', { status: 'succeeded' })).toBe(19);
    expect(sampleValue(samples, 'tickwise_analytics_partitions')).toBe(2);
  });

  it('rebuilds the window after a restart in the same group (it rewinds, the committed offsets do not skip it), and caps the series', async () => {
    const groupId = `tickwise-analytics-test-${randomBytes(4).toString('hex')}`;
    const first = await start({ groupId });
    await waitFor('the first member to read everything', () => first.service.consumer.counts.counted === 24, 45_000);
    await first.service.stop();
    services.splice(services.indexOf(first.service), 1);
    // The group's committed offsets are past every message: a plain resume would start empty.
    expect(await committedLag(groupId)).toBe(0);

    const second = await start({ groupId, maxSeries: 1 });
    await waitFor(() => `the second member to rebuild the window (counts: ${JSON.stringify(second.service.consumer.counts)})`, () => second.service.consumer.counts.counted === 24, 45_000);
    expect(second.log.lines.some((line) => line.startsWith('info analytics consumer rewound to the start of its window'))).toBe(true);
    expect(second.service.table().figures.map((row) => [row.endpointId, row.runs])).toEqual([[busy, 20], [quiet, 4]]);

    const samples = parseMetrics(await register.metrics());
    expect(samples.filter((sample) => sample.name === 'tickwise_analytics_endpoint_runs').map((sample) => sample.labels.endpoint_id)).toEqual([busy]);
    expect(sampleValue(samples, 'tickwise_analytics_endpoints', { set: 'tracked' })).toBe(2);
    expect(sampleValue(samples, 'tickwise_analytics_endpoints', { set: 'exported' })).toBe(1);
    // The totals still cover the endpoint past the cap.
    expect(sampleValue(samples, 'tickwise_analytics_window_runs', { status: 'succeeded' })).toBe(19);
  });
});
