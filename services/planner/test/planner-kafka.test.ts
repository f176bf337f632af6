import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { machineHistory } from '@tickwise/db';
import { HeuristicAnalyzer } from '../src/analysis/index.ts';
import type { Analyzer, Decision, EndpointPicture } from '../src/analysis/types.ts';
import { resolvePlannerConfig, type PlannerConfig } from '../src/config.ts';
import { Planner } from '../src/planner.ts';
import { KafkaRunEventSource } from '../src/sources/kafka-source.ts';
import { createTopic, deleteTopics, kafkaOrWarn, readTopic, registerOutboxConnector, uniqueTopic, type OutboxConnector } from '../../../test/support/kafka.ts';
import { toolMissing } from '../../../test/support/tools.ts';
import { applyJob, endpointId, startNode, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { memoryLogger } from '../../../test/support/logger.ts';
import { waitFor } from '../../../test/support/wait.ts';

const SUITE = 'services/planner/test/planner-kafka.test.ts (the planner end to end through Debezium and Kafka)';
const kafka = kafkaOrWarn(SUITE);
const runDir = process.env.TICKWISE_KAFKA_RUN_DIR?.trim() || undefined;
if (kafka && !runDir) {
  toolMissing(
    `${SUITE}, Kafka stopped mid-test`,
    'TICKWISE_KAFKA_RUN_DIR is not set: set it to the run dir given to `scripts/kafka.sh start <run-dir>` (default .tickwise/kafka/run) so the test can stop and start that broker (npm test does)',
  );
}

const KAFKA_SCRIPT = fileURLToPath(new URL('../../../scripts/kafka.sh', import.meta.url));
const PORT_SETTINGS: Record<string, string> = { broker_port: 'TICKWISE_KAFKA_PORT', controller_port: 'TICKWISE_KAFKA_CONTROLLER_PORT', connect_port: 'TICKWISE_KAFKA_CONNECT_PORT' };

/** The ports the run dir's Kafka was started with (`<run-dir>/ports`), as scripts/kafka.sh settings: a restart must reuse them. */
function portsOf(dir: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(join(dir, 'ports'), 'utf8');
  } catch {
    return {};
  }
  const settings: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const [key, value] = line.split('=');
    const name = key ? PORT_SETTINGS[key.trim()] : undefined;
    if (name && value) settings[name] = value.trim();
  }
  return settings;
}

/** Runs `scripts/kafka.sh <action> <dir>` (stop and start wait for the JVMs); never rejects. */
function kafkaScript(action: 'start' | 'stop' | 'status', dir: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile('bash', [KAFKA_SCRIPT, action, dir], { env: { ...process.env, ...portsOf(dir) }, timeout: 240_000 }, (error, stdout, stderr) =>
      resolve({ ok: !error, output: `scripts/kafka.sh ${action} ${dir}: ${error ? `${error.message}; ` : ''}${stdout}${stderr}` }),
    );
  });
}

/** Starts the run dir's Kafka again unless both the broker and Connect answer (later suites need it). */
async function ensureKafkaRunning(dir: string): Promise<void> {
  if ((await kafkaScript('status', dir)).ok) return;
  // A half-stopped pair (one JVM left) would make start refuse: stop what is left first.
  await kafkaScript('stop', dir);
  const started = await kafkaScript('start', dir);
  if (!started.ok) throw new Error(`could not start Kafka again: ${started.output}`);
}

/** The heuristic, held at a gate while the test needs a batch in the planner's hands. */
class GatedAnalyzer implements Analyzer {
  readonly name = 'heuristic';
  /** Analyses waiting at the closed gate. */
  waiting = 0;
  private readonly heuristic = new HeuristicAnalyzer();
  private gate: { passed: Promise<void>; open: () => void } | null = null;

  close(): void {
    let open!: () => void;
    const passed = new Promise<void>((resolve) => (open = resolve));
    this.gate ??= { passed, open };
  }

  open(): void {
    this.gate?.open();
    this.gate = null;
  }

