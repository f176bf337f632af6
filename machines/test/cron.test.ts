/** nextCronTime's rules by example, and the cron syntax kept across the croner 9 → 11 upgrade. */
import { describe, it, expect } from 'vitest';
import { isTickwiseError } from '@tickwise/platform/errors';
import { cronProblem, formatOffset, instantsOfWallTime, isFixedTimeCron, nextCronTime, zoneOffsetAt } from '@tickwise/machines';
import { iso, localTime } from './governor-support.ts';

const next = (cron: string, zone: string, after: string) => nextCronTime(cron, zone, iso(after)).toISOString();
function sequence(cron: string, zone: string, after: string, count: number): string[] {
  const out: string[] = [];
  let t = iso(after);
  for (let i = 0; i < count; i++) out.push((t = nextCronTime(cron, zone, t)).toISOString());
  return out;
}

describe('which jobs follow the wall clock (cronie: minute and hour both not starting with *)', () => {
  it.each([
    ['30 2 * * *', true],
    ['0,30 1-3 * * *', true],
    ['0 0-23/2 * * *', true],
    ['@daily', true],
    ['@weekly', true],
    ['0 30 2 * * *', true],
    ['*/20 30 2 * * *', true],
    ['0 * * * *', false],
    ['@hourly', false],
    ['*/15 * * * *', false],
    ['0 */2 * * *', false],
    ['* 2 * * *', false],
    ['*/20 * * * * *', false],
    ['0 */10 * * * *', false],
    ['/10 * * * *', false],
    ['0 ? * * *', false],
  ] as const)('%s → fixed-time %s', (cron, fixed) => {
    expect(isFixedTimeCron(cron)).toBe(fixed);
  });
});

