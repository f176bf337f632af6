import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { RunSchema, RunStatus, SkippedSlotsSchema } from '@tickwise/api';
import { runsTable } from '../commands/runs.ts';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const ago = (seconds: number) => timestampFromDate(new Date(NOW.getTime() - seconds * 1_000));

describe('tickwise runs: the table', () => {
  it('puts a line for each step that skipped slots among the runs, newest first, and marks retried attempts', () => {
    const runs = [
      create(RunSchema, { id: 'b', status: RunStatus.SUCCEEDED, httpStatus: 200, durationMs: 12, slot: ago(10), startedAt: ago(10), finishedAt: ago(10), attempt: 2, lastAttempt: true, plannedSource: 'baseline' }),
      create(RunSchema, { id: 'a', status: RunStatus.FAILED, httpStatus: 503, durationMs: 9, slot: ago(12), startedAt: ago(12), finishedAt: ago(12), attempt: 1, lastAttempt: false, plannedSource: 'baseline', errorKind: 'http_status', errorMessage: 'HTTP 503' }),
    ];
    const skipped = [create(SkippedSlotsSchema, { at: ago(5), count: 3, why: 'overlap', reason: 'overlap skip: 3 slots fell due while the run was going' })];
    const lines = runsTable(runs, NOW, skipped).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^5s ago\s+skipped\s+-\s+-\s+3 slots\s+-\s+overlap\s+overlap skip: 3 slots fell due/);
    expect(lines[2]).toMatch(/succeeded\s+200\s+.*\s2\s+baseline/);
    expect(lines[3]).toMatch(/failed\s+503\s+.*\s1 \(retried\)\s+baseline/);
  });
});
