import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { machineHistory } from '@tickwise/db';
import { HeuristicAnalyzer } from '../src/analysis/index.ts';
import { resolvePlannerConfig } from '../src/config.ts';
import { Planner } from '../src/planner.ts';
import { DatabaseRunEventSource } from '../src/sources/database-source.ts';
import { applyJob, endpointId, startNode, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { memoryLogger } from '../../../test/support/logger.ts';
import { waitFor } from '../../../test/support/wait.ts';

let failing = false;
const fixture = useDatabaseAndTarget((_call, response) => {
  response.statusCode = failing ? 500 : 200;
  response.end(failing ? 'broken' : 'ok');
});

describe('the planner on the database path: a failing target gets a hint that the scheduler honours at once', () => {
  let planner: Planner;
  let stopNode: () => Promise<void>;
  let id: string;

  beforeAll(async () => {
    const { db, target } = fixture;
    await applyJob(db, 'planned', [{ name: 'flaky', url: `${target.url}/flaky`, schedule: { every: '300ms' }, maxInterval: '1m' }]);
    id = await endpointId(db, 'planned', 'flaky');
    const { node } = startNode(db);
    stopNode = () => node.stop();
    const log = memoryLogger();
    const config = resolvePlannerConfig({ minIntervalMs: 60_000, urgentFloorMs: 0, failureStreak: 3 });
    const source = new DatabaseRunEventSource({ pool: db.pool, connectionString: db.url, owner: 'planner-test', log, pollIntervalMs: 200 });
    planner = new Planner({ pool: db.pool, source, analyzer: new HeuristicAnalyzer(), config, log });
    await planner.start();
  });

  afterAll(async () => {
    await planner?.stop();
    await stopNode?.();
  });

  it('backs off a failing endpoint through a hint, records the analysis, and shows the reason in the history', async () => {
    const { db } = fixture;
    await waitFor('the first successful runs', async () => (await db.pool.query("SELECT count(*)::int AS n FROM runs WHERE status = 'succeeded'")).rows[0].n >= 2);
    failing = true;
    const hint = await waitFor('a planner hint', async () => (await db.pool.query("SELECT * FROM hints WHERE endpoint_id = $1 AND source LIKE 'planner:%' AND cleared_at IS NULL", [id])).rows[0]);
    expect(hint.kind).toBe('interval');
    expect(Number(hint.interval_ms)).toBeGreaterThan(300);
    expect(hint.analysis_id).not.toBeNull();

    const analysis = (await db.pool.query('SELECT * FROM analyses WHERE id = $1', [hint.analysis_id])).rows[0];
    expect(analysis).toMatchObject({ endpoint_id: id, planner: 'heuristic', trigger: 'failure_streak', outcome: 'hint' });
    expect(analysis.inputs.consecutive_failures).toBeGreaterThanOrEqual(3);
    expect(analysis.hint_ids).toEqual([hint.id]);

    // The machine is re-planned with the hint: its persisted reason names it, and so does its history.
    const row = await waitFor('the endpoint planned with the hint', async () => {
      const { rows } = await db.pool.query('SELECT reason, next_run_at FROM endpoints WHERE id = $1', [id]);
      return rows[0].reason?.includes('hint (planner:heuristic)') ? rows[0] : null;
    });
    expect(row.reason).toContain(hint.reason);
    const history = await machineHistory(db.pool, id);
    expect(history.some((step) => step.reason?.includes('hint (planner:heuristic)'))).toBe(true);
  });

  it('clears its hint once the endpoint recovers, and the schedule returns to the baseline', async () => {
    const { db } = fixture;
    failing = false;
    await waitFor(
      'the planner hint cleared',
      async () => (await db.pool.query("SELECT count(*)::int AS n FROM hints WHERE endpoint_id = $1 AND source LIKE 'planner:%' AND cleared_at IS NULL AND expires_at > now()", [id])).rows[0].n === 0,
      30_000,
    );
    const cleared = (await db.pool.query("SELECT outcome FROM analyses WHERE endpoint_id = $1 AND outcome = 'clear'", [id])).rows;
    expect(cleared.length).toBeGreaterThanOrEqual(1);
    await waitFor('a baseline plan', async () => (await db.pool.query('SELECT reason FROM endpoints WHERE id = $1', [id])).rows[0].reason?.startsWith('baseline'), 30_000);
    expect(planner.stats.eventsFolded).toBeGreaterThan(0);
  });
});
