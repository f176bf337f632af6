/** What a crowded node's next claim may take: no machine of the tenants left out, and at most `most` machines. */
export interface ClaimShare {
  excluded: string[];
  most: number;
}

/**
 * How a node shares its capacity among tenants in its next claim. `active` are the tenants that hold,
 * wait for or lately waited for work on it. While one tenant alone does, it may use all of it. Once several do, each gets `maxInFlight` divided among them
 * (at least 1): a tenant that holds its share is left out of claims, and a claim takes at most what
 * the fullest tenant it may take from still lacks of its share, so no claim lifts a tenant past its
 * share (one holding 9 of 10 gets 1 more, not 10). So a tenant's slow targets fill at most its
 * share, and the others' slots find room on time. Pure; executes nothing.
 */
export function claimShare(maxInFlight: number, held: ReadonlyMap<string, number>, active: Iterable<string>): ClaimShare {
  const tenants = new Set(held.keys());
  for (const tenant of active) tenants.add(tenant);
  if (tenants.size <= 1) return { excluded: [], most: maxInFlight };
  const share = Math.max(1, Math.floor(maxInFlight / tenants.size));
  const excluded = [...held].filter(([, count]) => count >= share).map(([tenant]) => tenant);
  const fullest = Math.max(0, ...[...held.values()].filter((count) => count < share));
  return { excluded, most: share - fullest };
}

/** Whether a claim of `claiming` more could crowd tenants: the node would hold half its capacity or more. Pure. */
export function isCrowded(maxInFlight: number, held: number, claiming: number): boolean {
  return (held + claiming) * 2 >= maxInFlight;
}

/** How long a tenant seen with work counts as one sharing the node. */
const TENANT_MEMORY_MS = 30_000;
/** How long the number of tenants is taken as known. */
const TENANT_COUNT_MS = 10_000;
/** How long the tenants with work due are taken as known (asking walks every due machine). */
const TENANTS_DUE_MS = 250;

/**
 * A node's memory of the tenants sharing it, and the share of its next claim. The database is asked
 * which tenants have work due only while the node is crowded: the common case costs no query. A
 * tenant seen with work a moment ago still counts: between its slots it has nothing due, and its
 * next one must find room.
 */
export class TenantShares {
  private readonly seen = new Map<string, number>();
  private tenants = { count: 0, at: -Infinity };
  private due = { at: -Infinity };

  constructor(private readonly options: { maxInFlight: number; tenantsDue: (horizon: Date) => Promise<string[]>; tenantCount: () => Promise<number>; now?: () => number }) {}

  /**
   * The share of a claim of up to `limit` machines due by `horizon`, given how many machines the node
   * holds and, asked only when it is crowded, their tenants.
   */
  async next(heldCount: number, heldTenants: () => readonly string[], horizon: Date, limit: number): Promise<ClaimShare> {
    const { maxInFlight } = this.options;
    if (!isCrowded(maxInFlight, heldCount, limit)) return { excluded: [], most: maxInFlight };
    const now = (this.options.now ?? Date.now)();
    // A deployment of one tenant never shares: one cheap count every few seconds says so.
    if (now - this.tenants.at > TENANT_COUNT_MS) this.tenants = { count: await this.options.tenantCount(), at: now };
    if (this.tenants.count <= 1) return { excluded: [], most: maxInFlight };
    const held = new Map<string, number>();
    for (const tenant of heldTenants()) held.set(tenant, (held.get(tenant) ?? 0) + 1);
    for (const tenant of held.keys()) this.seen.set(tenant, now);
    if (now - this.due.at > TENANTS_DUE_MS) {
      for (const tenant of await this.options.tenantsDue(horizon)) this.seen.set(tenant, now);
      this.due = { at: now };
    }
    for (const [tenant, at] of this.seen) if (now - at > TENANT_MEMORY_MS) this.seen.delete(tenant);
    return claimShare(maxInFlight, held, this.seen.keys());
  }
}
