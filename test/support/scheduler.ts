import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll } from 'vitest';
import { applyJobs, type ApplyChange } from '@tickwise/catalog';
import { endpointInputSchema } from '@tickwise/machines';
import { resolveSchedulerConfig, SchedulerNode, type SchedulerConfig } from '@tickwise/scheduler';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { startHttpTarget, type HttpTarget, type ReceivedCall } from './http-target.ts';
import { memoryLogger } from './logger.ts';
import { TEST_TARGET_POLICY } from './targets.ts';

/** For tests that build a node of their own: the harness's private-target opt-in (targets.ts). */
export { TEST_TARGET_POLICY };

export interface TargetHandlerTools {
  /** Every call received so far, this one included. */
  calls: ReceivedCall[];
  /** Leaves the call hanging; it is answered when the block's tests are over. */
  hold(): void;
}

/**
 * A fresh database and a real HTTP target for the tests of one describe block (answers 200 "ok"
 * unless `handler` says otherwise). Read `db` and `target` inside the tests.
 */
export function useDatabaseAndTarget(handler?: (call: ReceivedCall, response: ServerResponse, tools: TargetHandlerTools) => void) {
  const fixture = {} as { db: TestDatabase; target: HttpTarget };
  const held: ServerResponse[] = [];
  beforeAll(async () => {
    fixture.db = await createTestDatabase();
    fixture.target = await startHttpTarget(
      handler && ((call, response) => handler(call, response, { calls: fixture.target.calls, hold: () => void held.push(response) })),
    );
  });
  afterAll(async () => {
    for (const response of held.splice(0)) response.end();
    await fixture.target?.close();
    await fixture.db?.drop();
  });
  return fixture;
}

/** A scheduler node on the test database, tuned for tests (short lease, fast polling; private targets allowed: test/support/targets.ts). */
export function startNode(db: TestDatabase, overrides: Partial<SchedulerConfig> = {}) {
  const log = memoryLogger();
  const config = resolveSchedulerConfig({ leaseMs: 3_000, pollIntervalMs: 100, shutdownGraceMs: 1_000, prune: false, targetPolicy: TEST_TARGET_POLICY, ...overrides });
  const node = new SchedulerNode({ pool: db.pool, connectionString: db.url, config, log });
  node.start();
  return { node, log, config };
}

/** Applies one job whose endpoints are given in the jobs-file form (private targets allowed, as the tests' targets are on 127.0.0.1). */
export function applyJob(db: TestDatabase, name: string, endpoints: Record<string, unknown>[], options: { synthetic?: boolean } = {}): Promise<ApplyChange[]> {
  return applyJobs(db.pool, [{ name, synthetic: options.synthetic ?? false, endpoints: endpoints.map((endpoint) => endpointInputSchema.parse(endpoint)) }], { targetPolicy: TEST_TARGET_POLICY });
}

export async function endpointId(db: TestDatabase, job: string, endpoint: string): Promise<string> {
  const { rows } = await db.pool.query<{ id: string }>('SELECT e.id FROM endpoints e JOIN jobs j ON j.id = e.job_id WHERE j.name = $1 AND e.name = $2', [job, endpoint]);
  if (!rows[0]) throw new Error(`no endpoint ${job}/${endpoint}`);
  return rows[0].id;
}
