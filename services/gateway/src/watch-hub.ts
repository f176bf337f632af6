import { connectionSafetyOf, glanceMachines, HINTS_CHANNEL, latestRunIds, type Listener, type MachineGlance, machineVersions, type Pool, RUN_EVENTS_CHANNEL, runsAfter, startListener, type StoredRun, WAKE_CHANNEL } from '@tickwise/db';
import type { Logger } from '@tickwise/platform';

export type WatchEvent =
  | { kind: 'machine'; glance: MachineGlance; previous: MachineGlance | null }
  | { kind: 'run'; run: StoredRun };

export interface WatchFilter {
  tenantId: string;
  /** Events of these endpoints or of these jobs (either list may be null: no filter on it). */
  endpointIds: ReadonlySet<string> | null;
  jobIds: ReadonlySet<string> | null;
}

export interface Subscription {
  /** Resolves once the hub knows the tenant's machines: later changes are reported. */
  readonly ready: Promise<void>;
  /** The matching machines as the hub last saw them. */
  current(): MachineGlance[];
  close(): void;
}

interface Subscriber extends WatchFilter {
  /** The API key that opened the watch (a cap per key). */
  keyId: string;
  deliver(event: WatchEvent): void;
  end(): void;
  primed: () => void;
}

interface TenantState {
  /** What the tenant's watchers cover: "*" for everything, else their endpoint and job ids. */
  scopeKey: string;
  machines: Map<string, MachineGlance>;
  lastRun: Map<string, string | null>;
}

/** The union of what a tenant's watchers ask for; null when one of them watches the whole tenant. Pure. */
function scopeOf(subscribers: readonly WatchFilter[]): { endpointIds: string[]; jobIds: string[] } | null {
  const endpointIds = new Set<string>();
  const jobIds = new Set<string>();
  for (const subscriber of subscribers) {
    if (subscriber.endpointIds === null && subscriber.jobIds === null) return null;
    for (const id of subscriber.endpointIds ?? []) endpointIds.add(id);
    for (const id of subscriber.jobIds ?? []) jobIds.add(id);
  }
  return { endpointIds: [...endpointIds].sort(), jobIds: [...jobIds].sort() };
}

export interface WatchHubOptions {
  pool: Pool;
  connectionString: string;
  pollIntervalMs: number;
  minIntervalMs: number;
  log: Logger;
  /** Newest runs reported per endpoint and look (older ones in the same look are skipped). */
  runsPerEndpoint?: number;
}

const matches = (subscriber: WatchFilter, endpointId: string, jobId: string): boolean =>
  (subscriber.endpointIds === null && subscriber.jobIds === null) || subscriber.endpointIds?.has(endpointId) === true || subscriber.jobIds?.has(jobId) === true;

/** Whether a person watching would see a difference (a lease renewal bumps the version but changes nothing they see). Pure. */
function observablyChanged(before: MachineGlance, after: MachineGlance): boolean {
  return (
    before.state !== after.state ||
    before.reason !== after.reason ||
    before.pausedReason !== after.pausedReason ||
    (before.nextRunAt?.getTime() ?? null) !== (after.nextRunAt?.getTime() ?? null) ||
    (before.archivedAt === null) !== (after.archivedAt === null)
  );
}

/**
 * One poller per gateway process, shared by every watch. Each look reads the id and version of the
 * machines the watchers cover (whole tenants through the (tenant_id, id) index, or only the endpoints
 * and jobs they named when all of a tenant's watchers filter), then the details and the new runs only
 * of machines whose version moved since the last look (runs per endpoint after the last one seen), and
 * fans the differences out to the matching watchers. It looks every `pollIntervalMs`, and sooner (at
 * most every `minIntervalMs`) when PostgreSQL notifies a commit of runs, a wake-up or a hint change.
 * It runs only while someone watches.
 */