  async analyze(picture: EndpointPicture): Promise<Decision> {
    const gate = this.gate;
    if (gate) {
      this.waiting++;
      await gate.passed;
      this.waiting--;
    }
    return this.heuristic.analyze(picture);
  }
}

let failing = false;

describe.skipIf(!kafka)('the planner on the Kafka path: run events through Debezium and Kafka', () => {
  const settings = kafka!;
  // One partition: delivery order is total, so a redelivery can be checked against the batch before it.
  const topic = uniqueTopic('planner-e2e');
  const connectorName = `tickwise-test-${randomBytes(4).toString('hex')}`;
  const fixture = useDatabaseAndTarget((call, response) => {
    const broken = failing && call.path.startsWith('/flaky');
    response.statusCode = broken ? 500 : 200;
    response.end(broken ? 'broken' : 'ok');
  });
  let connector: OutboxConnector | undefined;

  function kafkaPlanner(groupId: string, config: PlannerConfig, analyzer: Analyzer = new HeuristicAnalyzer()): Planner {
    const log = memoryLogger();
    const source = new KafkaRunEventSource({ brokers: settings.brokers, topic, groupId, retryDelayMs: 200, lagRefreshMs: 500, log });
    return new Planner({ pool: fixture.db.pool, source, analyzer, config, log });
  }

  beforeAll(async () => {
    await createTopic(settings.brokers, topic, 1);
    connector = await registerOutboxConnector({ databaseUrl: fixture.db.url, name: connectorName, topic, partitions: 1, connectUrl: settings.connectUrl });
  });

  // Starting Kafka again after a failed outage test can take minutes on a loaded machine.
  afterAll(async () => {
    if (runDir) await ensureKafkaRunning(runDir);
    await connector?.remove();
    await deleteTopics(settings.brokers, [topic, `__debezium-heartbeat.${connectorName}`]);
  }, 300_000);

  describe('a failing target gets a hint that the scheduler honours at once', () => {
    let planner: Planner | undefined;
    let stopNode: (() => Promise<void>) | undefined;
    let id: string;

    beforeAll(async () => {
      const { db, target } = fixture;
      await applyJob(db, 'planned', [{ name: 'flaky', url: `${target.url}/flaky`, schedule: { every: '300ms' }, maxInterval: '1m' }]);
      id = await endpointId(db, 'planned', 'flaky');
      const { node } = startNode(db);
      stopNode = () => node.stop();
      planner = kafkaPlanner(`tickwise-test-${randomBytes(4).toString('hex')}`, resolvePlannerConfig({ minIntervalMs: 60_000, urgentFloorMs: 0, failureStreak: 3 }));
      await planner.start();
    });

    afterAll(async () => {
      await planner?.stop();
      await stopNode?.();
    });

    it('backs off a failing endpoint through a hint, records the analysis, and shows the reason in the history', async () => {
      const { db } = fixture;
      await waitFor('the first successful runs to reach the planner through Kafka', () => planner!.stats.eventsFolded >= 2, 60_000);
      failing = true;
      const hint = await waitFor(
        'a planner hint',
        async () => (await db.pool.query("SELECT * FROM hints WHERE endpoint_id = $1 AND source LIKE 'planner:%' AND cleared_at IS NULL", [id])).rows[0],
        60_000,
      );
      expect(hint.kind).toBe('interval');
      expect(Number(hint.interval_ms)).toBeGreaterThan(300);
      expect(hint.analysis_id).not.toBeNull();

      const analysis = (await db.pool.query('SELECT * FROM analyses WHERE id = $1', [hint.analysis_id])).rows[0];
      expect(analysis).toMatchObject({ endpoint_id: id, planner: 'heuristic', trigger: 'failure_streak', outcome: 'hint' });
      expect(analysis.inputs.consecutive_failures).toBeGreaterThanOrEqual(3);
      expect(analysis.hint_ids).toEqual([hint.id]);

      const row = await waitFor(
        'the endpoint planned with the hint',
        async () => {
          const { rows } = await db.pool.query('SELECT reason, next_run_at FROM endpoints WHERE id = $1', [id]);
          return rows[0].reason?.includes('hint (planner:heuristic)') ? rows[0] : null;
        },
        30_000,
      );
      expect(row.reason).toContain(hint.reason);
      const history = await machineHistory(db.pool, id);
      expect(history.some((step) => step.reason?.includes('hint (planner:heuristic)'))).toBe(true);
    });

    it('clears its hint once the endpoint recovers, and the schedule returns to the baseline', async () => {
      const { db } = fixture;
      failing = false;
      await waitFor(
        'the planner hint cleared',
        async () =>
          (await db.pool.query("SELECT count(*)::int AS n FROM hints WHERE endpoint_id = $1 AND source LIKE 'planner:%' AND cleared_at IS NULL AND expires_at > now()", [id])).rows[0].n === 0,
        60_000,
      );
      const cleared = (await db.pool.query("SELECT outcome FROM analyses WHERE endpoint_id = $1 AND outcome = 'clear'", [id])).rows;
      expect(cleared.length).toBeGreaterThanOrEqual(1);
      await waitFor('a baseline plan', async () => (await db.pool.query('SELECT reason FROM endpoints WHERE id = $1', [id])).rows[0].reason?.startsWith('baseline'), 30_000);
    });
  });

  describe.skipIf(!runDir)('Kafka stopped mid-test: the scheduler never notices, the planner loses no run', () => {
    const group = `tickwise-test-${randomBytes(4).toString('hex')}`;
    // Every batch is analysed (minimum interval 0): a closed gate holds the batch in hand.
    const config = resolvePlannerConfig({ minIntervalMs: 0 });
    const analyzer = new GatedAnalyzer();
    /** Every batch any planner of the group was given, in delivery order (one partition: one order). */
    const batches: { planner: number; ids: string[] }[] = [];
    const planners: Planner[] = [];
    let stopNode: (() => Promise<void>) | undefined;

    async function startPlanner(): Promise<Planner> {
      const index = planners.length + 1;
      const planner = kafkaPlanner(group, config, analyzer);
      planner.onEvents((events) => void batches.push({ planner: index, ids: events.map((event) => event.event_id) }));
      planners.push(planner);
      await planner.start();
      return planner;
    }

    const seen = () => new Set(batches.flatMap((batch) => batch.ids));

    afterAll(async () => {
      // Kafka first: a planner stopping while the broker is away would wait on it.
      analyzer.open();
      await ensureKafkaRunning(runDir!);
      for (const planner of planners) await planner.stop();
      await stopNode?.();
    }, 300_000);

    it(
      'keeps scheduling while Kafka is away, then delivers every committed run to the planner, across a planner restart too',
      async () => {
        const { db, target } = fixture;
        await applyJob(db, 'steady', [{ name: 'steady', url: `${target.url}/steady`, schedule: { every: '200ms' } }]);
        const id = await endpointId(db, 'steady', 'steady');
        const { node, log: nodeLog } = startNode(db);
        stopNode = () => node.stop();
        const steadyRuns = async () =>
          (await db.pool.query<{ id: string; slot: Date; status: string; planned_source: string | null }>('SELECT id, slot, status, planned_source FROM runs WHERE endpoint_id = $1 ORDER BY slot', [id])).rows;

        // 1. A planner consumes, stops, and a new one in the same group resumes from the committed offset.
        const first = await startPlanner();
        await waitFor('the first planner to receive 5 steady runs', async () => (await steadyRuns()).filter((run) => seen().has(run.id)).length >= 5, 60_000);
        await first.stop();
        const fromFirst = batches.filter((batch) => batch.planner === 1);
        const whileNone = (await steadyRuns()).length;
        await waitFor('runs committed while no planner runs', async () => (await steadyRuns()).length >= whileNone + 5, 30_000);
        const missedByFirst = (await steadyRuns()).map((run) => run.id).filter((runId) => !seen().has(runId));
        await startPlanner();
        await waitFor('the second planner to receive the runs committed while none ran', () => missedByFirst.every((runId) => seen().has(runId)), 60_000);
        const firstIds = new Set(fromFirst.flatMap((batch) => batch.ids));
        const lastOfFirst = new Set(fromFirst.at(-1)?.ids ?? []);
        const redelivered = batches.filter((batch) => batch.planner === 2).flatMap((batch) => batch.ids.filter((runId) => firstIds.has(runId)));
        expect(redelivered.filter((runId) => !lastOfFirst.has(runId)), 'acknowledged events delivered again after the planner restart').toEqual([]);

        // 2. Kafka stops (Connect, then the broker) while the scheduler runs and the planner holds a
        // batch: its offsets cannot be committed, so it is not acknowledged.
        analyzer.close();
        const delivered = batches.length;
        await waitFor('a batch in the planner\'s hands', () => batches.length > delivered && analyzer.waiting > 0, 30_000);
        const outageStarted = new Date();
        const stopped = await kafkaScript('stop', runDir!);
        analyzer.open();
        expect(stopped.ok, stopped.output).toBe(true);
        const atStop = (await steadyRuns()).length;
        await waitFor('15 runs recorded while Kafka is down', async () => (await steadyRuns()).length >= atStop + 15, 30_000);
        const restarted = await kafkaScript('start', runDir!);
        expect(restarted.ok, restarted.output).toBe(true);
        const outageEnded = new Date();

        // 3. Once Kafka is back, every run committed during the test reaches the planner.
        await waitFor('a run committed after Kafka came back to reach the planner', async () => (await steadyRuns()).some((run) => run.slot > outageEnded && seen().has(run.id)), 180_000);
        await node.stop();
        const committed = (await db.pool.query<{ id: string }>('SELECT id FROM runs')).rows.map((row) => row.id);
        await waitFor(
          () => `every committed run to reach the planner (missing ${committed.filter((runId) => !seen().has(runId)).length} of ${committed.length})`,
          () => committed.every((runId) => seen().has(runId)),
          120_000,
        );

        // The scheduler never noticed: every 200 ms slot ran, through the outage, and it logged no error.
        const runs = await steadyRuns();
        const during = runs.filter((run) => run.slot >= outageStarted && run.slot <= outageEnded);
        expect(during.length).toBeGreaterThanOrEqual(15);
        expect(runs[0]!.slot < outageStarted && runs.at(-1)!.slot > outageEnded).toBe(true);
        const gaps = runs.slice(1).map((run, index) => run.slot.getTime() - runs[index]!.slot.getTime());
        expect(new Set(gaps)).toEqual(new Set([200]));
        expect(runs.filter((run) => run.status !== 'succeeded' || run.planned_source === 'catch_up')).toEqual([]);
        expect(nodeLog.lines.filter((line) => line.startsWith('error'))).toEqual([]);

        // An event comes again only when the batch it came in was not acknowledged: then delivery
        // starts over at that batch (one partition, one batch in hand at a time), so every repeat
        // of a redelivery is in the batch just before it. Debezium itself publishes at least once:
        // a run it published twice may come twice.
        const copies = new Map<string, number>();
        const published = await readTopic(settings.brokers, topic, (messages) => new Set(messages.map((message) => message.headers.id)).size >= committed.length);
        for (const message of published) copies.set(message.headers.id!, (copies.get(message.headers.id!) ?? 0) + 1);
        const deliveries = new Map<string, number>();
        let unacknowledged = new Set<string>();
        for (const [index, batch] of batches.entries()) {
          const repeated = batch.ids.filter((runId) => (deliveries.get(runId) ?? 0) >= (copies.get(runId) ?? 1));
          const redelivering = index > 0 && batches[index - 1]!.ids.some((runId) => (deliveries.get(runId) ?? 0) > (copies.get(runId) ?? 1));
          if (!redelivering) unacknowledged = new Set(batches[index - 1]?.ids ?? []);
          expect(repeated.filter((runId) => !unacknowledged.has(runId)), `batch ${index} (planner ${batch.planner}) repeats acknowledged events`).toEqual([]);
          for (const runId of batch.ids) deliveries.set(runId, (deliveries.get(runId) ?? 0) + 1);
        }
      },
      420_000,
    );
  });
});
