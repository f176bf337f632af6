import { describe, expect, it } from 'vitest';
import { VersionedCache } from '../src/versioned-cache.ts';

function fixture() {
  const state = { now: 0, version: 'v1', data: 'first', loads: 0, checks: 0, fail: false };
  const warnings: string[] = [];
  const log = { warn: (message: string) => warnings.push(message) } as never;
  const cache = new VersionedCache({
    refreshMs: 1_000,
    now: () => state.now,
    log,
    failure: { keeping: 'kept the last data', none: 'no data' },
    version: async () => {
      state.checks++;
      if (state.fail) throw new Error('database away');
      return state.version;
    },
    load: async () => {
      state.loads++;
      return state.data;
    },
  });
  return { state, warnings, cache };
}

describe('VersionedCache: data read whole only when its version moved', () => {
  it('loads once, serves from memory while young, and checks the version without reloading when nothing changed', async () => {
    const { state, cache } = fixture();
    expect(await cache.current()).toBe('first');
    state.now = 500;
    expect(await cache.current()).toBe('first');
    expect(state).toMatchObject({ loads: 1, checks: 1 });
    state.now = 1_500;
    expect(await cache.current()).toBe('first');
    expect(state).toMatchObject({ loads: 1, checks: 2 });
  });

  it('gives the data without a promise only while it is young (fresh), starting the check past three quarters', async () => {
    const { state, cache } = fixture();
    expect(cache.fresh()).toBeUndefined();
    await cache.current();
    state.now = 500;
    expect(cache.fresh()).toBe('first');
    expect(state.checks).toBe(1);
    state.version = 'v2';
    state.data = 'second';
    state.now = 800;
    expect(cache.fresh()).toBe('first');
    await cache.reload();
    expect(state.checks).toBe(2);
    expect(cache.fresh()).toBe('second');
    state.now = 1_900;
    expect(cache.fresh()).toBeUndefined();
  });

  it('starts the check in the background past three quarters of refreshMs, and waits for it past refreshMs', async () => {
    const { state, cache } = fixture();
    await cache.current();
    state.version = 'v2';
    state.data = 'second';
    state.now = 800;
    expect(await cache.current()).toBe('first');
    await cache.reload();
    expect(await cache.current()).toBe('second');
    state.version = 'v3';
    state.data = 'third';
    state.now = 1_900;
    expect(await cache.current()).toBe('third');
  });

  it('keeps the last data when a check fails and says so; fails without any', async () => {
    const { state, warnings, cache } = fixture();
    state.fail = true;
    await expect(cache.current()).rejects.toThrow('database away');
    expect(warnings).toEqual(['no data']);
    state.fail = false;
    await cache.current();
    state.fail = true;
    state.now = 5_000;
    expect(await cache.current()).toBe('first');
    expect(warnings).toEqual(['no data', 'kept the last data']);
  });

  it('loads one at a time, and again after invalidate', async () => {
    const { state, cache } = fixture();
    await Promise.all([cache.current(), cache.current(), cache.reload()]);
    expect(state.loads).toBe(1);
    cache.invalidate();
    await cache.current();
    expect(state.loads).toBe(2);
  });

  it('refuses a refreshMs that is not a positive whole number', () => {
    expect(() => new VersionedCache({ refreshMs: 0, version: async () => '', load: async () => '', failure: { keeping: '', none: '' } })).toThrow('refreshMs must be a positive whole number of ms, got 0');
  });
});
