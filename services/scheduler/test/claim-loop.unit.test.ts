/** ClaimLoop: when it claims again, driven by fake timers and a database that answers on cue. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Pool } from '@tickwise/db';
import { ClaimLoop } from '../src/claim-loop.ts';

const CLAIM_AHEAD_MS = 200;
const POLL_INTERVAL_MS = 1_000;

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Lets the loop's awaits run on (no time passes). */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 50; turn++) await Promise.resolve();
}

/**
 * A loop over a database where no claim finds anything and the next due time is what `nextDue` says
 * (by default none). `holdNextDue` keeps the first next-due read unanswered until `answerNextDue()`.
 */
function loopOverEmptyQueue(nextDue: () => Date | null = () => null) {
  const statements: string[] = [];
  let answerNextDue: (() => void) | undefined;
  let held = false;
  const pool = {
    query: async (sql: string) => {
      if (sql.includes('tickwise_claim_due')) {
        statements.push('claim');
        return { rows: [] };
      }
      if (sql.includes('tickwise_next_due_at')) {
        statements.push('next_due');
        if (!held) return { rows: [{ at: nextDue() }] };
        held = false;
        return new Promise((resolve) => (answerNextDue = () => resolve({ rows: [{ at: nextDue() }] })));
      }
      throw new Error(`unexpected statement: ${sql}`);
    },
  } as unknown as Pool;
  const loop = new ClaimLoop({
    pool,
    config: { workerId: 'node-a', claimBatch: 500, leaseMs: 30_000, claimAheadMs: CLAIM_AHEAD_MS, pollIntervalMs: POLL_INTERVAL_MS },
    log: { debug() {}, info() {}, warn() {}, error() {} } as never,
    metrics: { claim() {} } as never,
    room: () => 100,
    share: async (_horizon, limit) => ({ excluded: [], most: limit }),
    accept: async () => {},
    onError: (_message, error) => {
      throw error;
    },
  });
  return {
    loop,
    claims: () => statements.filter((statement) => statement === 'claim').length,
    holdNextDue: () => (held = true),
    answerNextDue: () => answerNextDue?.(),
  };
}

describe('ClaimLoop', () => {
  it('sleeps the poll interval when nothing is due; a commit planning a slot before its end wakes it, a later one does not', async () => {
    const queue = loopOverEmptyQueue();
    queue.loop.start();
    await settle();
    expect(queue.claims()).toBe(1);
    // Asleep until the poll interval ends: a slot whose claim time is after that changes nothing.
    await vi.advanceTimersByTimeAsync(100);
    queue.loop.wakeFor(Date.now() + CLAIM_AHEAD_MS + POLL_INTERVAL_MS);
    await vi.advanceTimersByTimeAsync(0);
    expect(queue.claims()).toBe(1);
    await vi.advanceTimersByTimeAsync(POLL_INTERVAL_MS - 101);
    expect(queue.claims()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(queue.claims()).toBe(2);
    // One whose claim time comes sooner wakes it at once (the next due time then says when to claim).
    queue.loop.wakeFor(Date.now() + CLAIM_AHEAD_MS + 300);
    await vi.advanceTimersByTimeAsync(0);
    expect(queue.claims()).toBe(3);
    await queue.loop.stop();
  });

  it('keeps a claim time asked for while it reads the next due time, instead of losing it and sleeping the poll interval', async () => {
    const queue = loopOverEmptyQueue();
    queue.holdNextDue();
    queue.loop.start();
    await settle();
    expect(queue.claims()).toBe(1);
    // A commit lands while the loop waits for the next due time, planning a slot 300 ms away: claimed half the window ahead of it.
    queue.loop.wakeFor(Date.now() + 300);
    queue.answerNextDue();
    await vi.advanceTimersByTimeAsync(300 - CLAIM_AHEAD_MS / 2 - 1);
    expect(queue.claims()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(queue.claims()).toBe(2);
    await queue.loop.stop();
  });

  it('claims again at once for a wake-up that came while it was awake', async () => {
    const queue = loopOverEmptyQueue();
    queue.holdNextDue();
    queue.loop.start();
    await settle();
    queue.loop.wake();
    queue.answerNextDue();
    await vi.advanceTimersByTimeAsync(0);
    expect(queue.claims()).toBe(2);
    // That wake-up is spent: the loop sleeps the poll interval again.
    await vi.advanceTimersByTimeAsync(POLL_INTERVAL_MS - 1);
    expect(queue.claims()).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(queue.claims()).toBe(3);
    await queue.loop.stop();
  });

  it('gathers a steady stream of slots into one claim per half window, instead of claiming each slot as it comes into view', async () => {
    // Slots 1 ms apart without end: after every claim, the next one is just past what that claim could take.
    const queue = loopOverEmptyQueue(() => new Date(Date.now() + CLAIM_AHEAD_MS + 1));
    queue.loop.start();
    await settle();
    await vi.advanceTimersByTimeAsync(1_000);
    // One claim at the start, then one every CLAIM_AHEAD_MS / 2 + 1 ms (it was one every 1 ms).
    expect(queue.claims()).toBe(1 + Math.floor(1_000 / (CLAIM_AHEAD_MS / 2 + 1)));
    await queue.loop.stop();
  });
});
