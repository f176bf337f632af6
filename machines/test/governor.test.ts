import { describe, it, expect } from 'vitest';
import {
  DEFAULT_BACKOFF_CAP_MS,
  nextBaselineSlot,
  planNextRun,
  type EndpointSpec,
  type Hint,
  type Plan,
  type PlanInput,
} from '@tickwise/machines';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** A fixed Monday morning; no test reads the wall clock. */
const T0 = new Date('2026-01-05T10:00:00.000Z');
const at = (offsetMs: number, from: Date = T0) => new Date(from.getTime() + offsetMs);
const iso = (text: string) => new Date(text);

function everySpec(everyMs: number, extra: Partial<EndpointSpec> = {}): EndpointSpec {
  return { url: 'http://localhost:9999/x', method: 'GET', headers: {}, schedule: { kind: 'every', everyMs }, jitter: 0, timeoutMs: 10_000, catchUp: 'skip', ...extra };
}

function cronSpec(cron: string, timezone = 'UTC', extra: Partial<EndpointSpec> = {}): EndpointSpec {
  return { url: 'http://localhost:9999/x', method: 'GET', headers: {}, schedule: { kind: 'cron', cron, timezone }, jitter: 0, timeoutMs: 10_000, catchUp: 'skip', ...extra };
}

const noRandom = () => {
  throw new Error('random() must not be called here');
};

function plan(input: Partial<PlanInput> & Pick<PlanInput, 'spec' | 'now'>): Plan {
  return planNextRun({ previousSlot: null, consecutiveFailures: 0, hints: [], random: noRandom, ...input });
}

/** The plan, asserting it is a run. */
function run(input: Partial<PlanInput> & Pick<PlanInput, 'spec' | 'now'>): Extract<Plan, { kind: 'run' }> {
  const result = plan(input);
  if (result.kind !== 'run') throw new Error(`expected a run plan, got ${JSON.stringify(result)}`);
  return result;
}

let hintCount = 0;
function hint(kind: Hint['kind'], fields: Partial<Hint> = {}): Hint {
  hintCount++;
  return {
    id: `hint-${hintCount}`,
    kind,
    reason: `reason ${hintCount}`,
    source: 'planner',
    createdAt: T0,
    expiresAt: at(HOUR),
    ...fields,
  };
}

/** Wall-clock time of `date` in `timeZone`, as HH:MM. */
function localTime(date: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(date);
}

describe('baseline: every', () => {
  it('runs one interval after the previous slot, not after now', () => {
    const result = run({ spec: everySpec(30 * SECOND), now: at(2_500), previousSlot: T0 });
    expect(result).toEqual({ kind: 'run', at: at(30 * SECOND), reason: 'baseline every 30s', source: 'baseline' });
  });

  it('does not drift when every run finishes late', () => {
    const spec = everySpec(30 * SECOND);
    let previousSlot = T0;
    for (let k = 1; k <= 10; k++) {
      const result = run({ spec, now: at(4 * SECOND + 123, previousSlot), previousSlot });
      expect(result.at).toEqual(at(k * 30 * SECOND));
      previousSlot = result.at;
    }
  });

  it('runs the first run of an interval endpoint at once', () => {
    const now = at(123);
    expect(run({ spec: everySpec(30 * SECOND), now })).toEqual({ kind: 'run', at: now, reason: 'first run of every 30s', source: 'first_run' });
  });

  it('runs the first run at once even with failures on record', () => {
    const now = at(123);
    expect(run({ spec: everySpec(30 * SECOND), now, consecutiveFailures: 4 })).toMatchObject({ at: now, source: 'first_run' });
  });
});

