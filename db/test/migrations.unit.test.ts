import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadMigrations, parseMigration } from '@tickwise/db';
import { TickwiseError } from '@tickwise/platform';

function parseError(work: () => unknown): TickwiseError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(TickwiseError);
    return error as TickwiseError;
  }
  throw new Error('expected a TickwiseError, nothing was thrown');
}

const FILE = `-- a comment before the first step belongs to no step

--- step first
CREATE TABLE a (id int);

--- step indexed only=postgres
CREATE INDEX a_idx ON a (id);

--- step indexed only=yugabyte
CREATE INDEX a_idx ON a (id HASH);

--- step last
CREATE TABLE b (id int);
`;

describe('parseMigration', () => {
  it('splits a file into its steps, in order, with the header lines left out', () => {
    const steps = parseMigration('0001_test', FILE, 'postgres');
    expect(steps.map((step) => step.name)).toEqual(['first', 'indexed', 'last']);
    expect(steps.every((step) => step.migration === '0001_test')).toBe(true);
    expect(steps[0]!.sql).toBe('CREATE TABLE a (id int);');
    expect(steps[2]!.sql).toBe('CREATE TABLE b (id int);');
    for (const step of steps) {
      expect(step.sql).not.toContain('--- step');
      expect(step.checksum).toMatch(/^[0-9a-f]{16}$/);
    }
  });

  it('keeps the only=postgres variant for postgres and the only=yugabyte variant for yugabyte', () => {
    const postgres = parseMigration('0001_test', FILE, 'postgres');
    const yugabyte = parseMigration('0001_test', FILE, 'yugabyte');
    expect(postgres.find((step) => step.name === 'indexed')!.sql).toBe('CREATE INDEX a_idx ON a (id);');
    expect(yugabyte.find((step) => step.name === 'indexed')!.sql).toBe('CREATE INDEX a_idx ON a (id HASH);');
    expect(yugabyte.map((step) => step.name)).toEqual(['first', 'indexed', 'last']);
    // Shared steps are byte-for-byte the same in both flavours; the variants differ.
    expect(yugabyte[0]!.checksum).toBe(postgres[0]!.checksum);
    expect(yugabyte[1]!.checksum).not.toBe(postgres[1]!.checksum);
  });

  it('drops a step that exists only for the other flavour', () => {
    const text = '--- step common\nSELECT 1;\n--- step yb_only only=yugabyte\nSELECT 2;\n';
    expect(parseMigration('0002_test', text, 'postgres').map((step) => step.name)).toEqual(['common']);
    expect(parseMigration('0002_test', text, 'yugabyte').map((step) => step.name)).toEqual(['common', 'yb_only']);
  });

  it('gives the same checksum for the same SQL, whatever the surrounding blank lines, and another for other SQL', () => {
    const [a] = parseMigration('0001_test', '--- step s\nSELECT 1;\n', 'postgres');
    const [b] = parseMigration('0001_test', '--- step s\n\n\nSELECT 1;\n\n', 'postgres');
    const [c] = parseMigration('0001_test', '--- step s\nSELECT 2;\n', 'postgres');
    expect(a!.checksum).toBe(b!.checksum);
    expect(a!.checksum).not.toBe(c!.checksum);
  });

  it('rejects a step name that appears twice for the same flavour', () => {
    const error = parseError(() => parseMigration('0003_dup', '--- step twice\nSELECT 1;\n--- step twice\nSELECT 2;\n', 'postgres'));
    expect(error.reason).toBe('migration_invalid');
    expect(error.message).toContain('0003_dup');
    expect(error.message).toContain('twice');
  });

  it('rejects an unconditional step and a variant of the same name in the variant\'s flavour', () => {
    const text = '--- step idx\nSELECT 1;\n--- step idx only=yugabyte\nSELECT 2;\n';
    expect(parseError(() => parseMigration('0004_mixed', text, 'yugabyte')).reason).toBe('migration_invalid');
  });

  it('rejects an empty step', () => {
    const error = parseError(() => parseMigration('0005_empty', '--- step empty\n\n   \n--- step full\nSELECT 1;\n', 'postgres'));
    expect(error.reason).toBe('migration_invalid');
    expect(error.message).toContain('"empty"');
    expect(error.message).toContain('empty');
  });

  it.each([
    ['an unknown flavour', '--- step b only=yugabyt'],
    ['an upper-case name', '--- step Indexes'],
    ['extra words', '--- step b only=postgres please'],
    ['a missing name', '--- step'],
    ['a missing space', '---step b'],
  ])('rejects a malformed step header (%s) instead of running it as SQL of the step above', (_what, header) => {
    const text = `--- step a\nCREATE TABLE a (id int);\n${header}\nCREATE INDEX b ON a (id HASH);\n`;
    for (const flavour of ['postgres', 'yugabyte'] as const) {
      const error = parseError(() => parseMigration('0008_typo', text, flavour));
      expect(error.reason).toBe('migration_invalid');
      expect(error.message).toContain(header.trim());
    }
  });

  it('accepts header-like words inside SQL and comments that are not at a line start as "--- step"', () => {
    const text = '--- step a\n-- --- step by step\nSELECT 1; --- step\n---- stepping\n';
    const [step] = parseMigration('0009_words', text, 'postgres');
    expect(step!.sql).toBe('-- --- step by step\nSELECT 1; --- step\n---- stepping');
  });

  it('rejects a file without any step header', () => {
    const error = parseError(() => parseMigration('0006_bare', 'CREATE TABLE x (id int);\n', 'postgres'));
    expect(error.reason).toBe('migration_invalid');
    expect(error.message).toContain('0006_bare');
    expect(parseError(() => parseMigration('0007_blank', '', 'yugabyte')).reason).toBe('migration_invalid');
  });
});

