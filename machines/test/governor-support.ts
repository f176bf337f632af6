/** Fixtures shared by the governor-*.test.ts files: fixed times, endpoint specs, and planNextRun wrappers. */
import { planNextRun, type EndpointSpec, type Hint, type Plan, type PlanInput } from '@tickwise/machines';

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

/** A fixed Monday morning; no test reads the wall clock. */
export const T0 = new Date('2026-01-05T10:00:00.000Z');
export const at = (offsetMs: number, from: Date = T0) => new Date(from.getTime() + offsetMs);
export const iso = (text: string) => new Date(text);

export function everySpec(everyMs: number, extra: Partial<EndpointSpec> = {}): EndpointSpec {
  return { url: 'http://localhost:9999/x', method: 'GET', headers: {}, schedule: { kind: 'every', everyMs }, jitter: 0, timeoutMs: 10_000, catchUp: 'skip', ...extra };
}

export function cronSpec(cron: string, timezone = 'UTC', extra: Partial<EndpointSpec> = {}): EndpointSpec {
  return { url: 'http://localhost:9999/x', method: 'GET', headers: {}, schedule: { kind: 'cron', cron, timezone }, jitter: 0, timeoutMs: 10_000, catchUp: 'skip', ...extra };
}

export const noRandom = () => {
  throw new Error('random() must not be called here');
};

export function plan(input: Partial<PlanInput> & Pick<PlanInput, 'spec' | 'now'>): Plan {
  return planNextRun({ previousSlot: null, consecutiveFailures: 0, hints: [], random: noRandom, ...input });
}

/** The plan, asserting it is a run. */
export function run(input: Partial<PlanInput> & Pick<PlanInput, 'spec' | 'now'>): Extract<Plan, { kind: 'run' }> {
  const result = plan(input);
  if (result.kind !== 'run') throw new Error(`expected a run plan, got ${JSON.stringify(result)}`);
  return result;
}

let hintCount = 0;
export function hint(kind: Hint['kind'], fields: Partial<Hint> = {}): Hint {
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
export function localTime(date: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(date);
}
