// Registers the outbox connector of deploy/connectors for the database at DATABASE_URL on the Kafka
// Connect at KAFKA_CONNECT_URL (default http://127.0.0.1:8083), or removes it with its slot:
//   node bin/run-ts.mjs scripts/kafka/register-outbox.ts [--name tickwise-outbox] [--topic tickwise.run-events]
//        [--partitions 3] [--template deploy/connectors/postgres-outbox.json] [--remove]
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { POSTGRES_OUTBOX_TEMPLATE, registerOutboxConnector, removeOutboxConnector } from '../../test/support/kafka.ts';

const { values } = parseArgs({
  options: {
    name: { type: 'string', default: 'tickwise-outbox' },
    topic: { type: 'string', default: 'tickwise.run-events' },
    partitions: { type: 'string', default: '3' },
    template: { type: 'string', default: POSTGRES_OUTBOX_TEMPLATE },
    remove: { type: 'boolean', default: false },
  },
});
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error('register-outbox: set DATABASE_URL to the database whose run_events to capture (wal_level=logical)');
  process.exit(2);
}
const partitions = Number(values.partitions);
if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1000) {
  console.error(`register-outbox: --partitions must be an integer from 1 to 1000, got ${values.partitions}`);
  process.exit(2);
}
const connectUrl = (process.env.KAFKA_CONNECT_URL ?? 'http://127.0.0.1:8083').replace(/\/+$/, '');
try {
  if (values.remove) {
    await removeOutboxConnector({ connectUrl, databaseUrl, name: values.name });
    console.log(`removed connector ${values.name}, its replication slot and its publication`);
  } else {
    const connector = await registerOutboxConnector({ databaseUrl, connectUrl, name: values.name, topic: values.topic, partitions, template: resolve(values.template) });
    console.log(`connector ${connector.name} runs: run_events → topic ${connector.topic} (slot ${connector.slot}, publication ${connector.publication})`);
  }
} catch (error) {
  console.error(`register-outbox: ${(error as Error).message}`);
  process.exit(1);
}
