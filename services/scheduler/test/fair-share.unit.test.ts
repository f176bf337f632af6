import { describe, expect, it } from 'vitest';
import { claimShare, isCrowded } from '../src/fair-share.ts';

describe('claimShare: how a crowded node shares its next claim among tenants', () => {
  it('lets one tenant alone use all of the node, however much it holds', () => {
    expect(claimShare(20, new Map([['a', 19]]), ['a'])).toEqual({ excluded: [], most: 20 });
    expect(claimShare(20, new Map(), ['a'])).toEqual({ excluded: [], most: 20 });
  });

  it('leaves out a tenant at its share once another waits (even one holding nothing yet), and claims one share at most', () => {
    expect(claimShare(20, new Map([['a', 10]]), ['a', 'b'])).toEqual({ excluded: ['a'], most: 10 });
    expect(claimShare(20, new Map([['a', 9]]), ['a', 'b'])).toEqual({ excluded: [], most: 10 });
    expect(claimShare(20, new Map(), ['a', 'b'])).toEqual({ excluded: [], most: 10 });
    expect(claimShare(20, new Map([['a', 12], ['b', 3]]), [])).toEqual({ excluded: ['a'], most: 10 });
  });

  it('splits among all tenants that hold or wait, at least one machine each', () => {
    expect(claimShare(20, new Map([['a', 7], ['b', 6], ['c', 1]]), ['d'])).toEqual({ excluded: ['a', 'b'], most: 5 });
    expect(claimShare(2, new Map([['a', 1], ['b', 1]]), ['c', 'd', 'e'])).toEqual({ excluded: ['a', 'b'], most: 1 });
  });

  it('asks only when the node would hold half its capacity or more after the claim', () => {
    expect(isCrowded(20, 4, 5)).toBe(false);
    expect(isCrowded(20, 0, 10)).toBe(true);
    expect(isCrowded(20, 10, 0)).toBe(true);
  });
});