describe('baseline: cron', () => {
  it('waits for the next cron slot on a first run (no run at once)', () => {
    const result = run({ spec: cronSpec('*/15 * * * *'), now: at(7 * MINUTE) });
    expect(result).toEqual({ kind: 'run', at: at(15 * MINUTE), reason: 'baseline cron "*/15 * * * *" (UTC)', source: 'baseline' });
  });

  it('runs at the next slot strictly after the previous one', () => {
    expect(run({ spec: cronSpec('0 * * * *'), now: at(3 * SECOND), previousSlot: T0 }).at).toEqual(at(HOUR));
  });

  it('nextBaselineSlot is strictly after its argument', () => {
    expect(nextBaselineSlot(cronSpec('0 * * * *'), T0)).toEqual(at(HOUR));
    expect(nextBaselineSlot(cronSpec('0 * * * *'), at(-1))).toEqual(T0);
    expect(nextBaselineSlot(everySpec(5 * SECOND), T0)).toEqual(at(5 * SECOND));
  });

  describe('Europe/Paris across daylight saving time', () => {
    const spec = cronSpec('0 9 * * *', 'Europe/Paris');

    it('keeps 09:00 local: 08:00Z before the spring change (2026-03-29), 07:00Z after', () => {
      const slots: string[] = [];
      let previousSlot = iso('2026-03-27T08:00:00Z');
      for (let i = 0; i < 3; i++) {
        previousSlot = run({ spec, now: at(SECOND, previousSlot), previousSlot }).at;
        slots.push(previousSlot.toISOString());
      }
      expect(slots).toEqual(['2026-03-28T08:00:00.000Z', '2026-03-29T07:00:00.000Z', '2026-03-30T07:00:00.000Z']);
    });

    it('keeps 09:00 local across the autumn change (2026-10-25): 07:00Z then 08:00Z', () => {
      const previousSlot = iso('2026-10-24T07:00:00Z');
      expect(run({ spec, now: at(SECOND, previousSlot), previousSlot }).at).toEqual(iso('2026-10-25T08:00:00Z'));
    });

    it('moves a local time that does not exist on the spring-forward day to the same minutes of the next hour (03:30)', () => {
      // On 2026-03-29 Paris clocks jump from 02:00 CET to 03:00 CEST: 02:30 does not exist that day.
      const daily = cronSpec('30 2 * * *', 'Europe/Paris');
      const previousSlot = iso('2026-03-28T01:30:00Z'); // 02:30 CET
      const result = run({ spec: daily, now: at(SECOND, previousSlot), previousSlot });
      expect(result.at.getTime()).toBeGreaterThan(previousSlot.getTime());
      expect(result.at).toEqual(iso('2026-03-29T01:30:00Z'));
      expect(localTime(result.at, 'Europe/Paris')).toBe('03:30');
      expect(localTime(result.at, 'Europe/Paris')).not.toMatch(/^02:/);
      // The next day is back to 02:30 local, now CEST.
      const after = run({ spec: daily, now: at(SECOND, result.at), previousSlot: result.at });
      expect(after.at).toEqual(iso('2026-03-30T00:30:00Z'));
      expect(localTime(after.at, 'Europe/Paris')).toBe('02:30');
    });

    it('runs a local time that occurs twice on the fall-back day only once', () => {
      const daily = cronSpec('30 2 * * *', 'Europe/Paris');
      const first = nextBaselineSlot(daily, iso('2026-10-24T12:00:00Z'));
      const second = nextBaselineSlot(daily, first);
      expect(first).toEqual(iso('2026-10-25T01:30:00Z')); // 02:30 CET, the second 02:30 of the day
      expect(localTime(first, 'Europe/Paris')).toBe('02:30');
      expect(second).toEqual(iso('2026-10-26T01:30:00Z'));
    });
  });

  describe('America/New_York across daylight saving time', () => {
    const spec = cronSpec('0 9 * * *', 'America/New_York');

    it('keeps 09:00 local: 14:00Z before 2026-03-08, 13:00Z after', () => {
      const previousSlot = iso('2026-03-07T14:00:00Z');
      expect(run({ spec, now: at(SECOND, previousSlot), previousSlot }).at).toEqual(iso('2026-03-08T13:00:00Z'));
    });

    it('keeps 09:00 local across the autumn change: 13:00Z then 14:00Z on 2026-11-01', () => {
      const previousSlot = iso('2026-10-31T13:00:00Z');
      expect(run({ spec, now: at(SECOND, previousSlot), previousSlot }).at).toEqual(iso('2026-11-01T14:00:00Z'));
    });

    it('moves 02:30, missing on 2026-03-08, to 03:30 EDT', () => {
      const daily = cronSpec('30 2 * * *', 'America/New_York');
      const previousSlot = iso('2026-03-07T07:30:00Z');
      const result = run({ spec: daily, now: at(SECOND, previousSlot), previousSlot });
      expect(result.at).toEqual(iso('2026-03-08T07:30:00Z'));
      expect(localTime(result.at, 'America/New_York')).toBe('03:30');
    });
  });
});