describe('loadMigrations', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('gives the same step names in the same order for postgres and yugabyte', () => {
    const postgres = loadMigrations('postgres');
    const yugabyte = loadMigrations('yugabyte');
    expect(postgres.length).toBeGreaterThan(0);
    const keys = (steps: typeof postgres) => steps.map((step) => `${step.migration}/${step.name}`);
    expect(keys(yugabyte)).toEqual(keys(postgres));
    expect(new Set(keys(postgres)).size).toBe(postgres.length);
    expect(keys(postgres)).toEqual(expect.arrayContaining(['0001_core/jobs', '0001_core/endpoints', '0002_queue_functions/tickwise_claim_due']));
  });

  it('uses the yugabyte variants only for sharding and for NOTIFY, and only there do the two flavours differ', () => {
    const postgres = loadMigrations('postgres');
    const yugabyte = loadMigrations('yugabyte');
    const differing = postgres.filter((step, index) => step.sql !== yugabyte[index]!.sql).map((step) => step.name);
    expect(differing).toEqual(['endpoints_due_idx', 'endpoints_lease_idx', 'runs_endpoint_idx', 'run_events', 'analyses_endpoint_idx', 'tickwise_notify', 'endpoint_transitions_takeover_idx', 'endpoint_notices', 'notifications', 'notifications_endpoint_idx', 'notification_deliveries', 'notification_deliveries_pending_idx', 'notification_deliveries_tenant_idx', 'notification_deliveries_endpoint_idx', 'audit_events_tenant_idx']);
    // NOTIFY errors on YugabyteDB before 2025.2.3: there it must never fail the write it accelerates.
    expect(yugabyte.find((step) => step.name === 'tickwise_notify')!.sql).toContain('EXCEPTION WHEN OTHERS');
    for (const name of differing.filter((each) => each !== 'tickwise_notify')) {
      // YugabyteDB shards an index on its first column by hash unless told ASC (a range over time).
      expect(postgres.find((step) => step.name === name)!.sql).not.toMatch(/HASH|ASC/);
      expect(yugabyte.find((step) => step.name === name)!.sql).toMatch(/HASH|ASC/);
    }
  });

  it('reads the numbered .sql files of a folder in order and ignores everything else', () => {
    dir = mkdtempSync(join(tmpdir(), 'tickwise-migrations-'));
    writeFileSync(join(dir, '0002_second.sql'), '--- step b\nSELECT 2;\n');
    writeFileSync(join(dir, '0001_first.sql'), '--- step a\nSELECT 1;\n');
    writeFileSync(join(dir, 'README.md'), 'not a migration');
    writeFileSync(join(dir, '0003_draft.sql.bak'), '--- step c\nSELECT 3;\n');
    expect(loadMigrations('postgres', dir).map((step) => `${step.migration}/${step.name}`)).toEqual(['0001_first/a', '0002_second/b']);
  });
});

describe('variants of the other flavour are checked too', () => {
  it('an empty YugabyteDB variant fails when loading for PostgreSQL', () => {
    const text = '--- step idx only=postgres\nCREATE INDEX a ON t (x);\n--- step idx only=yugabyte\n';
    expect(() => parseMigration('0009_x', text, 'postgres')).toThrow(expect.objectContaining({ reason: 'migration_invalid', message: 'migration 0009_x step "idx" is empty' }));
  });

  it('a step both shared and flavour-specific is a duplicate', () => {
    const text = '--- step idx\nSELECT 1;\n--- step idx only=yugabyte\nSELECT 2;\n';
    expect(() => parseMigration('0009_x', text, 'postgres')).toThrow(expect.objectContaining({ reason: 'migration_invalid', message: 'migration 0009_x has step "idx" twice for yugabyte' }));
  });
});
