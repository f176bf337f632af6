/** StartTimes: one timer per distinct time, machines of one instant in the order added. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StartTimes } from '../src/start-times.ts';

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('StartTimes', () => {
  it('starts items of the same instant in the order they were added, with one timer', () => {
    const started: string[] = [];
    const times = new StartTimes<string>((item) => started.push(item));
    for (const item of ['c', 'a', 'b']) times.add(item, 1_000_050);
    times.add('later', 1_000_080);
    expect(vi.getTimerCount()).toBe(2);
    vi.advanceTimersByTime(50);
    expect(started).toEqual(['c', 'a', 'b']);
    vi.advanceTimersByTime(30);
    expect(started).toEqual(['c', 'a', 'b', 'later']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('forgets a cancelled item, and its timer once its instant has no other', () => {
    const started: string[] = [];
    const times = new StartTimes<string>((item) => started.push(item));
    times.add('a', 1_000_010);
    times.add('b', 1_000_010);
    times.cancel('a');
    expect(times.has('a')).toBe(false);
    expect(times.has('b')).toBe(true);
    times.cancel('b');
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(100);
    expect(started).toEqual([]);
  });

  it('moves an item added again to its new time', () => {
    const started: string[] = [];
    const times = new StartTimes<string>((item) => started.push(item));
    times.add('a', 1_000_010);
    times.add('a', 1_000_020);
    vi.advanceTimersByTime(15);
    expect(started).toEqual([]);
    vi.advanceTimersByTime(5);
    expect(started).toEqual(['a']);
  });

  it('lets a start re-add itself to the same instant (a timer that fired early) and cancel a peer that has not started', () => {
    const started: string[] = [];
    let early = true;
    const times: StartTimes<string> = new StartTimes<string>((item) => {
      if (item === 'a' && early) {
        early = false;
        times.add('a', 1_000_010);
        times.cancel('b');
        return;
      }
      started.push(item);
    });
    for (const item of ['a', 'b', 'c']) times.add(item, 1_000_010);
    vi.advanceTimersByTime(10);
    expect(started).toEqual(['c']);
    vi.advanceTimersByTime(1);
    expect(started).toEqual(['c', 'a']);
    expect(times.has('b')).toBe(false);
  });
});
