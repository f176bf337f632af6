import { Code, ConnectError } from '@connectrpc/connect';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { MachineChange, Run } from '@tickwise/api';
import { describeError, type Api } from './api.ts';

export type StreamStatus =
  | { kind: 'idle' }
  | { kind: 'connecting'; attempt: number }
  | { kind: 'live' }
  | { kind: 'retrying'; at: number; attempt: number; error: string };

export interface StreamHandlers {
  machine(change: MachineChange): void;
  run(run: Run): void;
  status(status: StreamStatus): void;
  /** The key stopped working: signing in again is the only way on. */
  unauthenticated(error: ConnectError): void;
}

/** A stream that says nothing for this long is taken for dead (heartbeats come every 15 s by default). */
const SILENCE_MS = 40_000;
const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;
/** Scrolling changes the watched ids many times a second: the watch is reopened once it settles. */
const RESCOPE_AFTER_MS = 200;

/** The wait before reconnect attempt `attempt` (1, 2, ...): doubling from 1 s to 30 s, ±20% jitter. Pure but for `random`. */
export function backoffMs(attempt: number, random = Math.random): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/**
 * One Watch of the given endpoints, kept open: reopened when the set changes (what is on screen),
 * and after any failure with backoff, saying so through `status`. An empty set watches nothing
 * (the API would take it for the whole tenant).
 */
export class LiveStream {
  private ids: string[] = [];
  private generation = 0;
  private controller: AbortController | undefined;
  private rescope: ReturnType<typeof setTimeout> | undefined;
  private wakeUp: (() => void) | undefined;
  private closed = false;
  /** The gateway's clock minus ours, from the latest heartbeat (for countdowns). */
  skewMs = 0;

  constructor(
    private readonly api: Api,
    private readonly handlers: StreamHandlers,
  ) {}

  /** Watches these endpoints from now on (the same set again changes nothing). */
  watch(ids: readonly string[]): void {
    const next = [...new Set(ids)].sort();
    if (next.length === this.ids.length && next.every((id, index) => id === this.ids[index])) return;
    this.ids = next;
    clearTimeout(this.rescope);
    this.rescope = setTimeout(() => this.restart(), this.generation === 0 ? 0 : RESCOPE_AFTER_MS);
  }

  /** Skips the wait of a pending reconnect. */
  retryNow(): void {
    this.wakeUp?.();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.rescope);
    this.generation++;
    this.controller?.abort();
    this.wakeUp?.();
  }

  private restart(): void {
    if (this.closed) return;
    const generation = ++this.generation;
    this.controller?.abort();
    this.wakeUp?.();
    void this.loop(generation, [...this.ids]);
  }

  private async loop(generation: number, ids: string[]): Promise<void> {
    const current = () => !this.closed && generation === this.generation;
    let attempt = 0;
    while (current()) {
      if (ids.length === 0) return this.handlers.status({ kind: 'idle' });
      const controller = new AbortController();
      this.controller = controller;
      this.handlers.status({ kind: 'connecting', attempt });
      let watchdog: ReturnType<typeof setTimeout> | undefined;
      const pet = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => controller.abort(), SILENCE_MS);
      };
      let failure = 'the gateway ended the stream';
      try {
        pet();
        for await (const message of this.api.watch.watch({ endpointIds: ids, includeCurrent: true }, { signal: controller.signal })) {
          if (!current()) return;
          pet();
          const event = message.event;
          if (event.case === 'heartbeat') {
            if (event.value.at) this.skewMs = timestampDate(event.value.at).getTime() - Date.now();
            if (attempt !== 0 || !this.live) {
              attempt = 0;
              this.live = true;
              this.handlers.status({ kind: 'live' });
            }
          } else if (event.case === 'machine') {
            this.handlers.machine(event.value);
          } else if (event.case === 'run' && event.value.run) {
            this.handlers.run(event.value.run);
          }
        }
      } catch (error) {
        if (!current()) return;
        const connect = ConnectError.from(error);
        if (connect.code === Code.Unauthenticated) return this.handlers.unauthenticated(connect);
        failure = connect.code === Code.Canceled ? `no word from the gateway for ${SILENCE_MS / 1_000} s` : describeError(connect);
      } finally {
        clearTimeout(watchdog);
        this.live = false;
      }
      if (!current()) return;
      attempt++;
      const wait = backoffMs(attempt);
      this.handlers.status({ kind: 'retrying', at: Date.now() + wait, attempt, error: failure });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }

  private live = false;
}
