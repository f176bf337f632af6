/** Fixtures shared by the heuristic-*.unit.test.ts files: a fixed clock, endpoint specs, runs, pictures and hints. */
import type { EndpointSpec, Hint } from '@tickwise/machines';
import { baselineIntervalMs, type EndpointPicture, type RecentRun } from '../../src/analysis/index.ts';

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** A fixed time; no test reads the wall clock. */
export const NOW = new Date('2026-11-24T09:00:00.000Z');
export const ago = (ms: number) => new Date(NOW.getTime() - ms);
export const ahead = (ms: number) => new Date(NOW.getTime() + ms);

export function everySpec(everyMs: number, extra: Partial<EndpointSpec> = {}): EndpointSpec {
  return { url: 'http://localhost:9999/x', method: 'GET', headers: {}, schedule: { kind: 'every', everyMs }, jitter: 0, timeoutMs: 10 * SECOND, catchUp: 'skip', ...extra };
}

export function cronSpec(cron: string, timezone: string, extra: Partial<EndpointSpec> = {}): EndpointSpec {
  return { url: 'http://localhost:9999/x', method: 'GET', headers: {}, schedule: { kind: 'cron', cron, timezone }, jitter: 0, timeoutMs: 10 * SECOND, catchUp: 'skip', ...extra };
}

export const spec10s = everySpec(10 * SECOND);

export const ok = (durationMs = 100): Partial<RecentRun> => ({ status: 'succeeded', httpStatus: 200, durationMs });
export const fail = (httpStatus: number | null = 500, extra: Partial<RecentRun> = {}): Partial<RecentRun> => ({
  status: 'failed',
  httpStatus,
  errorKind: httpStatus === null ? 'timeout' : 'http_status',
  ...extra,
});

/** Runs one baseline apart, the newest finished a second ago; streaks counted from the newest. */
export function picture(spec: EndpointSpec, runs: Partial<RecentRun>[], extra: Partial<EndpointPicture> = {}): EndpointPicture {
  const baseline = baselineIntervalMs(spec, NOW);
  const recent: RecentRun[] = runs.map((run, index) => ({
    runId: `run-${index}`,
    status: 'succeeded',
    httpStatus: 200,
    durationMs: 100,
    latenessMs: 0,
    errorKind: null,
    retryAfterMs: null,
    finishedAt: ago(SECOND + (runs.length - 1 - index) * baseline),
    lastAttempt: true,
    ...run,
  }));
  let failures = 0;
  let successes = 0;
  for (const run of [...recent].reverse()) {
    if (run.status === 'failed' && !run.lastAttempt) continue;
    if (run.status === 'failed' && successes === 0) failures++;
    else if (run.status === 'succeeded' && failures === 0) successes++;
    else break;
  }
  return {
    endpointId: 'endpoint-1',
    jobId: 'job-1',
    spec,
    baselineIntervalMs: baseline,
    recent,
    consecutiveFailures: failures,
    consecutiveSuccesses: successes,
    activeHints: [],
    trigger: 'periodic',
    now: NOW,
    ...extra,
  };
}

let hintCount = 0;
export function hint(kind: Hint['kind'], fields: Partial<Hint> = {}): Hint {
  hintCount++;
  return { id: `hint-${hintCount}`, kind, reason: `reason ${hintCount}`, source: 'planner:heuristic', createdAt: ago(MINUTE), expiresAt: ahead(HOUR), ...fields };
}

export const times = <T>(count: number, value: T): T[] => Array.from({ length: count }, () => value);
