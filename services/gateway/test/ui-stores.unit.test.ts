import { describe, expect, it } from 'vitest';
import { bannerOf, createStreamStore } from '../ui/src/stream-store.ts';

describe('the stream status store', () => {
  const banner = (store: ReturnType<typeof createStreamStore>) => bannerOf(store.getSnapshot().context);

  it('shows nothing while live, counts down to the next try when disconnected, and clears once back', () => {
    const store = createStreamStore(0);
    store.trigger.statusChanged({ status: { kind: 'connecting', attempt: 0 }, now: 0 });
    expect(banner(store)).toEqual({ kind: 'hidden' });
    store.trigger.statusChanged({ status: { kind: 'live' }, skewMs: 250, now: 100 });
    expect(banner(store)).toEqual({ kind: 'hidden' });

    store.trigger.statusChanged({ status: { kind: 'retrying', at: 4_000, attempt: 1, error: 'the gateway ended the stream' }, now: 1_000 });
    expect(banner(store)).toEqual({ kind: 'countdown', seconds: 3, error: 'the gateway ended the stream' });
    store.trigger.ticked({ now: 2_000 });
    expect(banner(store)).toMatchObject({ seconds: 2 });
    store.trigger.ticked({ now: 3_500 });
    expect(banner(store)).toMatchObject({ seconds: 1 });
    store.trigger.ticked({ now: 9_000 });
    expect(banner(store)).toMatchObject({ seconds: 0 });

    store.trigger.statusChanged({ status: { kind: 'connecting', attempt: 1 }, now: 9_000 });
    expect(banner(store)).toEqual({ kind: 'reconnecting' });
    store.trigger.statusChanged({ status: { kind: 'live' }, skewMs: -40, now: 9_200 });
    expect(banner(store)).toEqual({ kind: 'hidden' });
    expect(store.getSnapshot().context.skewMs).toBe(-40);
  });

  it('keeps the gateway clock skew when a status comes without one', () => {
    const store = createStreamStore(0);
    store.trigger.statusChanged({ status: { kind: 'live' }, skewMs: 1_500, now: 0 });
    store.trigger.statusChanged({ status: { kind: 'idle' }, now: 10 });
    expect(store.getSnapshot().context).toMatchObject({ status: { kind: 'idle' }, skewMs: 1_500 });
  });

  it('tells a subscriber to the banner only when what it says changes', () => {
    const store = createStreamStore(0);
    const seen: string[] = [];
    store.select(bannerOf, (a, b) => JSON.stringify(a) === JSON.stringify(b)).subscribe((shown) => seen.push(shown.kind === 'countdown' ? `${shown.seconds}s` : shown.kind));
    store.trigger.ticked({ now: 1_000 });
    store.trigger.statusChanged({ status: { kind: 'retrying', at: 3_000, attempt: 1, error: 'down' }, now: 1_000 });
    store.trigger.ticked({ now: 1_200 });
    store.trigger.ticked({ now: 2_100 });
    store.trigger.statusChanged({ status: { kind: 'live' }, now: 3_000 });
    expect(seen).toEqual(['2s', '1s', 'hidden']);
  });
});
