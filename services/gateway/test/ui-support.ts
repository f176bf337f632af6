import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { applyJobs } from '@tickwise/catalog';
import { DEFAULT_TENANT_ID, newId, type ApiKeyRole } from '@tickwise/db';
import { startPlannerService, type PlannerService } from '@tickwise/planner';
import { createApiKey, resolveGatewayConfig, startGateway, type Gateway } from '../src/index.ts';
import { demoJob } from '../../../cli/dev/demo-job.ts';
import { startSyntheticServer, type SyntheticServer } from '../../../cli/dev/synthetic-server.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { startNode } from '../../../test/support/scheduler.ts';
import { memoryLogger } from '../../../test/support/logger.ts';
import { toolMissing } from '../../../test/support/tools.ts';
import { TEST_TARGET_ENV, TEST_TARGET_POLICY } from '../../../test/support/targets.ts';

// A real stack for the browser tests (test database, synthetic targets with the demo job, a
// scheduler node, the planner, the gateway serving the built page) and a real Chromium to look at it.

/**
 * Where Chromium is looked for: TICKWISE_CHROMIUM alone when it is set (a binary asked for by name is
 * never swapped for another), else Debian's `chromium` package.
 */
export const CHROMIUM_CANDIDATES = process.env.TICKWISE_CHROMIUM?.trim() ? [process.env.TICKWISE_CHROMIUM.trim()] : ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** The Chromium binary, or an error that says what to install (one line). */
export function findChromium(candidates: readonly string[] = CHROMIUM_CANDIDATES): string {
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new Error(
      `Chromium not found (looked at ${candidates.join(', ')}): the visualizer's browser tests need Debian's "chromium" package ` +
        '(apt-get install -y chromium), or TICKWISE_CHROMIUM set to a Chromium binary.',
    );
  }
  return found;
}

/**
 * The Chromium binary, or null after one line naming what to install (for describe.skipIf); under
 * CI=true a missing browser fails the file instead (test/support/tools.ts).
 */
export function chromiumOrSkip(suite: string, candidates: readonly string[] = CHROMIUM_CANDIDATES): string | null {
  try {
    return findChromium(candidates);
  } catch (error) {
    return toolMissing(suite, (error as Error).message) || null;
  }
}

export async function launchBrowser(executablePath = findChromium()): Promise<Browser> {
  return chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

export interface UiStack {
  db: TestDatabase;
  gateway: Gateway;
  synthetic: SyntheticServer;
  planner: PlannerService;
  node: ReturnType<typeof startNode>['node'];
  keys: Record<ApiKeyRole, string>;
  log: ReturnType<typeof memoryLogger>;
  stop(): Promise<void>;
}

/** The stack `tickwise dev` runs, on a fresh test database: the demo job in the default tenant. */
export async function startUiStack(): Promise<UiStack> {
  const db = await createTestDatabase();
  const log = memoryLogger();
  const synthetic = await startSyntheticServer(0);
  await applyJobs(db.pool, [demoJob(synthetic.url)], { targetPolicy: TEST_TARGET_POLICY });
  const keys = {} as Record<ApiKeyRole, string>;
  for (const role of ['read', 'write', 'admin'] as const) keys[role] = (await createApiKey(db.pool, { tenantId: DEFAULT_TENANT_ID, role, name: `ui-${role}` })).key;
  const { node } = startNode(db, { workerId: 'node-1' });
  const planner = await startPlannerService({ pool: db.pool, connectionString: db.url, env: { ...TEST_TARGET_ENV }, log });
  // The watch settings of a real gateway (1 s, 250 ms): the "within a second" test measures those.
  const gateway = await startGateway({ pool: db.pool, connectionString: db.url, config: resolveGatewayConfig({ host: '127.0.0.1', port: 0, targetPolicy: TEST_TARGET_POLICY }), log });
  return {
    db,
    gateway,
    synthetic,
    planner,
    node,
    keys,
    log,
    async stop() {
      await gateway.close();
      await planner.stop();
      await node.stop();
      await synthetic.close();
      await db.drop();
    },
  };
}

/** Collects what the page complains about (script errors, CSP violations, failed requests). */
export function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return problems;
}

/** Opens the page and signs in with `key`. */
export async function signIn(page: Page, baseUrl: string, key: string, hash = ''): Promise<void> {
  await page.goto(`${baseUrl}/ui/${hash}`);
  await page.fill('input[name=key]', key);
  await page.click('form.signin button[type=submit]');
}

/**
 * Gives the tenant `count` endpoints (jobs of 1,000, names e-00000, e-00001, ... in creation
 * order) on a yearly cron, so none runs during a test: one made through the API per job, then
 * copies of its row in one statement (making 10,000 through the API one by one takes minutes).
 */
export async function seedEndpoints(db: TestDatabase, createJob: (name: string, endpointName: string) => Promise<string>, count: number): Promise<void> {
  const perJob = 1_000;
  for (let first = 0; first < count; first += perJob) {
    const name = (index: number) => `e-${String(index).padStart(5, '0')}`;
    const templateId = await createJob(`bulk-${first / perJob}`, name(first));
    const size = Math.min(perJob, count - first) - 1;
    const ids = Array.from({ length: size }, () => newId());
    const names = Array.from({ length: size }, (_, index) => name(first + 1 + index));
    await db.pool.query(
      `INSERT INTO endpoints (id, job_id, tenant_id, name, spec, bucket, state, snapshot, next_run_at, reason, transition_seq)
       SELECT u.id, e.job_id, e.tenant_id, u.name, e.spec, e.bucket, e.state, e.snapshot, e.next_run_at, e.reason, 0
         FROM endpoints e, unnest($1::uuid[], $2::text[]) AS u(id, name) WHERE e.id = $3`,
      [ids, names, templateId],
    );
  }
}

/** The ids a Watch request asks for (Connect streaming: a 5-byte envelope, then the JSON message). Pure. */
export function watchedIds(body: Buffer | null): string[] {
  if (!body || body.length < 5) return [];
  return (JSON.parse(body.subarray(5, 5 + body.readUInt32BE(1)).toString('utf8')) as { endpointIds?: string[] }).endpointIds ?? [];
}
