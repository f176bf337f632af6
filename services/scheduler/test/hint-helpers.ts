import { applyHintChanges, inTransaction, machineHistory, newId, type HintChange, type NewHint } from '@tickwise/db';
import type { TestDatabase } from '../../../test/support/database.ts';
import { applyJob, endpointId } from '../../../test/support/scheduler.ts';
import { waitFor } from '../../../test/support/wait.ts';

/** What the hint tests share: writing hints, reading the machine's row and its writes. */
/** Long enough that nothing but a notification re-plans a machine while a test looks. */
export const NO_POLL = { hintPollMs: 600_000 };

export function newHint(endpointId: string, kind: NewHint['kind'], fields: Partial<NewHint> = {}): NewHint {
  return { id: newId(), endpointId, kind, reason: 'test says so', source: 'test', expiresAt: new Date(Date.now() + 3_600_000), ...fields };
}

/** Writes hints the one way they are written: applyHintChanges, committed. */
export function changeHints(db: TestDatabase, changes: HintChange[]): Promise<string[]> {
  return inTransaction(db.pool, (client) => applyHintChanges(client, changes));
}

export async function row(db: TestDatabase, id: string) {
  const { rows } = await db.pool.query(
    'SELECT state, next_run_at, reason, version, hint_version, planned_hint_version, lease_owner, snapshot FROM endpoints WHERE id = $1',
    [id],
  );
  return rows[0];
}

/** An endpoint of its own job that has run once and waits an hour for its next slot. */
export async function ranOnce(db: TestDatabase, url: string, job: string) {
  await applyJob(db, job, [{ name: 'work', url, schedule: { every: '1h' }, timeout: '30s' }]);
  const id = await endpointId(db, job, 'work');
  const idle = await waitFor(`${job} run once and planned`, async () => {
    const current = await row(db, id);
    return current.state === 'idle' && /^baseline/.test(current.reason ?? '') ? current : undefined;
  });
  const lastSlot = new Date(idle.snapshot.context.lastSlot as string);
  return { id, idle, lastSlot };
}

export function listening(log: { lines: string[] }) {
  return waitFor('the listener', () => log.lines.some((line) => line.includes('listener {"status":"listening"}')));
}

/** Hints the plan has seen: the re-plan (or the decision that nothing changes) is written. */
export function settled(db: TestDatabase, id: string) {
  return waitFor('hints accounted for', async () => {
    const current = await row(db, id);
    return current.planned_hint_version === current.hint_version && current.state !== 'due' && current.state !== 'running' ? current : undefined;
  });
}

export async function writesOf(db: TestDatabase, id: string) {
  const history = await machineHistory(db.pool, id);
  return [...new Set(history.map((step) => step.seq))].map((seq) => history.filter((step) => step.seq === seq));
}