describe('backoff after consecutive failures', () => {
  const previousSlot = T0;
  const now = at(2 * SECOND);

  it('doubles the interval per failure, up to the 15 minute default cap', () => {
    const spec = everySpec(30 * SECOND);
    const waits = [1, 2, 3, 4, 5, 6, 10].map((failures) => run({ spec, now, previousSlot, consecutiveFailures: failures }).at.getTime() - T0.getTime());
    expect(waits).toEqual([60, 120, 240, 480, 900, 900, 900].map((s) => s * SECOND));
    expect(DEFAULT_BACKOFF_CAP_MS).toBe(15 * MINUTE);
  });

  it('names the failures and the cap in the reason', () => {
    const spec = everySpec(30 * SECOND);
    expect(run({ spec, now, previousSlot, consecutiveFailures: 1 })).toEqual({
      kind: 'run',
      at: at(MINUTE),
      reason: 'backoff after 1 consecutive failure: waiting 1m (cap 15m)',
      source: 'backoff',
    });
    expect(run({ spec, now, previousSlot, consecutiveFailures: 3 }).reason).toBe('backoff after 3 consecutive failures: waiting 4m (cap 15m)');
  });

  it('is capped by maxInterval', () => {
    const spec = everySpec(30 * SECOND, { maxIntervalMs: 2 * MINUTE });
    const waits = [1, 2, 3, 8].map((failures) => run({ spec, now, previousSlot, consecutiveFailures: failures }).at.getTime() - T0.getTime());
    expect(waits).toEqual([MINUTE, 2 * MINUTE, 2 * MINUTE, 2 * MINUTE]);
    expect(run({ spec, now, previousSlot, consecutiveFailures: 3 }).reason).toContain('cap 2m');
  });

  it('stays on the baseline when maxInterval equals the interval', () => {
    const spec = everySpec(30 * SECOND, { maxIntervalMs: 30 * SECOND });
    expect(run({ spec, now, previousSlot, consecutiveFailures: 3 })).toEqual({
      kind: 'run',
      at: at(30 * SECOND),
      reason: 'baseline every 30s (backoff capped at 30s)',
      source: 'baseline',
    });
  });

  it('never shortens an interval longer than the default cap', () => {
    const spec = everySpec(20 * MINUTE);
    expect(run({ spec, now, previousSlot, consecutiveFailures: 2 })).toMatchObject({ at: at(20 * MINUTE), source: 'baseline' });
  });

  it('survives a huge failure count without overflowing', () => {
    const spec = everySpec(30 * SECOND, { maxIntervalMs: HOUR });
    expect(run({ spec, now, previousSlot, consecutiveFailures: 10_000 }).at).toEqual(at(HOUR));
  });

  it('treats zero failures as no backoff', () => {
    expect(run({ spec: everySpec(30 * SECOND), now, previousSlot, consecutiveFailures: 0 }).source).toBe('baseline');
  });

  it('lands on a cron slot for a cron schedule, capped at 15 minutes by default', () => {
    const spec = cronSpec('*/5 * * * *');
    expect(run({ spec, now, previousSlot, consecutiveFailures: 1 })).toMatchObject({ at: at(10 * MINUTE), source: 'backoff' });
    expect(run({ spec, now, previousSlot, consecutiveFailures: 2 })).toMatchObject({ at: at(15 * MINUTE), source: 'backoff' });
    expect(run({ spec, now, previousSlot, consecutiveFailures: 9 }).reason).toBe('backoff after 9 consecutive failures: waiting 15m (cap 15m)');
  });

  it('rounds up to the next cron slot when the backoff falls between slots', () => {
    // Slots at 09:00, 10:00 and 17:00; from 09:00 the gap is 1h, so one failure waits 2h → 11:00 → the 17:00 slot.
    const spec = cronSpec('0 9,10,17 * * *', 'UTC', { maxIntervalMs: 12 * HOUR });
    const nine = iso('2026-01-05T09:00:00Z');
    const result = run({ spec, now: at(SECOND, nine), previousSlot: nine, consecutiveFailures: 1 });
    expect(result).toEqual({
      kind: 'run',
      at: iso('2026-01-05T17:00:00Z'),
      reason: 'backoff after 1 consecutive failure: waiting 8h (cap 12h)',
      source: 'backoff',
    });
    // Three failures wait 8h → exactly 17:00, which is a slot itself.
    expect(run({ spec, now: at(SECOND, nine), previousSlot: nine, consecutiveFailures: 3 }).at).toEqual(iso('2026-01-05T17:00:00Z'));
  });

  it('gives an hourly cron without maxInterval no backoff (its gap is already above the default cap)', () => {
    expect(run({ spec: cronSpec('0 * * * *'), now, previousSlot, consecutiveFailures: 5 })).toMatchObject({ at: at(HOUR), source: 'baseline' });
  });
});

