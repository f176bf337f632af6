/**
 * Cron times in a time zone, daylight saving time included, by cronie's convention (the one
 * Healthchecks.io's cronsim implements):
 *
 * - A **fixed-time** job, whose minute and hour fields both do not start with `*` (`30 2 * * *`,
 *   `0,30 1-3 * * *`, `@daily`), follows the wall clock. A time the clocks skip runs once, at the
 *   first real instant after the gap (02:30 on a spring-forward night at 02:00 → 03:00 runs at
 *   03:00); a time the clocks show twice runs once, at its first pass.
 * - Any other job (`0 * * * *`, `*\/15 * * * *`, `*\/20 * * * * *`) runs at every real instant
 *   whose local time matches: through a repeated hour it runs in both passes, and nothing is due
 *   in a gap, so it neither loses nor doubles a run.
 *
 * Six-field expressions (seconds first) are classified by the same two fields. croner (11) parses
 * and matches the fields, always in UTC, where no time is skipped or repeated; this module maps
 * those wall times to instants itself, so croner's own DST handling is never relied on and the
 * process's TZ never matters.
 *
 * The contract of `nextCronTime`: the cron times of an expression and zone are a fixed set of
 * instants, and it answers the first one strictly after `after`. So an answer is never at or
 * before the time it was asked from, asking from any instant before an answer gives that answer,
 * and chaining answers visits every cron time once.
 */
import { Cron } from 'croner';
import { TickwiseError } from '@tickwise/platform/errors';
import { firstOffsetChange, instantsOfWallTime, zoneOffsetAt } from './zone-time.ts';

const DAY_MS = 86_400_000;
/** Bounds the searches below; reaching one means a bug, reported instead of looping. */
const MAX_STEPS = 10_000;

/** croner's nicknames, expanded here too so the fields can be classified. */
const NICKNAMES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

interface CompiledCron {
  /** croner at UTC offset 0: its times are wall times, with no DST to skip or repeat. */
  wall: Cron;
  fixedTime: boolean;
}

/**
 * Five or six fields (as croner 9 read them: no year field); `5/5` and `/10` steps, which croner 9
 * accepted and stored specs may hold, stay accepted; day-of-month and day-of-week combine with OR
 * when neither is `*`, as in cronie (croner's default).
 */
function compile(pattern: string): CompiledCron {
  const expression = NICKNAMES[pattern.trim().toLowerCase()] ?? pattern;
  const wall = new Cron(expression, { utcOffset: 0, paused: true, mode: '5-or-6-parts', sloppyRanges: true });
  const fields = expression.trim().split(/\s+/);
  const [minute, hour] = fields.length === 6 ? [fields[1]!, fields[2]!] : [fields[0]!, fields[1]!];
  // cronie's test: a field is wild when it starts with `*` (`?` and a bare `/n` mean `*` here).
  const wild = (field: string) => /^[*?/]/.test(field);
  return { wall, fixedTime: !wild(minute) && !wild(hour) };
}

const compiled = new Map<string, CompiledCron>();
function compiledOf(pattern: string): CompiledCron {
  let cron = compiled.get(pattern);
  if (!cron) {
    if (compiled.size >= 1_000) compiled.clear();
    cron = compile(pattern);
    compiled.set(pattern, cron);
  }
  return cron;
}

/** Why croner refuses an expression, or null when it is valid and fires at least once. Pure; executes nothing. */
export function cronProblem(pattern: string): string | null {
  try {
    return compiledOf(pattern).wall.nextRun(new Date(0)) ? null : 'never fires';
  } catch (error) {
    return (error as Error).message;
  }
}

/** Whether the expression follows the wall clock (fixed-time) or real time. Pure; executes nothing. */
export function isFixedTimeCron(pattern: string): boolean {
  return compiledOf(pattern).fixedTime;
}

/** Whether the cron names this wall time (a zone's local time written as UTC). Pure; executes nothing. */
export function cronMatchesWallTime(pattern: string, wall: number): boolean {
  return wallAfter(compiledOf(pattern), wall - 1) === wall;
}

/** The first wall time matching the cron strictly after `wall`, or null. */
function wallAfter(cron: CompiledCron, wall: number): number | null {
  return cron.wall.nextRun(new Date(wall))?.getTime() ?? null;
}

/** A fixed-time job: the next wall time, mapped to its first pass, or the end of the gap it falls in. */
function nextWallClockTime(cron: CompiledCron, timeZone: string, after: number): number | null {
  const offset = zoneOffsetAt(timeZone, after);
  let from = after + offset;
  // Inside the second pass of a repeated range the first pass is over, wall times up to the end of
  // the range included: continue from that end.
  const earlier = zoneOffsetAt(timeZone, after - DAY_MS);
  if (earlier > offset) {
    const change = firstOffsetChange(timeZone, after - DAY_MS, after, earlier);
    if (change !== null && after < change + (earlier - offset)) from = change + earlier - 1;
  }
  for (let wall = wallAfter(cron, from), step = 0; wall !== null && step < MAX_STEPS; wall = wallAfter(cron, wall), step++) {
    const { instants, gapEnd } = instantsOfWallTime(timeZone, wall);
    const instant = instants[0] ?? gapEnd;
    if (instant !== null && instant !== undefined && instant > after) return instant;
  }
  return null;
}

/** Any other job: the first real instant whose wall time matches, segment by constant offset. */
function nextRealTime(cron: CompiledCron, timeZone: string, after: number): number | null {
  let from = after + 1;
  for (let step = 0; step < MAX_STEPS; step++) {
    const offset = zoneOffsetAt(timeZone, from);
    const wall = wallAfter(cron, from + offset - 1);
    if (wall === null) return null;
    const instant = wall - offset;
    const change = firstOffsetChange(timeZone, from, instant, offset);
    if (change === null) return instant;
    from = change; // the offset changed before that instant: search again from the change
  }
  return null;
}

/**
 * The first cron time strictly after `after`, by the rules at the top of this file. Throws a
 * TickwiseError for an invalid expression (invalid_argument), for one with no time after `after`
 * (failed_precondition), and, rather than answer a time that is not after `after`, if the search
 * ever found one (internal). Pure; executes nothing.
 */
export function nextCronTime(pattern: string, timeZone: string, after: Date): Date {
  let cron: CompiledCron;
  try {
    cron = compiledOf(pattern);
  } catch (error) {
    throw new TickwiseError('invalid_argument', `invalid cron expression "${pattern}": ${(error as Error).message}`, { reason: 'invalid_cron' });
  }
  const afterMs = after.getTime();
  const next = cron.fixedTime ? nextWallClockTime(cron, timeZone, afterMs) : nextRealTime(cron, timeZone, afterMs);
  if (next === null) throw new TickwiseError('failed_precondition', `cron "${pattern}" has no run after ${after.toISOString()}`, { reason: 'cron_exhausted' });
  if (!(next > afterMs)) {
    throw new TickwiseError('internal', `cron "${pattern}" (${timeZone}) answered ${new Date(next).toISOString()}, not after ${after.toISOString()}`, { reason: 'cron_not_after' });
  }
  return new Date(next);
}