describe('the rules by example', () => {
  it('a fixed time in a gap runs once at the first real minute after it, also in Lord Howe\'s 30-minute gap', () => {
    expect(localTime(iso(next('30 2 * * *', 'Europe/Paris', '2026-03-28T12:00:00Z')), 'Europe/Paris')).toBe('03:00');
    // 2026-10-04: Lord Howe's clocks go from 02:00 to 02:30; 02:15 runs at 02:30 (+11:00).
    expect(next('15 2 * * *', 'Australia/Lord_Howe', '2026-10-03T12:00:00Z')).toBe('2026-10-03T15:30:00.000Z');
  });

  it('several fixed times in one gap run once, together', () => {
    // 02:00 and 02:30 fall in Paris's gap: one run at 03:00, then 03:30.
    expect(sequence('0,30 2-3 * * *', 'Europe/Paris', '2026-03-29T00:00:00Z', 3).map((t) => localTime(iso(t), 'Europe/Paris'))).toEqual(['03:00', '03:30', '02:00']);
  });

  it('a six-field fixed time follows the same rule, seconds included', () => {
    expect(next('0 30 2 * * *', 'Europe/Paris', '2026-03-28T12:00:00Z')).toBe('2026-03-29T01:00:00.000Z');
    expect(sequence('*/20 30 2 * * *', 'Europe/Paris', '2026-10-24T12:00:00Z', 4)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-25T00:30:20.000Z', '2026-10-25T00:30:40.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('an hourly job runs in both passes of the repeated hour and skips nothing at spring forward', () => {
    expect(sequence('0 * * * *', 'America/New_York', '2026-11-01T04:30:00Z', 4)).toEqual(['2026-11-01T05:00:00.000Z', '2026-11-01T06:00:00.000Z', '2026-11-01T07:00:00.000Z', '2026-11-01T08:00:00.000Z']);
    expect(sequence('0 * * * *', 'America/New_York', '2026-03-08T05:30:00Z', 3).map((t) => localTime(iso(t), 'America/New_York'))).toEqual(['01:00', '03:00', '04:00']);
  });

  it('":45 every hour" keeps every real :45 across Lord Howe\'s half-hour fall back (where cronsim loses one)', () => {
    expect(sequence('45 * * * *', 'Australia/Lord_Howe', '2026-04-04T14:30:00Z', 3)).toEqual(['2026-04-04T14:45:00.000Z', '2026-04-04T15:15:00.000Z', '2026-04-04T16:15:00.000Z']);
  });

  it('does not depend on the milliseconds of the time asked from', () => {
    expect(next('*/20 * * * * *', 'UTC', '2026-01-01T00:00:19.999Z')).toBe('2026-01-01T00:00:20.000Z');
    expect(next('*/20 * * * * *', 'UTC', '2026-01-01T00:00:20.001Z')).toBe('2026-01-01T00:00:40.000Z');
  });
});

describe('cron syntax after the croner 11 upgrade', () => {
  it('accepts five or six fields and refuses seven (a year), as documented', () => {
    expect(cronProblem('* * * * *')).toBeNull();
    expect(cronProblem('*/20 * * * * *')).toBeNull();
    expect(cronProblem('0 0 1 1 * 2030')).toMatch(/6 parts|dayOfWeek/);
    expect(cronProblem('* * * * * * *')).toMatch(/5 or 6 parts/);
  });

  it('keeps the steps croner 9 accepted (5/5, /10), so stored specs still plan', () => {
    expect(sequence('5/5 * * * *', 'UTC', '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-01T00:05:00.000Z', '2026-01-01T00:10:00.000Z']);
    expect(next('/10 * * * *', 'UTC', '2026-01-01T00:00:00Z')).toBe('2026-01-01T00:10:00.000Z');
  });

  it('combines day of month and day of week with OR unless one is *, as cron does', () => {
    // 2026-06-01 is a Monday; "1st or any Monday", then "Mondays" only.
    expect(sequence('0 0 1 * 1', 'UTC', '2026-05-28T00:00:00Z', 3)).toEqual(['2026-06-01T00:00:00.000Z', '2026-06-08T00:00:00.000Z', '2026-06-15T00:00:00.000Z']);
    expect(sequence('0 0 * * 1', 'UTC', '2026-05-28T00:00:00Z', 1)).toEqual(['2026-06-01T00:00:00.000Z']);
  });

  it('reads nicknames, L, 5L (the last Friday; croner 9 read every Friday) and ? as *', () => {
    expect(next('@hourly', 'UTC', '2026-06-10T10:07:00Z')).toBe('2026-06-10T11:00:00.000Z');
    expect(next('0 0 L * *', 'UTC', '2026-06-10T00:00:00Z')).toBe('2026-06-30T00:00:00.000Z');
    expect(next('0 0 * * 5L', 'UTC', '2026-06-10T00:00:00Z')).toBe('2026-06-26T00:00:00.000Z');
    expect(next('0 0 ? * *', 'UTC', '2026-06-10T00:00:00Z')).toBe('2026-06-11T00:00:00.000Z');
  });

  it('refuses what never fires or cannot be read, with a TickwiseError', () => {
    expect(cronProblem('0 0 31 2 *')).toBe('never fires');
    expect(cronProblem('61 * * * *')).toMatch(/minute/);
    try {
      nextCronTime('nope', 'UTC', iso('2026-01-01T00:00:00Z'));
      expect.unreachable();
    } catch (error) {
      expect(isTickwiseError(error, 'invalid_argument')).toBe(true);
    }
  });
});

describe('zone offsets', () => {
  it('reads offsets and wall times of a zone without the process TZ', () => {
    expect(formatOffset(zoneOffsetAt('Asia/Kolkata', Date.parse('2026-01-01T00:00:00Z')))).toBe('+05:30');
    expect(formatOffset(zoneOffsetAt('America/New_York', Date.parse('2026-11-01T05:59:59Z')))).toBe('-04:00');
    expect(formatOffset(zoneOffsetAt('America/New_York', Date.parse('2026-11-01T06:00:00Z')))).toBe('-05:00');
    expect(formatOffset(zoneOffsetAt('Australia/Lord_Howe', Date.parse('2026-07-01T00:00:00Z')))).toBe('+10:30');
  });

  it('finds both passes of a repeated wall time and the end of a gap', () => {
    expect(instantsOfWallTime('America/New_York', Date.parse('2026-11-01T01:30:00Z'))).toEqual({ instants: [Date.parse('2026-11-01T05:30:00Z'), Date.parse('2026-11-01T06:30:00Z')], gapEnd: null });
    expect(instantsOfWallTime('America/New_York', Date.parse('2026-03-08T02:30:00Z'))).toEqual({ instants: [], gapEnd: Date.parse('2026-03-08T07:00:00Z') });
  });
});
