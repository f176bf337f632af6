import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../test/support/ports.ts';
import { Cleanup, lastLine, onPath, run, seconds, tail } from './processes.ts';

// The servers `npm test` starts for the run and stops after it: a PostgreSQL with logical WAL (the
// integration tests' database, which Debezium also reads) and Kafka + Kafka Connect + Debezium.

export const REPO = join(import.meta.dirname, '..', '..');
const KAFKA_SCRIPT = join(REPO, 'scripts', 'kafka.sh');

/** What a step gives the test run: variables for vitest and one line for the log. */
export interface Provided {
  env: Record<string, string>;
  line: string;
}

/**
 * DATABASE_URL as given, else the embedded PostgreSQL 15 (the one `npm start` runs; no system
 * package needed, root or not) with wal_level=logical, its default, so Debezium can read it.
 * fsync=off: a throwaway cluster, and the suites run faster without it.
 */
export async function startPostgres(cleanup: Cleanup): Promise<Provided> {
  if (process.env.DATABASE_URL) {
    return { env: {}, line: 'PostgreSQL: DATABASE_URL as given (the Kafka suites need wal_level=logical there)' };
  }
  const began = Date.now();
  // Imported here: the database package is only needed when there is a server to start.
  const { startEmbeddedPostgres } = await import('@tickwise/db');
  const dataDir = mkdtempSync(join(tmpdir(), 'tickwise-test-pg-'));
  let stop = async () => {};
  cleanup.add('PostgreSQL', async () => {
    await stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const server = await startEmbeddedPostgres({ dataDir, port: await freePort(), settings: { fsync: 'off', max_connections: '300' } });
  stop = () => server.stop();
  return { env: { DATABASE_URL: server.urlFor('postgres') }, line: `PostgreSQL: embedded PostgreSQL 15 on port ${server.port}, wal_level=logical (${seconds(began)})` };
}

/**
 * KAFKA_BROKERS as given (with TICKWISE_KAFKA_RUN_DIR if set), else a broker and Kafka Connect with
 * Debezium started by scripts/kafka.sh in a fresh run dir, on free ports (two runs on one machine do
 * not collide). When that cannot be done, TICKWISE_KAFKA_MISSING tells the Kafka suites why, in the
 * one line they print as they skip (or fail under CI=true).
 */
export async function startKafka(cleanup: Cleanup, options: { quick: boolean }): Promise<Provided> {
  if (process.env.KAFKA_BROKERS) return { env: {}, line: `Kafka: KAFKA_BROKERS as given (${process.env.KAFKA_BROKERS})` };
  const missing = (reason: string): Provided => ({ env: { TICKWISE_KAFKA_MISSING: reason }, line: `Kafka: not started: ${reason}` });
  if (options.quick) return missing('TICKWISE_TEST_QUICK is set, so no broker was started (npm test without it starts one)');
  if (!onPath('java')) return missing('java not found: install Java 17+ and Maven (apt-get install openjdk-17-jre-headless maven) for the Kafka suites');

  const began = Date.now();
  // The jars come from Maven Central once (cached in ~/.m2 and .tickwise/kafka/dist); it says what is missing (mvn).
  const fetched = await run('bash', [KAFKA_SCRIPT, 'fetch'], { output: 'stderr' });
  if (fetched.code !== 0) return missing(`scripts/kafka.sh fetch failed: ${lastLine(fetched.stderr) || `exit ${fetched.code}`}`);

  const runDir = mkdtempSync(join(tmpdir(), 'tickwise-test-kafka-'));
  const ports = { TICKWISE_KAFKA_PORT: await freePort(), TICKWISE_KAFKA_CONTROLLER_PORT: await freePort(), TICKWISE_KAFKA_CONNECT_PORT: await freePort() };
  const env = { ...process.env, ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])) };
  // Registered before the start: an interrupted start may have left a JVM, and stop finds it by its
  // pid file. A failed start keeps its run dir: its logs say why.
  let keepLogs = false;
  cleanup.add('Kafka and Kafka Connect', async () => {
    const stopped = await run('bash', [KAFKA_SCRIPT, 'stop', runDir], { env, detached: true });
    if (stopped.code !== 0) throw new Error(`scripts/kafka.sh stop ${runDir}: ${lastLine(stopped.stderr)}`);
    if (!keepLogs) rmSync(runDir, { recursive: true, force: true });
  });
  const started = await run('bash', [KAFKA_SCRIPT, 'start', runDir], { env, output: 'capture' });
  if (started.code !== 0) {
    keepLogs = true;
    const log = ['connect.log', 'broker.log', 'format.out'].map((name) => join(runDir, name)).find((file) => readable(file));
    console.error(`[tests] scripts/kafka.sh start failed (its logs stay in ${runDir}):\n${tail(started.stderr, 5)}${log ? `\n  end of ${log}:\n${tail(readFileSync(log, 'utf8'), 8)}` : ''}`);
    return missing(`scripts/kafka.sh start failed: ${lastLine(started.stderr).replace(/^kafka: /, '') || `exit ${started.code}`}`);
  }
  const value = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(started.stdout)?.[1]?.trim() ?? '';
  return {
    // TICKWISE_KAFKA_RUN_DIR: the outage test (services/planner/test/planner-kafka.test.ts) stops and starts this broker.
    env: { KAFKA_BROKERS: value('KAFKA_BROKERS'), KAFKA_CONNECT_URL: value('KAFKA_CONNECT_URL'), TICKWISE_KAFKA_RUN_DIR: runDir },
    line: `Kafka: broker ${value('KAFKA_BROKERS')}, Kafka Connect ${value('KAFKA_CONNECT_URL')} with Debezium (${seconds(began)} to fetch and start)`,
  };
}

function readable(file: string): boolean {
  try {
    readFileSync(file);
    return true;
  } catch {
    return false;
  }
}