describe('interval hints', () => {
  const spec = everySpec(30 * SECOND, { minIntervalMs: 5 * SECOND, maxIntervalMs: 10 * MINUTE });
  const now = at(2 * SECOND);
  const previousSlot = T0;

  it('replaces the baseline interval, anchored on the previous slot', () => {
    const h = hint('interval', { intervalMs: 10 * SECOND, reason: 'queue is deep' });
    expect(run({ spec, now, previousSlot, hints: [h] })).toEqual({
      kind: 'run',
      at: at(10 * SECOND),
      reason: `hint (planner): every 10s until ${h.expiresAt.toISOString()}: queue is deep`,
      source: 'hint_interval',
    });
  });

  it('is clamped to minInterval', () => {
    const result = run({ spec, now, previousSlot, hints: [hint('interval', { intervalMs: SECOND })] });
    expect(result.at).toEqual(at(5 * SECOND));
    expect(result.source).toBe('hint_interval');
    expect(result.reason).toContain('clamped to min interval 5s');
  });

  it('is clamped to maxInterval', () => {
    const result = run({ spec, now, previousSlot, hints: [hint('interval', { intervalMs: HOUR })] });
    expect(result.at).toEqual(at(10 * MINUTE));
    expect(result.reason).toContain('clamped to max interval 10m');
  });

  it('is not clamped when the endpoint sets no bounds', () => {
    const result = run({ spec: everySpec(30 * SECOND), now, previousSlot, hints: [hint('interval', { intervalMs: 3 * SECOND })] });
    expect(result.at).toEqual(at(3 * SECOND));
    expect(result.reason).not.toContain('clamped');
  });

  it('is ignored once expired (expiry equal to now counts as expired)', () => {
    for (const expiresAt of [at(-1), now]) {
      expect(run({ spec, now, previousSlot, hints: [hint('interval', { intervalMs: 10 * SECOND, expiresAt })] })).toMatchObject({ at: at(30 * SECOND), source: 'baseline' });
    }
  });

  it('uses the most recently created interval hint, whatever the order', () => {
    const older = hint('interval', { intervalMs: 20 * SECOND, createdAt: at(-MINUTE) });
    const newer = hint('interval', { intervalMs: 8 * SECOND, createdAt: at(-SECOND) });
    expect(run({ spec, now, previousSlot, hints: [newer, older] }).at).toEqual(at(8 * SECOND));
    expect(run({ spec, now, previousSlot, hints: [older, newer] }).at).toEqual(at(8 * SECOND));
  });

  it('falls back to an older hint when the newer one has expired', () => {
    const older = hint('interval', { intervalMs: 20 * SECOND, createdAt: at(-MINUTE) });
    const newerExpired = hint('interval', { intervalMs: 8 * SECOND, createdAt: at(-SECOND), expiresAt: at(SECOND) });
    expect(run({ spec, now, previousSlot, hints: [older, newerExpired] }).at).toEqual(at(20 * SECOND));
  });

  it('takes precedence over failure backoff when it waits longer', () => {
    expect(run({ spec, now, previousSlot, consecutiveFailures: 1, hints: [hint('interval', { intervalMs: 10 * MINUTE })] })).toMatchObject({ at: at(10 * MINUTE), source: 'hint_interval' });
  });

  it('never makes a failing endpoint run sooner than its own backoff', () => {
    const plan = run({ spec, now, previousSlot, consecutiveFailures: 4, hints: [hint('interval', { intervalMs: 10 * SECOND })] });
    expect(plan.source).toBe('backoff');
    expect(plan.kind === 'run' && plan.at.getTime()).toBeGreaterThan(at(10 * SECOND).getTime());
    expect(plan.reason).toContain('later than the hint');
  });

  it('applies to cron endpoints too', () => {
    expect(run({ spec: cronSpec('0 * * * *'), now, previousSlot, hints: [hint('interval', { intervalMs: 5 * MINUTE })] }).at).toEqual(at(5 * MINUTE));
  });
});

describe('run_at hints', () => {
  const spec = everySpec(30 * SECOND);
  const now = at(2 * SECOND);
  const previousSlot = T0;

  it('brings the next run forward when earlier than the baseline', () => {
    const h = hint('run_at', { at: at(10 * SECOND), reason: 'new orders arrived', source: 'webhook' });
    expect(run({ spec, now, previousSlot, hints: [h] })).toEqual({
      kind: 'run',
      at: at(10 * SECOND),
      reason: `hint (webhook): run once at ${at(10 * SECOND).toISOString()}: new orders arrived`,
      source: 'hint_run_at',
    });
  });

  it('is ignored when not earlier than the baseline', () => {
    expect(run({ spec, now, previousSlot, hints: [hint('run_at', { at: at(30 * SECOND) })] }).source).toBe('baseline');
    expect(run({ spec, now, previousSlot, hints: [hint('run_at', { at: at(45 * SECOND) })] }).at).toEqual(at(30 * SECOND));
  });

  it('is ignored when at or before the previous slot (that run honoured it)', () => {
    for (const when of [previousSlot, at(-SECOND)]) {
      expect(run({ spec, now, previousSlot, hints: [hint('run_at', { at: when })] })).toMatchObject({ at: at(30 * SECOND), source: 'baseline' });
    }
  });

  it('uses the earliest of several run_at hints', () => {
    const hints = [hint('run_at', { at: at(20 * SECOND) }), hint('run_at', { at: at(10 * SECOND) }), hint('run_at', { at: at(15 * SECOND) })];
    expect(run({ spec, now, previousSlot, hints }).at).toEqual(at(10 * SECOND));
  });

  it('is clamped to previousSlot + minInterval', () => {
    const bounded = everySpec(30 * SECOND, { minIntervalMs: 5 * SECOND });
    const result = run({ spec: bounded, now: at(500), previousSlot, hints: [hint('run_at', { at: at(SECOND) })] });
    expect(result.at).toEqual(at(5 * SECOND));
    expect(result.source).toBe('hint_run_at');
    expect(result.reason).toContain('clamped to min interval 5s');
  });

  it('runs now when its time has already passed (never in the past)', () => {
    const result = run({ spec, now: at(20 * SECOND), previousSlot, hints: [hint('run_at', { at: at(15 * SECOND) })] });
    expect(result).toMatchObject({ at: at(20 * SECOND), source: 'hint_run_at' });
  });

  it('is ignored once expired', () => {
    expect(run({ spec, now, previousSlot, hints: [hint('run_at', { at: at(10 * SECOND), expiresAt: at(SECOND) })] }).source).toBe('baseline');
  });

  it('brings a cron endpoint forward on its first run', () => {
    const result = run({ spec: cronSpec('0 * * * *'), now: at(MINUTE), hints: [hint('run_at', { at: at(5 * MINUTE) })] });
    expect(result).toMatchObject({ at: at(5 * MINUTE), source: 'hint_run_at' });
  });

  it('can be earlier than an interval hint', () => {
    const hints = [hint('interval', { intervalMs: 20 * SECOND }), hint('run_at', { at: at(7 * SECOND) })];
    expect(run({ spec, now, previousSlot, hints })).toMatchObject({ at: at(7 * SECOND), source: 'hint_run_at' });
  });
});

