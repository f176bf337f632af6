import { describeSchedule } from '@tickwise/machines';
import { formatDuration } from '@tickwise/platform';
import { describeOutcome, isPlannerHint, liveHints } from './bounds.ts';
import type { ToolBounds } from './llm-tools.ts';
import type { EndpointPicture, RecentRun } from './types.ts';

/** Runs listed one by one in the prompt; the rest only count in the figures. */
export const PROMPT_RUNS = 20;
/** Hints listed in the prompt. */
export const PROMPT_HINTS = 8;
const REASON_CHARS = 120;

export const SYSTEM_PROMPT = [
  'You are the planner of Tickwise, an HTTP job scheduler. You look at one endpoint and decide whether',
  'to change when it runs, by calling tools. Answer with tool calls only.',
  'Every change is a hint that expires; the scheduler clamps hints to the endpoint bounds.',
  '- The target answered 429 or 503 with Retry-After: pause_until the time it asked for.',
  '- Failures in a row: slow down with propose_interval (double the interval per extra failure).',
  '- Runs that take most of the interval or come close to the timeout: slow down.',
  '- The endpoint recovered and the planner has hints in force: clear_hints.',
  '- Nothing calls for a change: keep_schedule.',
  'Stay within the bounds given. Never go faster than the floor. Keep each reason to one short sentence:',
  'people read it in the endpoint history. Do not combine clear_hints or keep_schedule with other calls.',
].join('\n');

/**
 * A compact summary of the picture for the model: schedule, bounds, figures, the newest runs and
 * the live hints. Leaves out the URL, headers and body (they may carry secrets). Bounded in size
 * whatever the picture holds. Pure.
 */
export function describePicture(picture: EndpointPicture, bounds: ToolBounds): string {
  const { spec, now } = picture;
  const lines = [
    `now: ${now.toISOString()} (analysis triggered by: ${picture.trigger})`,
    `schedule: ${describeSchedule(spec.schedule)}; baseline gap ${seconds(picture.baselineIntervalMs)}; timeout ${seconds(spec.timeoutMs)}`,
    `bounds: interval_seconds ${bounds.floorMs / 1000}..${bounds.ceilingMs / 1000}` +
      `${spec.minIntervalMs === undefined ? ' (no minInterval: the floor is the baseline)' : ''}; ` +
      `propose_next_time at ${bounds.earliestRun.toISOString()}..${bounds.horizon.toISOString()}; pause_until until at most ${bounds.horizon.toISOString()}; ttl_seconds 60..604800`,
    `streaks: ${picture.consecutiveFailures} consecutive failures, ${picture.consecutiveSuccesses} consecutive successes`,
    figures(picture.recent),
  ];
  const shown = picture.recent.slice(-PROMPT_RUNS);
  lines.push(`runs, newest last (${shown.length} of ${picture.recent.length}); ago | outcome | duration | lateness | retry-after:`);
  for (const run of shown) lines.push(`  ${runLine(run, now)}`);
  const hints = liveHints(picture).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  lines.push(hints.length === 0 ? 'hints in force: none' : `hints in force (${Math.min(hints.length, PROMPT_HINTS)} of ${hints.length}, newest first):`);
  for (const hint of hints.slice(0, PROMPT_HINTS)) {
    const value = hint.kind === 'interval' ? `every ${seconds(hint.intervalMs ?? 0)}` : `${hint.kind === 'run_at' ? 'run once at' : 'pause until'} ${hint.at?.toISOString() ?? '?'}`;
    const owner = isPlannerHint(hint) ? 'planner' : "a person's (leave it alone)";
    lines.push(`  ${hint.kind}: ${value}, until ${hint.expiresAt.toISOString()}, ${owner}, reason ${JSON.stringify(clip(hint.reason))}`);
  }
  return lines.join('\n');
}

function figures(runs: readonly RecentRun[]): string {
  if (runs.length === 0) return 'runs: none yet';
  const durations = runs.map((run) => run.durationMs).sort((a, b) => a - b);
  const failed = runs.filter((run) => run.status === 'failed').length;
  const at = (share: number) => durations[Math.min(durations.length - 1, Math.floor(share * durations.length))]!;
  return `last ${runs.length} runs: ${failed} failed; duration median ${formatDuration(at(0.5))}, p90 ${formatDuration(at(0.9))}, max ${formatDuration(durations.at(-1)!)}`;
}

function runLine(run: RecentRun, now: Date): string {
  const outcome = run.status === 'succeeded' ? `ok${run.httpStatus !== null ? ` ${run.httpStatus}` : ''}` : `FAILED ${clip(describeOutcome(run), 40)}`;
  const ago = formatDuration(Math.max(0, now.getTime() - run.finishedAt.getTime()));
  const retry = run.retryAfterMs !== null ? formatDuration(run.retryAfterMs) : '-';
  return `${ago} | ${outcome} | ${formatDuration(run.durationMs)} | ${formatDuration(run.latenessMs)} | ${retry}`;
}

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

function clip(text: string, max = REASON_CHARS): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
