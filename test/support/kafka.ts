import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import pg from 'pg';
import { toolMissing } from './tools.ts';

// No vitest import here: scripts (scripts/kafka/register-outbox.ts) reuse the loader and the registration.

/** Where a running broker and Kafka Connect are (scripts/kafka.sh start prints both). */
export interface KafkaSettings {
  brokers: string[];
  connectUrl: string;
}

export const KAFKA_MISSING =
  'KAFKA_BROKERS is not set: start a broker and Kafka Connect with `scripts/kafka.sh fetch && scripts/kafka.sh start` (Java 17+ and Maven) and export the KAFKA_BROKERS and KAFKA_CONNECT_URL lines it prints (`npm test` does this itself)';

/** The broker list and the Connect REST URL from KAFKA_BROKERS / KAFKA_CONNECT_URL, or null when KAFKA_BROKERS is unset. */
export function kafkaSettings(env: NodeJS.ProcessEnv = process.env): KafkaSettings | null {
  const brokers = (env.KAFKA_BROKERS ?? '').split(',').map((broker) => broker.trim()).filter(Boolean);
  if (brokers.length === 0) return null;
  const connectUrl = env.KAFKA_CONNECT_URL?.trim();
  if (!connectUrl) throw new Error('KAFKA_BROKERS is set but KAFKA_CONNECT_URL is not: set both (scripts/kafka.sh start prints both)');
  return { brokers, connectUrl: connectUrl.replace(/\/+$/, '') };
}

/**
 * The settings, or null after one line saying why there is no broker (for describe.skipIf); under
 * CI=true a missing broker throws instead (test/support/tools.ts). The reason is the one `npm test`
 * gives in TICKWISE_KAFKA_MISSING when it could not start Kafka (what to install), else KAFKA_MISSING.
 */
export function kafkaOrWarn(suite: string): KafkaSettings | null {
  const settings = kafkaSettings();
  if (!settings) toolMissing(suite, process.env.TICKWISE_KAFKA_MISSING?.trim() || KAFKA_MISSING);
  return settings;
}

// --- connector templates -------------------------------------------------------------------

export const CONNECTORS_DIR = fileURLToPath(new URL('../../deploy/connectors/', import.meta.url));
export const POSTGRES_OUTBOX_TEMPLATE = `${CONNECTORS_DIR}postgres-outbox.json`;
export const YUGABYTEDB_OUTBOX_TEMPLATE = `${CONNECTORS_DIR}yugabytedb-outbox.json`;

const PLACEHOLDER = /\$\{([A-Z][A-Z0-9_]*)\}/g;

/**
 * Fills the `${NAME}` placeholders (upper case; Debezium's own `${routedByValue}` is left alone) of a
 * Connect REST config. Every value must be a string, and every placeholder must have a value.
 * Pure; executes nothing. Throws an Error naming the first problem.
 */
export function fillConnectorTemplate(template: unknown, values: Readonly<Record<string, string>>): Record<string, string> {
  if (typeof template !== 'object' || template === null || Array.isArray(template)) throw new Error('a connector template must be a JSON object of string values');
  const filled: Record<string, string> = {};
  const missing = new Set<string>();
  for (const [key, raw] of Object.entries(template)) {
    if (typeof raw !== 'string') throw new Error(`connector template: "${key}" must be a string (Connect configs are string maps), got ${JSON.stringify(raw)}`);
    filled[key] = raw.replace(PLACEHOLDER, (whole, name: string) => {
      const value = values[name];
      if (value === undefined) missing.add(name);
      return value ?? whole;
    });
  }
  if (missing.size > 0) throw new Error(`connector template: no value for ${[...missing].map((name) => `\${${name}}`).join(', ')}`);
  return filled;
}

/** Reads a template of deploy/connectors and fills it (see fillConnectorTemplate). */
export function loadConnectorTemplate(file: string, values: Readonly<Record<string, string>>): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`connector template ${file}: ${(error as Error).message}`);
  }
  return fillConnectorTemplate(parsed, values);
}

/**
 * DB_HOST, DB_PORT, DB_HOSTS (host:port, the form of the YugabyteDB connector's database.hostname),
 * DB_USER, DB_PASSWORD, DB_NAME of a postgres:// URL. Pure; executes nothing.
 */