describe('pause_until hints', () => {
  const now = at(2 * SECOND);
  const previousSlot = T0;

  it('pauses until the hint time', () => {
    const h = hint('pause_until', { at: at(HOUR), reason: 'target under maintenance', source: 'ops' });
    expect(plan({ spec: everySpec(30 * SECOND), now, previousSlot, hints: [h] })).toEqual({
      kind: 'pause',
      until: at(HOUR),
      reason: `hint (ops): pause until ${at(HOUR).toISOString()}: target under maintenance`,
      source: 'hint_pause',
    });
  });

  it('is capped at previousSlot + maxInterval', () => {
    const result = plan({ spec: everySpec(30 * SECOND, { maxIntervalMs: 10 * MINUTE }), now, previousSlot, hints: [hint('pause_until', { at: at(HOUR) })] });
    expect(result).toMatchObject({ kind: 'pause', until: at(10 * MINUTE), source: 'hint_pause' });
    expect(result.reason).toContain('clamped to max interval 10m');
  });

  it('is not capped when within maxInterval', () => {
    const result = plan({ spec: everySpec(30 * SECOND, { maxIntervalMs: 10 * MINUTE }), now, previousSlot, hints: [hint('pause_until', { at: at(5 * MINUTE) })] });
    expect(result).toMatchObject({ kind: 'pause', until: at(5 * MINUTE) });
    expect(result.reason).not.toContain('clamped');
  });

  it('caps a first-run pause at now + maxInterval', () => {
    const result = plan({ spec: everySpec(30 * SECOND, { maxIntervalMs: 10 * MINUTE }), now, hints: [hint('pause_until', { at: at(HOUR) })] });
    expect(result).toMatchObject({ kind: 'pause', until: at(10 * MINUTE, now) });
  });

  it('is ignored when maxInterval since the previous slot has already passed', () => {
    const spec = everySpec(30 * SECOND, { maxIntervalMs: 10 * MINUTE });
    const late = at(11 * MINUTE);
    expect(plan({ spec, now: late, previousSlot, hints: [hint('pause_until', { at: at(HOUR) })] }).kind).toBe('run');
  });

  it('is ignored when its time has passed or it has expired', () => {
    const spec = everySpec(30 * SECOND);
    expect(plan({ spec, now, previousSlot, hints: [hint('pause_until', { at: at(SECOND) })] })).toMatchObject({ kind: 'run', source: 'baseline' });
    expect(plan({ spec, now, previousSlot, hints: [hint('pause_until', { at: at(HOUR), expiresAt: at(SECOND) })] })).toMatchObject({ kind: 'run', source: 'baseline' });
  });

  it('beats interval and run_at hints', () => {
    const hints = [hint('interval', { intervalMs: 5 * SECOND }), hint('run_at', { at: at(3 * SECOND) }), hint('pause_until', { at: at(HOUR) })];
    expect(plan({ spec: everySpec(30 * SECOND), now, previousSlot, hints })).toMatchObject({ kind: 'pause', source: 'hint_pause' });
  });
});

describe('user pause', () => {
  const now = at(2 * SECOND);
  const previousSlot = T0;
  const spec = everySpec(30 * SECOND);

  it('pauses indefinitely when there is no end', () => {
    expect(plan({ spec, now, previousSlot, userPause: { reason: 'maintenance', until: null } })).toEqual({
      kind: 'pause',
      until: null,
      reason: 'paused by a person: maintenance',
      source: 'user',
    });
  });

  it('pauses until a future end', () => {
    expect(plan({ spec, now, previousSlot, userPause: { reason: 'deploy', until: at(HOUR) } })).toMatchObject({ kind: 'pause', until: at(HOUR), source: 'user' });
  });

  it('beats every kind of hint', () => {
    const hints = [hint('pause_until', { at: at(2 * HOUR) }), hint('run_at', { at: at(3 * SECOND) }), hint('interval', { intervalMs: 5 * SECOND })];
    expect(plan({ spec, now, previousSlot, hints, userPause: { reason: 'deploy', until: at(HOUR) } })).toMatchObject({ kind: 'pause', until: at(HOUR), source: 'user' });
  });

  it('is not capped by maxInterval', () => {
    const bounded = everySpec(30 * SECOND, { maxIntervalMs: MINUTE });
    expect(plan({ spec: bounded, now, previousSlot, userPause: { reason: 'r', until: at(HOUR) } })).toMatchObject({ kind: 'pause', until: at(HOUR) });
  });

  it('is ignored once its end has passed (or is now)', () => {
    for (const until of [at(SECOND), now]) {
      expect(plan({ spec, now, previousSlot, userPause: { reason: 'old', until } })).toMatchObject({ kind: 'run', at: at(30 * SECOND), source: 'baseline' });
    }
  });
});

