/** What `next` resolves to besides an item. */
export type QueueSignal = 'timeout' | 'closed' | 'overflow';

/**
 * The events waiting for one watcher. Bounded: a watcher that falls `capacity` events behind is
 * told so once (`overflow`) rather than letting memory grow; the gateway then ends its watch.
 */
export class EventQueue<T> {
  private readonly items: T[] = [];
  private waiter: ((value: T | QueueSignal) => void) | undefined;
  private state: 'open' | 'closed' | 'overflow' = 'open';

  constructor(private readonly capacity: number) {}

  push(item: T): void {
    if (this.state !== 'open') return;
    if (this.items.length >= this.capacity) {
      this.state = 'overflow';
      this.items.length = 0;
    } else {
      this.items.push(item);
    }
    this.release();
  }

  close(): void {
    if (this.state === 'open') this.state = 'closed';
    this.items.length = 0;
    this.release();
  }

  /** The next item; `timeout` after `timeoutMs` without one; `closed` once closed or when `signal` aborts. */
  next(timeoutMs: number, signal: AbortSignal): Promise<T | QueueSignal> {
    const ready = this.take();
    if (ready !== undefined) return Promise.resolve(ready);
    if (signal.aborted) return Promise.resolve('closed');
    return new Promise((resolve) => {
      const done = (value: T | QueueSignal) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiter = undefined;
        resolve(value);
      };
      const onAbort = () => done('closed');
      const timer = setTimeout(() => done('timeout'), timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = () => done(this.take() ?? 'timeout');
    });
  }

  private take(): T | QueueSignal | undefined {
    if (this.state === 'overflow') return 'overflow';
    if (this.state === 'closed') return 'closed';
    return this.items.shift();
  }

  private release(): void {
    this.waiter?.(undefined as never);
  }
}
