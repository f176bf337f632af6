/** previewSchedule: the next baseline runs in UTC and local time, marking DST. */
import { describe, it, expect } from 'vitest';
import { previewSchedule } from '@tickwise/machines';
import { iso, cronSpec, everySpec, SECOND } from './governor-support.ts';

const view = (runs: ReturnType<typeof previewSchedule>['runs']) => runs.map((r) => [r.at.toISOString(), r.localTime, r.offsetChanged, r.note]);

describe('previewSchedule', () => {
  it('marks the spring-forward run of a fixed time, moved right after the gap', () => {
    const preview = previewSchedule(cronSpec('30 2 * * *', 'Europe/Paris'), iso('2026-03-27T12:00:00Z'), 3);
    expect(preview).toMatchObject({ schedule: 'cron "30 2 * * *" (Europe/Paris)', timezone: 'Europe/Paris' });
    expect(view(preview.runs)).toEqual([
      ['2026-03-28T01:30:00.000Z', '2026-03-28T02:30:00+01:00', false, ''],
      ['2026-03-29T01:00:00.000Z', '2026-03-29T03:00:00+02:00', true, 'the clocks jumped from 02:00 to 03:00: a time the schedule names did not exist, so it runs once, right after the gap'],
      ['2026-03-30T00:30:00.000Z', '2026-03-30T02:30:00+02:00', false, ''],
    ]);
  });

  it('marks both passes of a repeated hour for an hourly job, and the one pass of a fixed time', () => {
    const hourly = previewSchedule(cronSpec('0 * * * *', 'America/New_York'), iso('2026-11-01T04:30:00Z'), 3);
    expect(view(hourly.runs)).toEqual([
      ['2026-11-01T05:00:00.000Z', '2026-11-01T01:00:00-04:00', false, 'first pass of 01:00 (the clocks go back later)'],
      ['2026-11-01T06:00:00.000Z', '2026-11-01T01:00:00-05:00', true, 'second pass of 01:00: the clocks went back'],
      ['2026-11-01T07:00:00.000Z', '2026-11-01T02:00:00-05:00', false, ''],
    ]);
    const daily = previewSchedule(cronSpec('30 1 * * *', 'America/New_York'), iso('2026-10-31T12:00:00Z'), 2);
    expect(view(daily.runs)).toEqual([
      ['2026-11-01T05:30:00.000Z', '2026-11-01T01:30:00-04:00', false, '01:30 occurs twice (the clocks go back): it runs once, at the first pass'],
      ['2026-11-02T06:30:00.000Z', '2026-11-02T01:30:00-05:00', true, 'the clocks went back since the previous run (UTC offset -04:00 → -05:00)'],
    ]);
  });

  it('marks the offset change from the time it starts at, across Lord Howe\'s half-hour gap', () => {
    const preview = previewSchedule(cronSpec('*/15 * * * *', 'Australia/Lord_Howe'), iso('2026-10-03T15:15:00Z'), 2);
    expect(view(preview.runs)).toEqual([
      ['2026-10-03T15:30:00.000Z', '2026-10-04T02:30:00+11:00', true, 'the clocks went forward since the previous run (UTC offset +10:30 → +11:00)'],
      ['2026-10-03T15:45:00.000Z', '2026-10-04T02:45:00+11:00', false, ''],
    ]);
  });

  it('spaces interval runs from the last slot, in UTC', () => {
    const preview = previewSchedule(everySpec(90 * SECOND), iso('2026-01-01T00:10:00Z'), 2, iso('2026-01-01T00:00:30Z'));
    expect(preview).toMatchObject({ schedule: 'every 1m30s', timezone: 'UTC' });
    expect(preview.runs.map((r) => r.localTime)).toEqual(['2026-01-01T00:11:00+00:00', '2026-01-01T00:12:30+00:00']);
    expect(previewSchedule(everySpec(250), iso('2026-01-01T00:00:00Z'), 1).runs[0]!.localTime).toBe('2026-01-01T00:00:00.250+00:00');
  });

  it('stops where a cron has no more runs', () => {
    expect(previewSchedule(cronSpec('0 0 1 1 *'), iso('2999-06-01T00:00:00Z'), 5).runs).toEqual([]);
  });
});
