/**
 * The past-slot loop of the DST issue: planned from a time inside the repeated hour of a fall-back
 * (after downtime, or an endpoint created, edited, resumed or hinted then), the next baseline slot
 * came out before that time in zones west of UTC, and a node spun: claim → run now (catchUp: once)
 * or claim → skip → plan (catchUp: skip), thousands of times an hour. These probes plan from every
 * 30 s around each 2026 DST change of four zones and simulate a node planning, claiming and running
 * from inside the repeated hour.
 */
import { describe, it, expect } from 'vitest';
import { nextBaselineSlot, planNextRun, type EndpointSpec } from '@tickwise/machines';
import { SECOND, MINUTE, HOUR, iso, cronSpec } from './governor-support.ts';

/** The 2026 offset changes (UTC) of each zone: spring forward, fall back. */
const CHANGES: Record<string, { spring: string; fall: string }> = {
  'America/New_York': { spring: '2026-03-08T07:00:00Z', fall: '2026-11-01T06:00:00Z' },
  'Europe/Paris': { spring: '2026-03-29T01:00:00Z', fall: '2026-10-25T01:00:00Z' },
  'Australia/Lord_Howe': { spring: '2026-10-03T15:30:00Z', fall: '2026-04-04T15:00:00Z' },
  // No DST: the same instants as New York's, as a control.
  'Asia/Kolkata': { spring: '2026-03-08T07:00:00Z', fall: '2026-11-01T06:00:00Z' },
};
const CRONS = ['*/15 * * * *', '0 * * * *', '30 1 * * *', '30 2 * * *', '0,30 1-2 * * *', '*/20 * * * * *'];
const GRACE = 10 * SECOND;

function probes(change: string): Date[] {
  const center = iso(change).getTime();
  const times: Date[] = [];
  for (let t = center - 2 * HOUR; t <= center + 2 * HOUR; t += 30 * SECOND) times.push(new Date(t));
  return times;
}

const cases = Object.entries(CHANGES).flatMap(([zone, changes]) =>
  CRONS.flatMap((cron) => (['spring', 'fall'] as const).map((kind) => ({ zone, cron, kind, change: changes[kind] }))),
);

describe('planning from a time around a DST change never gives a past slot', () => {
  it.each(cases)('$zone $kind, $cron: nextBaselineSlot is strictly after the time it plans from', ({ zone, cron, change }) => {
    const spec = cronSpec(cron, zone);
    const past: string[] = [];
    for (const t of probes(change)) {
      const slot = nextBaselineSlot(spec, t);
      if (slot.getTime() <= t.getTime()) past.push(`${t.toISOString()} → ${slot.toISOString()}`);
    }
    expect(past.slice(0, 3), `slots at or before the time planned from: ${past.length}`).toEqual([]);
  });

  it.each(cases)('$zone $kind, $cron: a first plan, and a plan after downtime, are not in the past', ({ zone, cron, change }) => {
    const bad: string[] = [];
    for (const catchUp of ['skip', 'once'] as const) {
      const spec = cronSpec(cron, zone, { catchUp });
      for (const now of probes(change)) {
        for (const previousSlot of [null, new Date(now.getTime() - 3 * HOUR)]) {
          const plan = planNextRun({ spec, now, previousSlot, consecutiveFailures: 0, hints: [], lateToleranceMs: GRACE, random: () => 0 });
          if (plan.kind !== 'run') continue;
          // Planned from now, the slot is strictly later; planned from an older slot it may be due
          // now (a slot at now, or a catch-up under `once`), never earlier.
          const ok = previousSlot === null ? plan.at > now : plan.at >= now && plan.at > previousSlot;
          if (!ok) bad.push(`${catchUp} now=${now.toISOString()} previous=${previousSlot?.toISOString() ?? 'none'} → ${plan.at.toISOString()} (${plan.reason})`);
        }
      }
    }
    expect(bad.slice(0, 3), `past plans: ${bad.length}`).toEqual([]);
  }, 30_000); // ~2,000 plans, each counting up to 100 missed slots of a seconds cron
});

/**
 * A node planning, claiming and running one endpoint: it sleeps until the planned slot, skips a
 * slot more than the grace late under `catchUp: skip` (as admission does), else runs it (50 ms),
 * then plans from that slot. Returns how many runs and skips it made in the window.
 */
function simulateNode(spec: EndpointSpec, start: Date, lastSlotBeforeDowntime: Date, windowMs: number) {
  let now = start.getTime();
  const end = now + windowMs;
  let previousSlot = lastSlotBeforeDowntime;
  let previousRunStartedAt: Date | null = lastSlotBeforeDowntime;
  let runs = 0;
  let skips = 0;
  while (now < end && runs + skips < 1_000) {
    const plan = planNextRun({ spec, now: new Date(now), previousSlot, previousRunStartedAt, consecutiveFailures: 0, hints: [], lateToleranceMs: GRACE, random: () => 0 });
    if (plan.kind !== 'run') throw new Error(`unexpected ${plan.kind}`);
    if (plan.at.getTime() <= previousSlot.getTime()) throw new Error(`planned ${plan.at.toISOString()} from slot ${previousSlot.toISOString()}, not after it`);
    now = Math.max(now, plan.at.getTime());
    if (now >= end) break;
    if (spec.catchUp === 'skip' && now - plan.at.getTime() > GRACE) {
      skips++;
      now += 5;
    } else {
      runs++;
      previousRunStartedAt = new Date(now);
      now += 50;
    }
    previousSlot = plan.at;
  }
  return { runs, skips };
}

describe('a node that plans from inside the repeated hour does not spin', () => {
  // 01:10 EST on 2026-11-01, the second 01:xx hour in New York; downtime since 00:45 EDT.
  const start = iso('2026-11-01T06:10:00Z');
  const downSince = iso('2026-11-01T04:45:00Z');

  // Expected: one catch-up run for the missed slots under `once`, then one run per real slot
  // (06:15Z, 06:30Z and 06:45Z for every 15 minutes; 01:30 and 02:00 are fixed-time and already
  // past or after the window), and no skip: the skip policy skips in planning, not by claiming.
  it.each([
    { cron: '*/15 * * * *', catchUp: 'once', runs: 4 },
    { cron: '*/15 * * * *', catchUp: 'skip', runs: 3 },
    { cron: '0 * * * *', catchUp: 'once', runs: 1 },
    { cron: '30 1 * * *', catchUp: 'once', runs: 1 },
    { cron: '30 1 * * *', catchUp: 'skip', runs: 0 },
    { cron: '0,30 1-2 * * *', catchUp: 'once', runs: 1 },
    { cron: '0,30 1-2 * * *', catchUp: 'skip', runs: 0 },
    { cron: '*/20 * * * * *', catchUp: 'once', runs: 150 },
    { cron: '*/20 * * * * *', catchUp: 'skip', runs: 149 },
  ] as const)('New York, $cron, catchUp $catchUp: $runs runs in 50 minutes, no skip', ({ cron, catchUp, runs }) => {
    const spec = cronSpec(cron, 'America/New_York', { catchUp });
    expect(simulateNode(spec, start, downSince, 50 * MINUTE)).toEqual({ runs, skips: 0 });
  });
});