export class WatchHub {
  private readonly subscribers = new Set<Subscriber>();
  private readonly tenants = new Map<string, TenantState>();
  private listener: Listener | undefined;
  private timer: NodeJS.Timeout | undefined;
  private looking = false;
  private again = false;
  private lastLookAt = 0;
  private lastLookMs = 0;
  private closed = false;

  constructor(private readonly options: WatchHubOptions) {}

  get size(): number {
    return this.subscribers.size;
  }

  countFor(tenantId: string): number {
    let count = 0;
    for (const subscriber of this.subscribers) if (subscriber.tenantId === tenantId) count++;
    return count;
  }

  countForKey(keyId: string): number {
    let count = 0;
    for (const subscriber of this.subscribers) if (subscriber.keyId === keyId) count++;
    return count;
  }

  subscribe(filter: WatchFilter & { keyId: string }, deliver: (event: WatchEvent) => void, end: () => void): Subscription {
    if (this.closed) throw new Error('the watch hub is closed');
    let primed!: () => void;
    const ready = new Promise<void>((resolve) => (primed = resolve));
    const subscriber: Subscriber = { ...filter, deliver, end, primed };
    this.subscribers.add(subscriber);
    this.start();
    this.wake();
    return {
      ready,
      current: () => [...(this.tenants.get(filter.tenantId)?.machines.values() ?? [])].filter((glance) => matches(subscriber, glance.id, glance.jobId)).sort((a, b) => (a.id < b.id ? -1 : 1)),
      close: () => {
        if (!this.subscribers.delete(subscriber)) return;
        if (this.subscribers.size === 0) this.stop();
      },
    };
  }

  /** Ends every watch, waits (up to `graceMs`) for their streams to let go, and stops looking. */
  async close(graceMs = 2_000): Promise<void> {
    this.closed = true;
    for (const subscriber of [...this.subscribers]) subscriber.end();
    const deadline = Date.now() + graceMs;
    while (this.subscribers.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    this.subscribers.clear();
    await this.stop();
  }

  private start(): void {
    if (this.listener) return;
    this.listener = startListener({
      connectionString: this.options.connectionString,
      safety: connectionSafetyOf(this.options.pool),
      channels: [RUN_EVENTS_CHANNEL, WAKE_CHANNEL, HINTS_CHANNEL],
      onNotify: () => this.wake(),
      onStatus: (status, error) => {
        if (status === 'unsupported') this.options.log.info('LISTEN is not supported here: watches poll', { every: this.options.pollIntervalMs });
        else if (error) this.options.log.warn('watch listener', { status, error: error.message });
      },
    });
  }

  private async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.tenants.clear();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.close();
  }

  /** A look soon: now if the last one was long enough ago. */
  private wake(): void {
    if (this.subscribers.size === 0) return;
    if (this.looking) {
      this.again = true;
      return;
    }
    this.arm(Math.max(0, this.lastLookAt + this.gap() - Date.now()));
  }

  /** The least time between looks: a slow look (a large tenant) spaces them out, so they cost at most a third of the time. */
  private gap(): number {
    return Math.max(this.options.minIntervalMs, 2 * this.lastLookMs);
  }

