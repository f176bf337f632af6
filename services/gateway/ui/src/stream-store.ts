import { createStore } from '@xstate/store';
import type { StreamStatus } from './stream.ts';

// The live stream's status as the page shows it (the header's dot, the banner's countdown), and the
// gateway's clock. `now` moves only by events, so the countdown is a pure function of the context.

export interface StreamContext {
  status: StreamStatus;
  /** The gateway's clock minus ours, from the stream's latest heartbeat when the status last changed. */
  skewMs: number;
  now: number;
}

export type StreamEvent = { type: 'statusChanged'; status: StreamStatus; skewMs?: number; now: number } | { type: 'ticked'; now: number };

export function createStreamStore(now = 0) {
  return createStore<StreamContext, StreamEvent, never>({
    context: { status: { kind: 'idle' }, skewMs: 0, now },
    on: {
      statusChanged: (context, { status, skewMs, now }) => ({ status, skewMs: skewMs ?? context.skewMs, now }),
      ticked: (context, { now }) => ({ ...context, now }),
    },
  });
}

export type StreamStore = ReturnType<typeof createStreamStore>;

export type Banner = { kind: 'hidden' } | { kind: 'reconnecting' } | { kind: 'countdown'; seconds: number; error: string };

/** What the banner says: nothing while live or idle, a countdown while waiting to retry. */
export function bannerOf({ status, now }: StreamContext): Banner {
  if (status.kind === 'retrying') return { kind: 'countdown', seconds: Math.max(0, Math.ceil((status.at - now) / 1_000)), error: status.error };
  if (status.kind === 'connecting' && status.attempt > 0) return { kind: 'reconnecting' };
  return { kind: 'hidden' };
}

export const sameBanner = (a: Banner, b: Banner): boolean => a.kind === b.kind && (a.kind !== 'countdown' || (b.kind === 'countdown' && a.seconds === b.seconds && a.error === b.error));
