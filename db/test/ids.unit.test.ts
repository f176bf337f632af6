/** newId: UUIDv7 from pooled randomness, strictly ordered within one process. */
import { describe, expect, it } from 'vitest';
import { validate, version } from 'uuid';
import { newId } from '@tickwise/db';

describe('newId', () => {
  it('makes valid, unique UUIDv7s in strictly increasing order, many per millisecond', () => {
    const ids = Array.from({ length: 20_000 }, () => newId());
    expect(ids.every((id) => validate(id) && version(id) === 7)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
  });

  it('carries the time it was made in its first 48 bits', () => {
    const before = Date.now();
    const id = newId();
    const ms = Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1);
  });
});