describe('catch-up of missed slots', () => {
  const previousSlot = T0;

  describe('skip', () => {
    const spec = everySpec(MINUTE);

    it('skips to the next future slot, keeping the interval phase', () => {
      const result = run({ spec, now: at(5 * MINUTE + 30 * SECOND), previousSlot });
      expect(result).toEqual({
        kind: 'run',
        at: at(6 * MINUTE),
        reason: 'catch-up: skipped 5 missed slots; baseline every 1m',
        source: 'catch_up',
      });
      expect((result.at.getTime() - T0.getTime()) % MINUTE).toBe(0);
    });

    it('counts a single missed slot in the singular', () => {
      expect(run({ spec, now: at(MINUTE + 30 * SECOND), previousSlot })).toMatchObject({
        at: at(2 * MINUTE),
        reason: 'catch-up: skipped 1 missed slot; baseline every 1m',
      });
    });

    it('skips missed cron slots to the next one after now', () => {
      const result = run({ spec: cronSpec('0 * * * *'), now: at(3 * HOUR + 20 * MINUTE), previousSlot });
      expect(result).toEqual({
        kind: 'run',
        at: at(4 * HOUR),
        reason: 'catch-up: skipped 3 missed slots; baseline cron "0 * * * *" (UTC)',
        source: 'catch_up',
      });
    });

    it('skips missed cron slots in a time zone across the spring change', () => {
      const spec = cronSpec('0 9 * * *', 'Europe/Paris');
      const result = run({ spec, now: iso('2026-03-30T10:00:00Z'), previousSlot: iso('2026-03-27T08:00:00Z') });
      expect(result.at).toEqual(iso('2026-03-31T07:00:00Z'));
      expect(result.reason).toContain('skipped 3 missed slots');
    });

    it('skips after a backoff that has already elapsed', () => {
      const result = run({ spec: everySpec(30 * SECOND), now: at(5 * MINUTE + 10 * SECOND), previousSlot, consecutiveFailures: 1 });
      expect(result).toMatchObject({ at: at(5 * MINUTE + 30 * SECOND), source: 'catch_up' });
    });
  });

  describe('once', () => {
    const spec = everySpec(MINUTE, { catchUp: 'once' });

    it('runs once, now, for all the missed slots', () => {
      const now = at(5 * MINUTE + 30 * SECOND);
      expect(run({ spec, now, previousSlot })).toEqual({
        kind: 'run',
        at: now,
        reason: `catch-up: running once now for 5 missed slots since ${at(MINUTE).toISOString()}`,
        source: 'catch_up',
      });
    });

    it('runs now when a missed slot fell after the previous run started', () => {
      const now = at(5 * MINUTE + 30 * SECOND);
      expect(run({ spec, now, previousSlot, previousRunStartedAt: at(100) })).toMatchObject({ at: now, source: 'catch_up' });
    });

    it('skips to the future when every missed slot fell before the previous run started (that run covered them)', () => {
      // The run of slot T0 started late, at T0+5m10s, as the catch-up run; slots up to T0+5m are covered.
      const result = run({ spec, now: at(5 * MINUTE + 30 * SECOND), previousSlot, previousRunStartedAt: at(5 * MINUTE + 10 * SECOND) });
      expect(result).toMatchObject({ at: at(6 * MINUTE), source: 'catch_up' });
      expect(result.reason).toContain('skipped');
    });

    it('treats a slot due exactly when the previous run started as covered', () => {
      const result = run({ spec, now: at(5 * MINUTE + 30 * SECOND), previousSlot, previousRunStartedAt: at(5 * MINUTE) });
      expect(result.at).toEqual(at(6 * MINUTE));
    });

    it('runs missed cron slots once, now', () => {
      const now = at(3 * HOUR + 20 * MINUTE);
      const result = run({ spec: cronSpec('0 * * * *', 'UTC', { catchUp: 'once' }), now, previousSlot });
      expect(result).toMatchObject({ at: now, source: 'catch_up' });
      expect(result.reason).toBe(`catch-up: running once now for 3 missed slots since ${at(HOUR).toISOString()}`);
    });

    it('skips covered cron slots to the next one', () => {
      const spec = cronSpec('0 * * * *', 'UTC', { catchUp: 'once' });
      const result = run({ spec, now: at(3 * HOUR + 20 * MINUTE), previousSlot, previousRunStartedAt: at(3 * HOUR + MINUTE) });
      expect(result).toMatchObject({ at: at(4 * HOUR), source: 'catch_up' });
    });
  });

  describe('late tolerance', () => {
    const spec = everySpec(MINUTE);

    it('still runs a slot that is late by no more than the tolerance, at its own time', () => {
      expect(run({ spec, now: at(MINUTE + 2 * SECOND), previousSlot, lateToleranceMs: 5 * SECOND })).toMatchObject({ at: at(MINUTE), source: 'baseline' });
    });

    it('applies the catch-up policy beyond the tolerance', () => {
      expect(run({ spec, now: at(MINUTE + 2 * SECOND), previousSlot, lateToleranceMs: SECOND })).toMatchObject({ at: at(2 * MINUTE), source: 'catch_up' });
    });

    it('defaults to no tolerance', () => {
      expect(run({ spec, now: at(MINUTE + 1), previousSlot }).source).toBe('catch_up');
    });

    it('runs a slot due exactly now without catch-up', () => {
      expect(run({ spec, now: at(MINUTE), previousSlot })).toMatchObject({ at: at(MINUTE), source: 'baseline' });
    });
  });

  it('brings an interval hint that has fallen behind up to now', () => {
    const now = at(5 * MINUTE);
    expect(run({ spec: everySpec(MINUTE), now, previousSlot, hints: [hint('interval', { intervalMs: 30 * SECOND })] })).toMatchObject({ at: now, source: 'hint_interval' });
  });
});

