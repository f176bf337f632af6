/** The arrays tickwise_commit_rows reads by position: built in the order the field lists give. */
import { describe, expect, it } from 'vitest';
import { MACHINE_ROW_FIELDS, machineRow, RUN_ROW_FIELDS, runRow, type MachineWrite, type RunRecord } from '@tickwise/db';

// Every field set, and to a value no other field has, so a swap shows.
const run: RunRecord = {
  id: 'run-id',
  endpointId: 'endpoint-id',
  jobId: 'job-id',
  slot: new Date('2026-01-01T00:00:01Z'),
  attempt: 2,
  lastAttempt: false,
  worker: 'worker',
  status: 'failed',
  httpStatus: 503,
  durationMs: 12.5,
  startedAt: new Date('2026-01-01T00:00:02Z'),
  finishedAt: new Date('2026-01-01T00:00:03Z'),
  errorKind: 'http_status',
  errorMessage: 'HTTP 503',
  responseBody: 'busy',
  responseTruncated: true,
  plannedSource: 'retry',
  retryAfterMs: 1500,
};

const write: MachineWrite = {
  id: 'endpoint-id',
  expectedVersion: 7,
  state: 'due',
  snapshot: { schemaVersion: 1, value: 'due', context: {} } as never,
  nextRunAt: new Date('2026-01-01T00:01:00Z'),
  reason: 'retry 2 of 3',
  claimedSlot: new Date('2026-01-01T00:00:01Z'),
  transitions: [{ from: 'running', to: 'due', event: 'FINISH', at: '2026-01-01T00:00:03.000Z' }],
  plannedHintVersion: 4,
  attempt: 2,
  notice: { id: 'notice-id', kind: 'paused', detail: { by: 'breaker', reason: 'failing', until: null } },
};

describe('commit rows', () => {
  it('lays a run out in RUN_ROW_FIELDS order, every field once', () => {
    expect(runRow(run)).toEqual(RUN_ROW_FIELDS.map((field) => run[field]));
    expect(new Set(RUN_ROW_FIELDS).size).toBe(Object.keys(run).length);
  });

  it('lays a machine write out in MACHINE_ROW_FIELDS order, a write that is no routine cycle without its routine fields', () => {
    const expected = MACHINE_ROW_FIELDS.map((field) => (field === 'routineClaimedAt' || field === 'routineRunId' ? null : write[field]));
    // A failed run that is retried is no routine cycle: its steps stay with the write.
    expect(machineRow(write, run)).toEqual(expected);
    expect(machineRow(write, undefined)).toEqual(expected);
    expect(new Set(MACHINE_ROW_FIELDS).size).toBe(Object.keys(write).length + 2);
  });

  it('writes JSON null, never a hole, for the optional fields left out', () => {
    const { plannedHintVersion: _hint, attempt: _attempt, notice: _notice, ...bare } = write;
    const json = JSON.parse(JSON.stringify(machineRow(bare, undefined))) as unknown[];
    expect(json).toHaveLength(MACHINE_ROW_FIELDS.length);
    for (const field of ['plannedHintVersion', 'attempt', 'notice'] as const) expect(json[MACHINE_ROW_FIELDS.indexOf(field)]).toBeNull();
  });
});