export function databaseTemplateValues(databaseUrl: string): Record<'DB_HOST' | 'DB_PORT' | 'DB_HOSTS' | 'DB_USER' | 'DB_PASSWORD' | 'DB_NAME', string> {
  const url = new URL(databaseUrl);
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new Error(`not a postgres:// URL: ${url.protocol}`);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error('the database URL names no database');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port || '5432';
  return {
    DB_HOST: host,
    DB_PORT: port,
    DB_HOSTS: `${host}:${port}`,
    DB_USER: decodeURIComponent(url.username) || 'postgres',
    DB_PASSWORD: decodeURIComponent(url.password),
    DB_NAME: name,
  };
}

/** A replication slot or publication name from any label: lower-case letters, digits and underscores. */
export function slotName(label: string): string {
  return label.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 63);
}

// --- Kafka Connect --------------------------------------------------------------------------

async function connectRequest(connectUrl: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${connectUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: response.status, json };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: () => string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what()}`);
    await pause(200);
  }
}

/** The first line of a Java trace and its causes: where the reason is (the top line rarely says it). */
function traceSummary(trace: string | undefined): string {
  if (!trace) return 'no trace';
  const lines = trace.split('\n');
  return [lines[0], ...lines.filter((line) => line.startsWith('Caused by:'))].join(' / ');
}

interface ConnectorStatus {
  connector?: { state?: string; trace?: string };
  tasks?: { id: number; state?: string; trace?: string }[];
}

export interface OutboxConnector {
  name: string;
  topic: string;
  slot: string;
  publication: string;
  config: Record<string, string>;
  /** Deletes the connector, then drops its replication slot and publication (a leaked slot keeps WAL and blocks DROP DATABASE). */
  remove(): Promise<void>;
}

export interface RegisterOutboxOptions {
  databaseUrl: string;
  /** The connector's name; its slot and publication are named after it. */
  name: string;
  topic: string;
  /** Partitions of the topic when the connector creates it (it does not exist yet). Default 2. */
  partitions?: number;
  connectUrl?: string;
  /** A template of deploy/connectors; default postgres-outbox.json. */
  template?: string;
  /** Settings that replace the template's (after filling). */
  overrides?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * Registers a connector template of deploy/connectors (postgres-outbox.json unless told) for one
 * database through the Connect REST API and waits until its task runs and its replication slot streams.
 */
export async function registerOutboxConnector(options: RegisterOutboxOptions): Promise<OutboxConnector> {
  const connectUrl = (options.connectUrl ?? kafkaSettings()?.connectUrl ?? '').replace(/\/+$/, '');
  if (!connectUrl) throw new Error(`registerOutboxConnector needs a Kafka Connect URL: ${KAFKA_MISSING}`);
  const timeoutMs = options.timeoutMs ?? 90_000;
  const slot = slotName(options.name);
  const config = {
    ...loadConnectorTemplate(options.template ?? POSTGRES_OUTBOX_TEMPLATE, {
      ...databaseTemplateValues(options.databaseUrl),
      TOPIC_PREFIX: options.name,
      SLOT_NAME: slot,
      PUBLICATION_NAME: slot,
      TOPIC: options.topic,
      TOPIC_PARTITIONS: String(options.partitions ?? 2),
    }),
    ...options.overrides,
  };
  const put = await connectRequest(connectUrl, 'PUT', `/connectors/${encodeURIComponent(options.name)}/config`, config);
  if (put.status !== 200 && put.status !== 201) throw new Error(`Kafka Connect refused connector ${options.name} (HTTP ${put.status}): ${JSON.stringify(put.json)}`);
  const connector: OutboxConnector = {
    name: options.name,
    topic: options.topic,
    slot,
    publication: slot,
    config,
    remove: () => removeOutboxConnector({ connectUrl, databaseUrl: options.databaseUrl, name: options.name, timeoutMs }),
  };
  try {
    let last = '';
    await until(
      () => `connector ${options.name} to run (last status: ${last})`,
      async () => {
        const { status, json } = await connectRequest(connectUrl, 'GET', `/connectors/${encodeURIComponent(options.name)}/status`);
        last = `HTTP ${status} ${JSON.stringify(json)}`;
        const body = json as ConnectorStatus;
        const failed = [body.connector, ...(body.tasks ?? [])].find((part) => part?.state === 'FAILED');
        if (failed) throw new Error(`connector ${options.name} failed: ${traceSummary(failed.trace)}`);
        return status === 200 && body.connector?.state === 'RUNNING' && body.tasks?.[0]?.state === 'RUNNING' ? true : undefined;
      },
      timeoutMs,
    );
    await withClient(options.databaseUrl, (client) =>
      until(
        () => `replication slot ${slot} to stream`,
        async () => {
          const { rows } = await client.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
          return rows[0]?.active ? true : undefined;
        },
        timeoutMs,
      ),
    );
  } catch (error) {
    await connector.remove().catch(() => undefined);
    throw error;
  }
  return connector;
}

async function withClient<T>(databaseUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'tickwise-test-kafka' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Deletes a connector registered by registerOutboxConnector, then drops its slot and publication (named after it). */
export async function removeOutboxConnector(options: { connectUrl: string; databaseUrl: string; name: string; timeoutMs?: number }): Promise<void> {
  const { connectUrl, databaseUrl, name } = options;
  const timeoutMs = options.timeoutMs ?? 90_000;
  const slot = slotName(name);
  const deleted = await connectRequest(connectUrl, 'DELETE', `/connectors/${encodeURIComponent(name)}`);
  if (deleted.status !== 204 && deleted.status !== 404) throw new Error(`Kafka Connect did not delete connector ${name} (HTTP ${deleted.status}): ${JSON.stringify(deleted.json)}`);
  await until(
    () => `connector ${name} to be gone`,
    async () => ((await connectRequest(connectUrl, 'GET', `/connectors/${encodeURIComponent(name)}`)).status === 404 ? true : undefined),
    timeoutMs,
  );
  await withClient(databaseUrl, async (client) => {
    // The task's walsender lets go of the slot a moment after the delete.
    await until(
      () => `replication slot ${slot} to be released and dropped`,
      async () => {
        const { rows } = await client.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
        if (rows.length === 0) return true;
        if (rows[0]?.active) return undefined;
        await client.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [slot]).catch(() => undefined);
        return undefined;
      },
      timeoutMs,
    );
    await client.query(`DROP PUBLICATION IF EXISTS ${slot}`);
  });
}

// --- topics ------------------------------------------------------------------------------------

/** A topic name no other test file uses: `tickwise.test.<label>.<random>`. */
export function uniqueTopic(label: string): string {
  return `tickwise.test.${label.replace(/[^a-zA-Z0-9_-]/g, '-')}.${randomBytes(4).toString('hex')}`;
}

function client(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'tickwise-tests', brokers, logLevel: logLevel.ERROR });
}

export async function createTopic(brokers: string[], topic: string, partitions = 2): Promise<void> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** Deletes topics that exist among `topics` (Debezium's heartbeat topic, a test's own topic). */
export async function deleteTopics(brokers: string[], topics: string[]): Promise<void> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const doomed = topics.filter((topic) => existing.has(topic));
    if (doomed.length > 0) await admin.deleteTopics({ topics: doomed });
  } finally {
    await admin.disconnect();
  }
}

export interface RawMessage {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/** Writes messages as they are (for messages no connector would write). */
export async function produceRaw(brokers: string[], topic: string, messages: { key: string | null; value: string | null }[]): Promise<void> {
  const producer = client(brokers).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({ topic, messages });
  } finally {
    await producer.disconnect();
  }
}

/** Reads a topic from the beginning with a throwaway group until `done(messages)` says so. */
export async function readTopic(brokers: string[], topic: string, done: (messages: RawMessage[]) => boolean, timeoutMs = 30_000): Promise<RawMessage[]> {
  const consumer = client(brokers).consumer({ groupId: `tickwise-test-reader-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 500 });
  const messages: RawMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        messages.push({
          partition,
          offset: message.offset,
          key: message.key?.toString('utf8') ?? null,
          value: message.value?.toString('utf8') ?? null,
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)])),
        });
      },
    });
    await until(() => `messages on ${topic} (read ${messages.length})`, async () => (done(messages) ? true : undefined), timeoutMs);
    return messages;
  } finally {
    await consumer.disconnect();
  }
}