describe('jitter', () => {
  const previousSlot = T0;
  const now = at(2 * SECOND);
  const spec = everySpec(30 * SECOND, { jitter: 0.1 });

  it('adds nothing when random() is 0', () => {
    const result = run({ spec, now, previousSlot, random: () => 0 });
    expect(result).toEqual({ kind: 'run', at: at(30 * SECOND), reason: 'baseline every 30s', source: 'baseline' });
  });

  it('adds just under jitter × interval when random() is 0.999', () => {
    const result = run({ spec, now, previousSlot, random: () => 0.999 });
    const delay = result.at.getTime() - at(30 * SECOND).getTime();
    expect(delay).toBe(2_997);
    expect(delay).toBeLessThan(0.1 * 30 * SECOND);
    expect(result.reason).toBe('baseline every 30s + jitter 2s997ms');
    expect(result.source).toBe('baseline');
  });

  it('scales linearly with random()', () => {
    expect(run({ spec, now, previousSlot, random: () => 0.5 }).at).toEqual(at(30 * SECOND + 1_500));
  });

  it('stays within [0, jitter × interval) for any random value', () => {
    for (let r = 0; r < 1; r += 0.0625) {
      const delay = run({ spec, now, previousSlot, random: () => r }).at.getTime() - at(30 * SECOND).getTime();
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(3_000);
    }
  });

  it('uses the gap to the following slot for cron schedules', () => {
    const result = run({ spec: cronSpec('0 * * * *', 'UTC', { jitter: 0.5 }), now, previousSlot, random: () => 0.5 });
    expect(result.at).toEqual(at(HOUR + 15 * MINUTE));
    expect(result.reason).toContain('+ jitter 15m');
  });

  it('applies to backoff, based on the interval', () => {
    expect(run({ spec, now, previousSlot, consecutiveFailures: 1, random: () => 0.5 })).toMatchObject({ at: at(MINUTE + 1_500), source: 'backoff' });
  });

  it('applies to catch-up plans', () => {
    const catchUpOnce = everySpec(30 * SECOND, { jitter: 0.1, catchUp: 'once' });
    const late = at(5 * MINUTE);
    expect(run({ spec: catchUpOnce, now: late, previousSlot, random: () => 0.5 })).toMatchObject({ at: at(1_500, late), source: 'catch_up' });
    expect(run({ spec, now: at(5 * MINUTE + 10 * SECOND), previousSlot, random: () => 0.5 })).toMatchObject({ at: at(5 * MINUTE + 30 * SECOND + 1_500), source: 'catch_up' });
  });

  it('is never applied to hint plans or the first run (random() is not even called)', () => {
    expect(run({ spec, now, previousSlot, hints: [hint('interval', { intervalMs: 10 * SECOND })], random: noRandom }).at).toEqual(at(10 * SECOND));
    expect(run({ spec, now, previousSlot, hints: [hint('run_at', { at: at(10 * SECOND) })], random: noRandom }).at).toEqual(at(10 * SECOND));
    expect(run({ spec, now, random: noRandom }).at).toEqual(now);
  });

  it('does not call random() when the endpoint has no jitter', () => {
    expect(run({ spec: everySpec(30 * SECOND), now, previousSlot, random: noRandom }).at).toEqual(at(30 * SECOND));
  });

  it('does not call random() for pauses', () => {
    expect(plan({ spec, now, previousSlot, userPause: { reason: 'r', until: null }, random: noRandom }).kind).toBe('pause');
  });
});

