import { describe, expect, it } from 'vitest';
import { claimShare, isCrowded, TenantShares } from '../src/fair-share.ts';

describe('claimShare: how a crowded node shares its next claim among tenants', () => {
  it('lets one tenant alone use all of the node, however much it holds', () => {
    expect(claimShare(20, new Map([['a', 19]]), ['a'])).toEqual({ excluded: [], most: 20 });
    expect(claimShare(20, new Map(), ['a'])).toEqual({ excluded: [], most: 20 });
  });

  it('leaves out a tenant at its share once another waits (even one holding nothing yet), and claims one share at most', () => {
    expect(claimShare(20, new Map([['a', 10]]), ['a', 'b'])).toEqual({ excluded: ['a'], most: 10 });
    expect(claimShare(20, new Map(), ['a', 'b'])).toEqual({ excluded: [], most: 10 });
    expect(claimShare(20, new Map([['a', 12], ['b', 3]]), [])).toEqual({ excluded: ['a'], most: 7 });
  });

  it('never lifts a tenant past its share: a claim takes at most what the fullest tenant it may take from lacks', () => {
    // a holds 9 of its 10: a claim of 10 could give it 19 (what a loaded CI once saw).
    expect(claimShare(20, new Map([['a', 9]]), ['a', 'b'])).toEqual({ excluded: [], most: 1 });
    expect(claimShare(20, new Map([['a', 4], ['b', 2]]), [])).toEqual({ excluded: [], most: 6 });
  });

  it('splits among all tenants that hold or wait, at least one machine each', () => {
    expect(claimShare(20, new Map([['a', 7], ['b', 6], ['c', 1]]), ['d'])).toEqual({ excluded: ['a', 'b'], most: 4 });
    expect(claimShare(2, new Map([['a', 1], ['b', 1]]), ['c', 'd', 'e'])).toEqual({ excluded: ['a', 'b'], most: 1 });
  });

  it('asks only when the node would hold half its capacity or more after the claim', () => {
    expect(isCrowded(20, 4, 5)).toBe(false);
    expect(isCrowded(20, 0, 10)).toBe(true);
    expect(isCrowded(20, 10, 0)).toBe(true);
  });
});

/** The held count and the tenants' getter of a node holding machines of `tenants`. */
const heldBy = (tenants: string[]) => [tenants.length, () => tenants] as const;

describe('TenantShares: what a node asks the database, and remembers', () => {
  it('asks nothing while not crowded, and only the tenant count when one tenant has jobs', async () => {
    const asked: string[] = [];
    const shares = new TenantShares({ maxInFlight: 20, tenantsDue: async () => (asked.push('due'), ['a']), tenantCount: async () => (asked.push('count'), 1), now: () => 0 });
    expect(await shares.next(...heldBy(['a']), new Date(), 1)).toEqual({ excluded: [], most: 20 });
    // Nor does it list the held machines' tenants: the claim loop asks on every claim.
    const unread = () => {
      throw new Error('tenants read while not crowded');
    };
    expect(await shares.next(1, unread, new Date(), 1)).toEqual({ excluded: [], most: 20 });
    expect(asked).toEqual([]);
    expect(await shares.next(...heldBy(Array(15).fill('a')), new Date(), 5)).toEqual({ excluded: [], most: 20 });
    expect(await shares.next(...heldBy(Array(15).fill('a')), new Date(), 5)).toEqual({ excluded: [], most: 20 });
    expect(asked).toEqual(['count']);
  });

  it('remembers a tenant seen with work for a while, so its next slot finds room between its runs', async () => {
    let now = 0;
    let due = ['a', 'b'];
    const shares = new TenantShares({ maxInFlight: 20, tenantsDue: async () => due, tenantCount: async () => 2, now: () => now });
    expect(await shares.next(...heldBy(Array(10).fill('a')), new Date(), 10)).toEqual({ excluded: ['a'], most: 10 });
    due = ['a'];
    now = 10_000;
    expect(await shares.next(...heldBy(Array(10).fill('a')), new Date(), 10)).toEqual({ excluded: ['a'], most: 10 });
    now = 40_001;
    expect(await shares.next(...heldBy(Array(10).fill('a')), new Date(), 10)).toEqual({ excluded: [], most: 20 });
  });
});
