import { describe, expect, it } from 'vitest';
import { humanDuration, relativeTime, renderFields, renderTable, timeWithRelative, truncate } from '../table.ts';
import { parseLimit, parseStates, parseDurationOption } from '../api-format.ts';
import { MachineState } from '@tickwise/api';
import { codeName, readApiSettings } from '../api-client.ts';
import { Code } from '@connectrpc/connect';

const NOW = new Date('2026-11-24T09:00:00.000Z');
const at = (ms: number) => new Date(NOW.getTime() + ms);

describe('renderTable', () => {
  it('aligns columns to the widest cell, two spaces apart, without trailing blanks', () => {
    expect(renderTable(['NAME', 'STATE', 'REASON'], [['demo/health', 'idle', 'baseline every 5s'], ['a/b', 'paused', '']])).toBe(
      ['NAME         STATE   REASON', 'demo/health  idle    baseline every 5s', 'a/b          paused'].join('\n'),
    );
  });

  it('keeps a row on one line and counts characters, not UTF-16 units', () => {
    expect(renderTable(['A', 'B'], [['x\ny', '1'], ['→é', '2']])).toBe(['A    B', 'x y  1', '→é   2'].join('\n'));
  });

  it('prints the header alone for no rows, and empty cells for missing ones', () => {
    expect(renderTable(['A', 'B'], [])).toBe('A  B');
    expect(renderTable(['A', 'B', 'C'], [['1']])).toBe('A  B  C\n1');
  });

  it('aligns label: value fields', () => {
    expect(renderFields([['id', 'x'], ['next run', 'in 3s']])).toBe('id:        x\nnext run:  in 3s');
  });
});

describe('relativeTime', () => {
  it('says "in" for the future and "ago" for the past, in one coarse unit', () => {
    expect(relativeTime(at(12_400), NOW)).toBe('in 12s');
    expect(relativeTime(at(-3 * 60_000 - 59_000), NOW)).toBe('3m ago');
    expect(relativeTime(at(2 * 3_600_000 + 1), NOW)).toBe('in 2h');
    expect(relativeTime(at(-3 * 86_400_000), NOW)).toBe('3d ago');
  });

  it('says "now" within a second, and "-" without a time', () => {
    expect(relativeTime(at(999), NOW)).toBe('now');
    expect(relativeTime(at(-999), NOW)).toBe('now');
    expect(relativeTime(undefined, NOW)).toBe('-');
  });

  it('writes the instant in UTC with its relative form', () => {
    expect(timeWithRelative(at(90_000), NOW)).toBe('2026-11-24T09:01:30Z (in 1m)');
    expect(timeWithRelative(undefined, NOW)).toBe('-');
  });
});

describe('humanDuration', () => {
  it('writes milliseconds, seconds with decimals, then two parts', () => {
    expect(humanDuration(0)).toBe('0ms');
    expect(humanDuration(849.6)).toBe('850ms');
    expect(humanDuration(1_250)).toBe('1.25s');
    expect(humanDuration(12_540)).toBe('12.5s');
    expect(humanDuration(125_000)).toBe('2m05s');
    expect(humanDuration(3_720_000)).toBe('1h02m');
    expect(humanDuration(3 * 86_400_000 + 4 * 3_600_000)).toBe('3d04h');
  });

  it('gives "-" for what is not a duration', () => {
    expect(humanDuration(-1)).toBe('-');
    expect(humanDuration(Number.NaN)).toBe('-');
  });
});

describe('truncate', () => {
  it('cuts with an ellipsis only when longer', () => {
    expect(truncate('abcdef', 6)).toBe('abcdef');
    expect(truncate('abcdefg', 6)).toBe('abcde…');
  });
});

describe('options and settings of the API commands', () => {
  it('parses --state, --limit and durations, naming the option when wrong', () => {
    expect(parseStates('idle, PAUSED')).toEqual([MachineState.IDLE, MachineState.PAUSED]);
    expect(() => parseStates('idle,sleeping')).toThrow('--state must be one or more of idle, due, running, planning, paused (comma-separated), got "sleeping"');
    expect(parseLimit(undefined, 20, 100)).toBe(20);
    expect(() => parseLimit('0', 20, 100)).toThrow('--limit must be a whole number from 1 to 100, got "0"');
    expect(parseDurationOption('--within', '90s', 1)).toBe(90_000);
    expect(() => parseDurationOption('--within', 'soon', 1)).toThrow('--within must be a duration such as 30s, 2m or 1h, got "soon"');
  });

  it('checks TICKWISE_URL and TICKWISE_API_KEY once, never echoing the key', () => {
    const key = `tw_0123456789ab_${'A'.repeat(43)}`;
    expect(readApiSettings({ TICKWISE_URL: 'http://127.0.0.1:8080/', TICKWISE_API_KEY: key }, 'runs')).toEqual({ url: 'http://127.0.0.1:8080', key });
    expect(() => readApiSettings({ TICKWISE_API_KEY: key }, 'runs')).toThrow('TICKWISE_URL is not set: "tickwise runs" talks to the API');
    expect(() => readApiSettings({ TICKWISE_URL: 'localhost:8080', TICKWISE_API_KEY: key }, 'runs')).toThrow('TICKWISE_URL must be an http:// or https:// URL');
    expect(() => readApiSettings({ TICKWISE_URL: 'http://u:p@host', TICKWISE_API_KEY: key }, 'runs')).toThrow('no credentials, query or fragment');
    expect(() => readApiSettings({ TICKWISE_URL: 'http://host' }, 'runs')).toThrow('TICKWISE_API_KEY is not set');
    expect(() => readApiSettings({ TICKWISE_URL: 'http://host', TICKWISE_API_KEY: 'secret-token' }, 'runs')).toThrow(/^TICKWISE_API_KEY is not a Tickwise API key \(tw_<12 hex digits>_<secret>, as "tickwise keys create" prints it\)$/);
  });

  it('names Connect codes as the gRPC status table does', () => {
    expect(codeName(Code.InvalidArgument)).toBe('invalid_argument');
    expect(codeName(Code.Unauthenticated)).toBe('unauthenticated');
    expect(codeName(Code.DeadlineExceeded)).toBe('deadline_exceeded');
  });
});