describe('invariants', () => {
  const now = iso('2026-03-29T01:10:00Z'); // during the Paris spring-forward morning
  const specs: EndpointSpec[] = [
    everySpec(30 * SECOND),
    everySpec(MINUTE, { catchUp: 'once', jitter: 0.5 }),
    everySpec(10 * SECOND, { minIntervalMs: 5 * SECOND, maxIntervalMs: 2 * MINUTE, jitter: 0.2 }),
    cronSpec('0 */2 * * *'),
    cronSpec('30 2 * * *', 'Europe/Paris', { catchUp: 'once' }),
    cronSpec('0 9 * * *', 'America/New_York', { maxIntervalMs: 2 * HOUR, jitter: 1 }),
  ];
  const previousSlots = [null, now, at(-1, now), at(-7 * SECOND, now), at(-3 * MINUTE, now), at(-2 * HOUR, now), at(-3 * 24 * HOUR, now)];
  const hintSets: Hint[][] = [
    [],
    [hint('interval', { intervalMs: SECOND, expiresAt: at(HOUR, now) })],
    [hint('run_at', { at: at(-MINUTE, now), expiresAt: at(HOUR, now) })],
    [hint('run_at', { at: at(3 * SECOND, now), expiresAt: at(HOUR, now) })],
    [hint('pause_until', { at: at(HOUR, now), expiresAt: at(2 * HOUR, now) })],
    [hint('interval', { intervalMs: HOUR, expiresAt: at(-1, now) })],
  ];
  const cases: { spec: EndpointSpec; previousSlot: Date | null; hints: Hint[]; consecutiveFailures: number }[] = [];
  for (const spec of specs) {
    for (const previousSlot of previousSlots) {
      for (const hints of hintSets) {
        for (const consecutiveFailures of [0, 7]) cases.push({ spec, previousSlot, hints, consecutiveFailures });
      }
    }
  }

  it('never plans a run in the past, nor a pause that has already ended', () => {
    for (const c of cases) {
      for (const r of [0, 0.999]) {
        const result = planNextRun({ ...c, now, random: () => r });
        if (result.kind === 'run') {
          expect(result.at.getTime(), JSON.stringify({ c, r, result })).toBeGreaterThanOrEqual(now.getTime());
        } else {
          expect(result.until === null || result.until > now, JSON.stringify({ c, r, result })).toBe(true);
        }
      }
    }
  });

  it('gives a non-empty reason that names the source', () => {
    const patterns: Record<string, RegExp> = {
      baseline: /^baseline /,
      first_run: /^first run of /,
      backoff: /^backoff after \d+ consecutive failures?: /,
      catch_up: /^catch-up: /,
      hint_interval: /^hint \(planner\): every /,
      hint_run_at: /^hint \(planner\): run once at /,
      hint_pause: /^hint \(planner\): pause until /,
      user: /^paused by a person: /,
    };
    const seen = new Set<string>();
    for (const c of cases) {
      const result = planNextRun({ ...c, now, random: () => 0.5 });
      seen.add(result.source);
      expect(result.reason.trim().length).toBeGreaterThan(0);
      expect(result.reason).toMatch(patterns[result.source]!);
    }
    const paused = planNextRun({ ...cases[0]!, now, userPause: { reason: 'r', until: null }, random: () => 0 });
    seen.add(paused.source);
    expect(paused.reason).toMatch(patterns.user!);
    expect([...seen].sort()).toEqual(Object.keys(patterns).sort());
  });

  it('is pure: the same input gives the same plan', () => {
    for (const c of cases.slice(0, 50)) {
      expect(planNextRun({ ...c, now, random: () => 0.3 })).toEqual(planNextRun({ ...c, now, random: () => 0.3 }));
    }
  });
});

describe('catch-up cost and coverage', () => {
  it('describes a long cron outage without walking every slot', () => {
    const started = performance.now();
    const result = run({ spec: cronSpec('* * * * *'), previousSlot: T0, now: at(2 * 24 * HOUR) });
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(result.source).toBe('catch_up');
    expect(result.reason).toContain('skipped more than 100 missed slots');
  });

  it('once: runs again only for slots that fell due after the previous run started', () => {
    const spec = cronSpec('0 * * * *', 'UTC', { catchUp: 'once' });
    // The previous run (of a slot 5h old) started 10 min ago: the slots before it are covered.
    const covered = run({ spec, previousSlot: at(-5 * HOUR), previousRunStartedAt: at(-10 * MINUTE), now: T0 });
    expect(covered.source).toBe('catch_up');
    expect(covered.at.getTime()).toBe(at(HOUR).getTime());
    // It started 2h ago and a slot fell due since: run once now.
    const uncovered = run({ spec, previousSlot: at(-5 * HOUR), previousRunStartedAt: at(-2 * HOUR), now: at(1) });
    expect(uncovered.at.getTime()).toBe(at(1).getTime());
  });
});

describe('jitter and maxInterval', () => {
  it('never stretches a gap past maxInterval', () => {
    const spec = everySpec(30 * SECOND, { jitter: 0.1, maxIntervalMs: 30 * SECOND });
    const result = run({ spec, previousSlot: T0, now: at(1), random: () => 0.99 });
    expect(result.at.getTime()).toBe(at(30 * SECOND).getTime());
  });
});
