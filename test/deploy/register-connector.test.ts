import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { databaseTemplateValues, deleteTopics, kafkaOrWarn, removeOutboxConnector, slotName } from '../support/kafka.ts';
import { freePort } from '../support/ports.ts';
import { REPO } from './support.ts';

// deploy/connectors/register.sh: the compose file's register-connector service and the chart's Job.
const SCRIPT = join(REPO, 'deploy/connectors/register.sh');
const POSTGRES_TEMPLATE = join(REPO, 'deploy/connectors/postgres-outbox.json');
const kafka = kafkaOrWarn('test/deploy/register-connector.test.ts (deploy/connectors/register.sh against Kafka Connect)');

function register(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', [SCRIPT], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('register.sh settings', () => {
  it.each<[NodeJS.ProcessEnv, string]>([
    [{ CONNECTOR_TEMPLATE: POSTGRES_TEMPLATE }, 'register-connector: CONNECT_URL is not set (e.g. http://connect:8083)'],
    [{ CONNECT_URL: 'http://127.0.0.1:1' }, 'register-connector: CONNECTOR_TEMPLATE is not set (a JSON file of deploy/connectors)'],
    [{ CONNECT_URL: 'http://127.0.0.1:1', CONNECTOR_TEMPLATE: '/nowhere.json' }, 'register-connector: cannot read CONNECTOR_TEMPLATE /nowhere.json'],
    [{ CONNECT_URL: 'http://127.0.0.1:1', CONNECTOR_TEMPLATE: POSTGRES_TEMPLATE, REGISTER_TIMEOUT: '5m' }, 'register-connector: REGISTER_TIMEOUT must be whole seconds, got "5m"'],
    [{ CONNECT_URL: 'http://127.0.0.1:1', CONNECTOR_TEMPLATE: POSTGRES_TEMPLATE, CONNECTOR_NAME: 'a b' }, 'register-connector: CONNECTOR_NAME must be letters, digits, \'.\', \'_\' or \'-\', got "a b"'],
    [{ CONNECT_URL: 'http://127.0.0.1:1', CONNECTOR_TEMPLATE: POSTGRES_TEMPLATE, DB_PORT: '5432' }, 'register-connector: the template uses ${DB_HOST} but DB_HOST is not set'],
    [{ CONNECT_URL: 'http://127.0.0.1:1', CONNECTOR_TEMPLATE: POSTGRES_TEMPLATE, DB_HOST: '' }, 'register-connector: DB_HOST is empty (the template uses ${DB_HOST})'],
  ])('exits 2 on %j, naming the setting', async (env, message) => {
    const result = await register(env);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(message);
  });

  it('names a placeholder it has no value for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tickwise-register-'));
    try {
      writeFileSync(join(dir, 'odd.json'), JSON.stringify({ 'connector.class': 'x', 'a': '${SOMETHING_ELSE}', 'b': '${routedByValue}' }));
      const result = await register({ CONNECT_URL: 'http://127.0.0.1:1', CONNECTOR_TEMPLATE: join(dir, 'odd.json') });
      expect(result.code).toBe(2);
      expect(result.stderr.trim()).toBe(`register-connector: no value for \${SOMETHING_ELSE} in ${join(dir, 'odd.json')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives up with exit 1 when Kafka Connect does not answer in time', async () => {
    const port = await freePort();
    const result = await register({ CONNECT_URL: `http://127.0.0.1:${port}`, CONNECTOR_TEMPLATE: POSTGRES_TEMPLATE, REGISTER_TIMEOUT: '1', DB_HOST: 'db', DB_PORT: '5432', DB_USER: 'u', DB_PASSWORD: 'p', DB_NAME: 'n', TOPIC: 't' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`register-connector: Kafka Connect at http://127.0.0.1:${port} did not answer with plugin io.debezium.connector.postgresql.PostgresConnector within 1s`);
  });
});

describe.skipIf(!kafka)('register.sh against Kafka Connect and a real database', () => {
  const connectUrl = kafka?.connectUrl ?? '';
  const name = `tickwise-register-${randomBytes(3).toString('hex')}`;
  const topic = `tickwise.test.register.${randomBytes(3).toString('hex')}`;
  // A password with the characters JSON and sed both care about, given to a role of this test's own:
  // the connector can log in only if register.sh passed it on intact (whatever the server's auth).
  const password = 'p"a\\s&s|w/rd';
  const role = `tickwise_register_${randomBytes(3).toString('hex')}`;
  let db: TestDatabase;
  let values: ReturnType<typeof databaseTemplateValues>;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Superuser: Debezium needs REPLICATION and owns the publication it creates on the outbox table.
    await db.pool.query(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${password.replace(/'/g, "''")}'`);
    values = databaseTemplateValues(db.url);
  });
  afterAll(async () => {
    await removeOutboxConnector({ connectUrl, databaseUrl: db.url, name }).catch(() => undefined);
    await deleteTopics(kafka!.brokers, [topic, `__debezium-heartbeat.${name}`]).catch(() => undefined);
    if (db) {
      await db.pool.query(`DROP OWNED BY ${role}`).catch(() => undefined);
      await db.pool.query(`DROP ROLE IF EXISTS ${role}`);
    }
    await db?.drop();
  });

  it('fills the template, PUTs it, and waits until the connector and its task run', async () => {
    const result = await register({ CONNECT_URL: connectUrl, CONNECTOR_TEMPLATE: POSTGRES_TEMPLATE, CONNECTOR_NAME: name, ...values, DB_USER: role, DB_PASSWORD: password, TOPIC: topic, TOPIC_PARTITIONS: '2', REGISTER_TIMEOUT: '90' });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`register-connector: ${name} configured from ${POSTGRES_TEMPLATE} (HTTP 201)`);
    expect(result.stdout).toContain(`register-connector: ${name} is running`);
    const config = (await (await fetch(`${connectUrl}/connectors/${name}/config`)).json()) as Record<string, string>;
    expect(config).toMatchObject({
      'database.hostname': values.DB_HOST,
      'database.dbname': values.DB_NAME,
      'database.user': role,
      'database.password': password,
      'transforms.outbox.route.topic.replacement': topic,
      'topic.creation.default.partitions': '2',
      'slot.name': slotName(name),
      'topic.prefix': name,
    });
    // Again: an update of the same connector (PUT is idempotent), so a re-run of the Job or service is harmless.
    const again = await register({ CONNECT_URL: connectUrl, CONNECTOR_TEMPLATE: POSTGRES_TEMPLATE, CONNECTOR_NAME: name, ...values, DB_USER: role, DB_PASSWORD: password, TOPIC: topic, REGISTER_TIMEOUT: '90' });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('(HTTP 200)');
  });

  it('exits 1 with Connect\'s reason when Connect refuses the configuration', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tickwise-register-'));
    try {
      const template = JSON.parse(readFileSync(POSTGRES_TEMPLATE, 'utf8')) as Record<string, string>;
      writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...template, 'tasks.max': 'many' }));
      const result = await register({ CONNECT_URL: connectUrl, CONNECTOR_TEMPLATE: join(dir, 'bad.json'), CONNECTOR_NAME: `${name}-bad`, ...values, TOPIC: topic, REGISTER_TIMEOUT: '60' });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^register-connector: Kafka Connect refused ${name}-bad \\(HTTP 4\\d\\d\\): .*tasks\\.max`, 's'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