  private arm(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.look(), delayMs);
  }

  private async look(): Promise<void> {
    if (this.subscribers.size === 0 || this.looking) return;
    this.looking = true;
    this.again = false;
    const started = Date.now();
    try {
      await this.compare();
    } catch (error) {
      this.options.log.warn('watch look failed; trying again', { error: (error as Error).message });
    } finally {
      this.looking = false;
      this.lastLookAt = Date.now();
      this.lastLookMs = this.lastLookAt - started;
      if (this.subscribers.size > 0) this.arm(this.again ? this.gap() : Math.max(this.options.pollIntervalMs, this.gap()));
    }
  }

  private async compare(): Promise<void> {
    // Watchers that subscribed before this look started are live once it is over.
    const covered = [...this.subscribers];
    const byTenant = new Map<string, Subscriber[]>();
    for (const subscriber of covered) byTenant.set(subscriber.tenantId, [...(byTenant.get(subscriber.tenantId) ?? []), subscriber]);
    for (const tenantId of this.tenants.keys()) if (!byTenant.has(tenantId)) this.tenants.delete(tenantId);
    const whole: string[] = [];
    const scoped: string[] = [];
    const endpointIds = new Set<string>();
    const jobIds = new Set<string>();
    // Tenants new to the hub, or whose scope changed: machines entering the scope are learnt silently.
    const silent = new Set<string>();
    for (const [tenantId, subscribers] of byTenant) {
      const scope = scopeOf(subscribers);
      const scopeKey = scope ? JSON.stringify(scope) : '*';
      if (scope) {
        scoped.push(tenantId);
        for (const id of scope.endpointIds) endpointIds.add(id);
        for (const id of scope.jobIds) jobIds.add(id);
      } else {
        whole.push(tenantId);
      }
      const state = this.tenants.get(tenantId);
      if (!state || state.scopeKey !== scopeKey) {
        silent.add(tenantId);
        this.tenants.set(tenantId, { scopeKey, machines: state?.machines ?? new Map(), lastRun: state?.lastRun ?? new Map() });
      }
    }
    const versions = await machineVersions(this.options.pool, { tenantIds: whole, scopedTenantIds: scoped, endpointIds: [...endpointIds], jobIds: [...jobIds] });
    const known = new Map<string, MachineGlance>();
    for (const state of this.tenants.values()) for (const glance of state.machines.values()) known.set(glance.id, glance);
    // The state too: a call slower than 250 ms becomes `running` without a new version (the node
    // marks it so in place), and a person watching should see it.
    const moved = [...versions].filter(([id, now]) => known.get(id)?.version !== now.version || known.get(id)?.state !== now.state).map(([id]) => id);
    const glances = await glanceMachines(this.options.pool, moved);
    // Out of scope now (a watcher left): forget them, so they are learnt again if they come back.
    for (const state of this.tenants.values()) {
      for (const id of state.machines.keys()) {
        if (versions.has(id)) continue;
        state.machines.delete(id);
        state.lastRun.delete(id);
      }
    }
    const learn = glances.filter((glance) => !known.has(glance.id) && silent.has(glance.tenantId));
    const changed = glances.filter((glance) => !learn.includes(glance) && this.tenants.has(glance.tenantId));
    if (learn.length > 0) {
      const lastRuns = await latestRunIds(this.options.pool, learn.map((glance) => glance.id));
      for (const glance of learn) {
        const state = this.tenants.get(glance.tenantId)!;
        state.machines.set(glance.id, glance);
        state.lastRun.set(glance.id, lastRuns.get(glance.id) ?? null);
      }
    }
    if (changed.length > 0) {
      const after = new Map<string, string | null>();
      for (const glance of changed) after.set(glance.id, this.tenants.get(glance.tenantId)!.lastRun.get(glance.id) ?? null);
      const runs = await runsAfter(this.options.pool, after, this.options.runsPerEndpoint ?? 20);
      const tenantOf = new Map(changed.map((glance) => [glance.id, glance.tenantId]));
      for (const run of runs) {
        const tenantId = tenantOf.get(run.endpointId)!;
        this.tenants.get(tenantId)!.lastRun.set(run.endpointId, run.id);
        this.fanOut(tenantId, run.endpointId, run.jobId, { kind: 'run', run });
      }
      for (const glance of changed) {
        const state = this.tenants.get(glance.tenantId)!;
        const previous = known.get(glance.id) ?? null;
        state.machines.set(glance.id, glance);
        if (!previous || observablyChanged(previous, glance)) this.fanOut(glance.tenantId, glance.id, glance.jobId, { kind: 'machine', glance, previous });
      }
    }
    for (const subscriber of covered) subscriber.primed();
  }

  private fanOut(tenantId: string, endpointId: string, jobId: string, event: WatchEvent): void {
    for (const subscriber of this.subscribers) {
      if (subscriber.tenantId === tenantId && matches(subscriber, endpointId, jobId)) subscriber.deliver(event);
    }
  }
}
