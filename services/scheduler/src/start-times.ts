interface Group<T> {
  atMs: number;
  timer: NodeJS.Timeout;
  waiting: Set<T>;
}

/**
 * Starts waiting machines at their times with one timer per distinct time, not one per machine.
 * Machines due in the same instant start in the order they were added, so a node that adds them in
 * a stable order (see `accept`) starts each one at the same place in every burst: an endpoint's
 * calls stay a period apart even when hundreds share its slot.
 */
export class StartTimes<T> {
  private readonly byTime = new Map<number, Group<T>>();
  private readonly groupOf = new Map<T, Group<T>>();

  constructor(private readonly start: (item: T) => void) {}

  /** Starts `item` at `atMs` (epoch ms) or just after, once; replaces an earlier time it had. */
  add(item: T, atMs: number): void {
    this.cancel(item);
    let group = this.byTime.get(atMs);
    if (!group) {
      const created: Group<T> = { atMs, waiting: new Set(), timer: setTimeout(() => this.fire(created), Math.max(0, atMs - Date.now())) };
      group = created;
      this.byTime.set(atMs, group);
    }
    group.waiting.add(item);
    this.groupOf.set(item, group);
  }

  /** Whether `item` waits to be started. */
  has(item: T): boolean {
    return this.groupOf.has(item);
  }

  /** `item` will not be started (unless added again). */
  cancel(item: T): void {
    const group = this.groupOf.get(item);
    if (!group) return;
    this.groupOf.delete(item);
    group.waiting.delete(item);
    if (group.waiting.size === 0 && this.byTime.get(group.atMs) === group) {
      clearTimeout(group.timer);
      this.byTime.delete(group.atMs);
    }
  }

  private fire(group: Group<T>): void {
    if (this.byTime.get(group.atMs) === group) this.byTime.delete(group.atMs);
    // Starting one may add or cancel others: each starts only if it still waits in this group.
    for (const item of [...group.waiting]) {
      if (this.groupOf.get(item) !== group) continue;
      this.groupOf.delete(item);
      this.start(item);
    }
  }
}
