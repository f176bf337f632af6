/**
 * Cron times across DST changes against cronsim's answers (fixtures/dst/cases.json, written by
 * fixtures/dst/generate.py: see its header for what it asks and the two places it corrects
 * cronsim), in this process and in child processes started with other TZ values.
 *
 * Why child processes for TZ: a node reads TZ from its environment when it starts, and that is
 * what must not matter. Assigning process.env.TZ inside the test would depend on Node re-reading it
 * at runtime and on vitest's pool (worker threads share one process's clock settings); a child
 * started with TZ=... is exactly a node deployed with that TZ, and it reports the offset its own
 * Date sees, so the test knows the setting took.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { nextCronTime } from '@tickwise/machines';
import { answersOf, readCases } from './fixtures/dst/answers.ts';

const cases = readCases();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ANSWERS = fileURLToPath(new URL('./fixtures/dst/answers.ts', import.meta.url));

describe('cron across DST, against cronsim', () => {
  it('covers the four zones, both changes, starts inside repeated hours, and seconds', () => {
    expect(new Set(cases.map((c) => c.timezone))).toEqual(new Set(['Europe/Paris', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata']));
    expect(cases.length).toBeGreaterThanOrEqual(100);
    expect(cases.filter((c) => c.name.startsWith('new york repeated hour') && c.fromLocal.endsWith('-05:00')).length).toBeGreaterThanOrEqual(10);
    expect(cases.some((c) => c.cron.split(' ').length === 6)).toBe(true);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(answersOf(c), `${c.cron} (${c.timezone}) from ${c.fromLocal}`).toEqual(c.expected);
  });
});

describe('cron across DST does not depend on the process TZ', () => {
  const zones: [string, number][] = [
    ['UTC', 0],
    ['America/New_York', 240],
    ['Asia/Kolkata', -330],
    ['Australia/Lord_Howe', -630],
  ];
  it.each(zones)('TZ=%s: every case gives cronsim\'s answers', (tz, offsetMinutes) => {
    const child = spawnSync(process.execPath, ['bin/run-ts.mjs', ANSWERS], { cwd: ROOT, env: { ...process.env, TZ: tz }, encoding: 'utf8', timeout: 60_000 });
    expect(child.status, child.stderr).toBe(0);
    const result = JSON.parse(child.stdout) as { tz: string; offsetMinutes: number; answers: Record<string, string[]> };
    // The child's own Date saw the zone (its offset on 2026-07-01), so TZ took effect there.
    expect(result).toMatchObject({ tz, offsetMinutes });
    const wrong = cases.filter((c) => JSON.stringify(result.answers[c.name]) !== JSON.stringify(c.expected)).map((c) => c.name);
    expect(wrong).toEqual([]);
  });
});

describe('the contract: the first cron time strictly after the time asked from', () => {
  const zones = ['America/New_York', 'Europe/Paris', 'Australia/Lord_Howe', 'Asia/Kolkata'];
  const crons = ['*/15 * * * *', '0 * * * *', '45 * * * *', '30 1 * * *', '30 2 * * *', '0,30 1-2 * * *', '*/20 * * * * *', '0 0-23/2 * * *', '* 1 * * *'];
  // Every 7 minutes and 13 seconds across the weekends of the 2026 changes.
  const windows = [['2026-03-07T00:00:00Z', '2026-03-09T12:00:00Z'], ['2026-03-28T00:00:00Z', '2026-03-30T00:00:00Z'], ['2026-04-04T00:00:00Z', '2026-04-05T12:00:00Z'], ['2026-10-03T00:00:00Z', '2026-10-04T12:00:00Z'], ['2026-10-24T12:00:00Z', '2026-10-26T00:00:00Z'], ['2026-10-31T12:00:00Z', '2026-11-02T12:00:00Z']] as const;

  it.each(zones)('%s: strictly after, and the same answer from any time before it', (zone) => {
    const problems: string[] = [];
    for (const cron of crons) {
      for (const [start, end] of windows) {
        let previous: { from: number; answer: number } | null = null;
        for (let t = Date.parse(start); t < Date.parse(end); t += 7 * 60_000 + 13_000) {
          const answer = nextCronTime(cron, zone, new Date(t)).getTime();
          if (answer <= t) problems.push(`${cron} from ${new Date(t).toISOString()}: ${new Date(answer).toISOString()}`);
          // A set of instants: asked again before the previous answer, the answer is the same.
          if (previous && t < previous.answer && answer !== previous.answer) problems.push(`${cron}: from ${new Date(previous.from).toISOString()} → ${new Date(previous.answer).toISOString()}, from ${new Date(t).toISOString()} → ${new Date(answer).toISOString()}`);
          previous = { from: t, answer };
        }
      }
    }
    expect(problems.slice(0, 5), `${problems.length} problems`).toEqual([]);
  });
});
