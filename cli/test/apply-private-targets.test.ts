import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobService } from '@tickwise/api';
import { DEFAULT_TARGET_POLICY } from '@tickwise/platform';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { useGateway } from '../../test/support/gateway.ts';
import { METADATA_CASES, metadataMessage, PRIVATE_CASES, privateMessage } from '../../test/support/target-addresses.ts';
import { tickwise } from './cli-process.ts';

// `tickwise apply` with every private address, in every encoding, as endpoint URLs and notify
// targets: refused by default on the database path (exit 2, naming each url) and through the API
// (the API's INVALID_ARGUMENT, exit 1 as for anything the API refuses), nothing applied.

/** The cases ten at a time (a job has at most 10 notify targets). */
const CHUNKS = Array.from({ length: Math.ceil(PRIVATE_CASES.length / 10) }, (_, index) => PRIVATE_CASES.slice(index * 10, index * 10 + 10));
const urlOf = (spelling: string) => `http://${spelling}:9090/metrics`;
const FILE = `jobs:\n${CHUNKS.map(
  (chunk, jobIndex) =>
    `  - name: internal-${jobIndex}\n    endpoints:\n${chunk.map((item, index) => `      - { name: e${index}, url: "${urlOf(item.spelling)}", schedule: { every: 1h } }`).join('\n')}\n    notify:\n${chunk.map((item) => `      - { webhook: "${urlOf(item.spelling)}" }`).join('\n')}`,
).join('\n')}\n`;
/** Every refusal the file earns, as `field: reason`. */
const REFUSALS = [
  ...CHUNKS.flatMap((chunk, jobIndex) => chunk.map((item, index) => `jobs[${jobIndex}].endpoints[${index}].url: ${privateMessage(item)}`)),
  ...CHUNKS.flatMap((chunk, jobIndex) => chunk.map((item, index) => `jobs[${jobIndex}].notify[${index}].webhook: ${privateMessage(item)}`)),
];
const METADATA_FILE = `jobs:\n  - name: metadata\n    endpoints:\n${METADATA_CASES.map((item, index) => `      - { name: m${index}, url: "http://${item.spelling}/latest/", schedule: { every: 1h } }`).join('\n')}\n`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tickwise-private-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('tickwise apply on the database path', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('refuses every encoding by default with exit 2, naming each url, and applies them with TICKWISE_ALLOW_PRIVATE_TARGETS=true', async () => {
    const path = file('private.yaml', FILE);
    // The harness opts the CLI in: an empty value puts the default back.
    const refused = await tickwise(['apply', '-f', path], { DATABASE_URL: db.url, TICKWISE_ALLOW_PRIVATE_TARGETS: '' });
    expect(refused.code).toBe(2);
    for (const refusal of REFUSALS) expect(refused.stderr).toContain(`${path}: ${refusal}`);
    expect((await db.pool.query('SELECT 1 FROM jobs')).rows).toEqual([]);

    const applied = await tickwise(['apply', '-f', path], { DATABASE_URL: db.url, TICKWISE_ALLOW_PRIVATE_TARGETS: 'true' });
    expect([applied.code, applied.stderr]).toEqual([0, '']);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM endpoints')).rows[0].n).toBe(PRIVATE_CASES.length);

    const metadata = await tickwise(['apply', '-f', file('metadata.yaml', METADATA_FILE)], { DATABASE_URL: db.url, TICKWISE_ALLOW_PRIVATE_TARGETS: 'true' });
    expect(metadata.code).toBe(2);
    METADATA_CASES.forEach((item, index) => expect(metadata.stderr).toContain(`jobs[0].endpoints[${index}].url: ${metadataMessage(item)}`));

    const badFlag = await tickwise(['apply', '-f', path], { DATABASE_URL: db.url, TICKWISE_ALLOW_PRIVATE_TARGETS: 'yes' });
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain('TICKWISE_ALLOW_PRIVATE_TARGETS must be true or false, got "yes"');
  });
});

describe('tickwise apply through the API (a gateway on the default policy)', () => {
  const fx = useGateway({ targetPolicy: DEFAULT_TARGET_POLICY });

  it('the API refuses every encoding, naming each url; the CLI says so (exit 1) and nothing is applied', async () => {
    const path = file('remote.yaml', FILE);
    // The CLI's own setting does not matter here: the gateway judges what it writes.
    const result = await tickwise(['apply', '-f', path], { TICKWISE_URL: fx.gateway.url, TICKWISE_API_KEY: fx.a.keys.write });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${path} was not applied (nothing changed): the API refused the request (invalid_argument): `);
    for (const refusal of REFUSALS) expect(result.stderr).toContain(refusal);
    expect((await fx.client(JobService, fx.a.keys.read).listJobs({ namePrefix: 'internal' })).jobs).toEqual([]);
  });
});
