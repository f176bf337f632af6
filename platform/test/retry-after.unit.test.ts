import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../src/retry-after.ts';

const now = Date.parse('2026-11-24T09:00:00Z');

describe('parseRetryAfter', () => {
  it.each([
    ['120', 120_000],
    [' 5 ', 5_000],
    ['0', 0],
    ['Tue, 24 Nov 2026 09:00:30 GMT', 30_000],
    ['Tue, 24 Nov 2026 08:59:00 GMT', 0],
    ['99999999', 86_400_000],
    [['7', '9'], 7_000],
  ] as const)('reads %j as %d ms', (value, expected) => {
    expect(parseRetryAfter(value as string | string[], now)).toBe(expected);
  });

  it.each([undefined, '', 'soon', '-5', '1.5', '{}'])('gives null for %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeNull();
  });
});
