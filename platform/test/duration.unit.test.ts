import { describe, it, expect } from 'vitest';
import { formatDuration, parseDuration } from '../src/duration.ts';

describe('parseDuration', () => {
  describe('single units', () => {
    it.each([
      ['250ms', 250],
      ['30s', 30_000],
      ['5m', 300_000],
      ['1h', 3_600_000],
      ['1d', 86_400_000],
      ['0s', 0],
    ])('parses %s as %d ms', (text, ms) => {
      expect(parseDuration(text)).toBe(ms);
    });
  });

  describe('compound and fractional values', () => {
    it('adds up several parts written largest first', () => {
      expect(parseDuration('1h30m')).toBe(5_400_000);
      expect(parseDuration('1d2h3m4s5ms')).toBe(86_400_000 + 2 * 3_600_000 + 3 * 60_000 + 4_000 + 5);
    });

    it('accepts decimal amounts', () => {
      expect(parseDuration('1.5s')).toBe(1_500);
      expect(parseDuration('0.25h')).toBe(900_000);
    });

    it('rounds to whole milliseconds', () => {
      expect(parseDuration('0.5ms')).toBe(1);
      expect(parseDuration('1.4ms')).toBe(1);
      expect(Number.isInteger(parseDuration('0.3333s'))).toBe(true);
    });

    it('ignores surrounding whitespace', () => {
      expect(parseDuration('  30s \n')).toBe(30_000);
    });
  });

  describe('rejections (undefined, so the caller words the error)', () => {
    it.each([
      [''],
      ['   '],
      ['30'],
      ['30x'],
      ['s'],
      ['-5s'],
      ['+5s'],
      ['1h 30m'],
      ['30S'],
      ['1e3s'],
      ['5 m'],
      ['30s!'],
      ['ms'],
      ['.5s'],
    ])('rejects %j', (text) => {
      expect(parseDuration(text)).toBeUndefined();
    });

    it('is not confused by a previous call (the sticky regex is reset)', () => {
      expect(parseDuration('30x')).toBeUndefined();
      expect(parseDuration('1h30m')).toBe(5_400_000);
      expect(parseDuration('1h30x')).toBeUndefined();
      expect(parseDuration('2m')).toBe(120_000);
    });
  });
});

describe('formatDuration', () => {
  it('writes sub-second values in milliseconds', () => {
    expect(formatDuration(0)).toBe('0ms');
    expect(formatDuration(1)).toBe('1ms');
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(999)).toBe('999ms');
  });

  it('writes whole units without a zero remainder', () => {
    expect(formatDuration(1_000)).toBe('1s');
    expect(formatDuration(60_000)).toBe('1m');
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(86_400_000)).toBe('1d');
  });

  it('combines units from largest to smallest, skipping empty ones', () => {
    expect(formatDuration(1_500)).toBe('1s500ms');
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(3_600_000 + 5)).toBe('1h5ms');
    expect(formatDuration(86_400_000 + 3_600_000 + 61_000 + 5)).toBe('1d1h1m1s5ms');
  });

  it('rounds fractional milliseconds above one second', () => {
    expect(formatDuration(1_000.4)).toBe('1s');
    expect(formatDuration(59_999.6)).toBe('1m');
  });

  describe('round trip with parseDuration', () => {
    it.each([1, 250, 1_000, 1_500, 30_000, 90_000, 300_000, 5_400_000, 86_400_000, 90_061_005])('parse(format(%d)) gives it back', (ms) => {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    });

    it.each(['250ms', '30s', '5m', '1h30m', '1d1h1m1s5ms'])('format(parse(%s)) gives it back', (text) => {
      expect(formatDuration(parseDuration(text)!)).toBe(text);
    });
  });
});

describe('formatDuration rounding', () => {
  it('rounds before choosing the unit', () => {
    expect(formatDuration(999.6)).toBe('1s');
    expect(formatDuration(999.4)).toBe('999ms');
  });
});
