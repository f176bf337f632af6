/** What a crowded node's next claim may take: no machine of the tenants left out, and at most `most` machines. */
export interface ClaimShare {
  excluded: string[];
  most: number;
}

/**
 * How a node shares its capacity among tenants in its next claim. `active` are the tenants that hold,
 * wait for or lately waited for work on it. While one tenant alone does, it may use all of it. Once several do, each gets `maxInFlight` divided among them
 * (at least 1): a tenant that holds its share is left out of claims, and a claim takes at most one
 * share, so it cannot fill another tenant's share with one tenant's machines. So a tenant's slow
 * targets fill at most its share, and the others' slots find room on time. Pure; executes nothing.
 */
export function claimShare(maxInFlight: number, held: ReadonlyMap<string, number>, active: Iterable<string>): ClaimShare {
  const tenants = new Set(held.keys());
  for (const tenant of active) tenants.add(tenant);
  if (tenants.size <= 1) return { excluded: [], most: maxInFlight };
  const share = Math.max(1, Math.floor(maxInFlight / tenants.size));
  return { excluded: [...held].filter(([, count]) => count >= share).map(([tenant]) => tenant), most: share };
}

/** Whether a claim of `claiming` more could crowd tenants: the node would hold half its capacity or more. Pure. */
export function isCrowded(maxInFlight: number, held: number, claiming: number): boolean {
  return (held + claiming) * 2 >= maxInFlight;
}
