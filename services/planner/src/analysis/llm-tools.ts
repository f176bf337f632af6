import { formatDuration } from '@tickwise/platform';
import { z } from 'zod';
import type OpenAI from 'openai';
import { asksToWait, intervalBounds, manualHint, MAX_TTL_MS, MIN_TTL_MS, retryAfterUntil } from './bounds.ts';
import type { EndpointPicture, HintProposal } from './types.ts';

const reason = z.string().min(1).max(300).describe('One short sentence a person reads in the endpoint history.');
/** ISO times are checked by hand: zod's datetime pattern would cost the model ~150 tokens per field. */
const isoTime = (what: string) => z.string().min(1).max(40).describe(`${what}, ISO 8601 with a time zone, e.g. 2026-11-24T09:05:00Z`);

/** The tools offered to the model, with the schema their arguments must match. */
export const TOOL_SCHEMAS = {
  propose_interval: z.strictObject({
    interval_seconds: z.number().positive().describe('Run every this many seconds while the hint lives.'),
    ttl_seconds: z.number().positive().describe('How long the hint lives, in seconds.'),
    reason,
  }),
  propose_next_time: z.strictObject({
    at: isoTime('When to run once'),
    ttl_seconds: z.number().positive().optional().describe('How long the hint stays after `at`, in seconds (default 600).'),
    reason,
  }),
  pause_until: z.strictObject({ until: isoTime('End of the pause'), reason }),
  clear_hints: z.strictObject({ reason }),
  keep_schedule: z.strictObject({ reason }),
} as const;

export type ToolName = keyof typeof TOOL_SCHEMAS;
export const TOOL_NAMES = Object.keys(TOOL_SCHEMAS) as ToolName[];

const DESCRIPTIONS: Record<ToolName, string> = {
  propose_interval: 'Run the endpoint at another interval for a while (slower on trouble, faster only down to the floor).',
  propose_next_time: 'Run the endpoint once at a given time (e.g. an early probe after a backoff).',
  pause_until: 'Do not run the endpoint before a given time (e.g. the target asked to wait).',
  clear_hints: "Remove the planner's own hints: back to the baseline schedule. A person's hints stay.",
  keep_schedule: 'Change nothing.',
};

/** The `tools` field of every request, built once. */
export const TOOL_DEFINITIONS: OpenAI.Chat.ChatCompletionFunctionTool[] = TOOL_NAMES.map((name) => {
  const { $schema: _ignored, ...parameters } = z.toJSONSchema(TOOL_SCHEMAS[name]) as Record<string, unknown>;
  return { type: 'function', function: { name, description: DESCRIPTIONS[name], parameters } };
});

/** One checked tool call: its proposal (null for keep_schedule) or why it is refused. */
export type CheckedCall =
  | { ok: true; name: ToolName; arguments: unknown; proposal: HintProposal | null }
  | { ok: false; name: string; arguments: unknown; error: string };

/** Room the model may move in for this endpoint, stated in its prompt and enforced on its calls. */
export interface ToolBounds {
  floorMs: number;
  ceilingMs: number;
  /** The latest a pause or a one-shot run may be. */
  horizon: Date;
  /** The earliest a one-shot run may be: the last run's end plus the floor. */
  earliestRun: Date;
}

/** Pure. */
export function toolBounds(picture: EndpointPicture): ToolBounds {
  const { floorMs, ceilingMs } = intervalBounds(picture);
  const now = picture.now.getTime();
  let horizon = now + ceilingMs;
  const latest = picture.recent.at(-1);
  if (asksToWait(latest)) horizon = Math.max(horizon, retryAfterUntil(picture, latest).until.getTime());
  const earliestRun = Math.max(now, latest ? latest.finishedAt.getTime() + floorMs : now);
  return { floorMs, ceilingMs, horizon: new Date(horizon), earliestRun: new Date(earliestRun) };
}

const MAX_ARGUMENT_CHARS = 2_000;
/** How long a one-shot hint stays after its time by default. */
const RUN_AT_GRACE_MS = 10 * 60_000;
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

function parseTime(field: string, text: string): Date | string {
  const ms = ISO_WITH_ZONE.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(ms) ? `${field} "${text}" is not an ISO 8601 time with a time zone` : new Date(ms);
}

function seconds(ms: number): string {
  return `${ms / 1000} s (${formatDuration(ms)})`;
}

function checkTtl(ttlSeconds: number): number | string {
  const ttlMs = Math.round(ttlSeconds * 1000);
  if (ttlMs < MIN_TTL_MS || ttlMs > MAX_TTL_MS) return `ttl_seconds ${ttlSeconds} is outside ${MIN_TTL_MS / 1000}..${MAX_TTL_MS / 1000}`;
  return ttlMs;
}

/**
 * Checks one tool call of the model against the offered tools, their schemas and the endpoint's
 * bounds. Pure; never throws.
 */
export function checkToolCall(name: string, rawArguments: string, picture: EndpointPicture, bounds: ToolBounds): CheckedCall {
  if (!(TOOL_NAMES as string[]).includes(name)) {
    const shown = name.length > 64 ? `${name.slice(0, 64)}…` : name;
    return { ok: false, name: shown, arguments: clip(rawArguments), error: `"${shown}" is not an offered tool (offered: ${TOOL_NAMES.join(', ')})` };
  }
  const tool = name as ToolName;
  // Valid arguments are a few hundred characters; anything far longer is not worth parsing or keeping.
  if (rawArguments.length > MAX_ARGUMENT_CHARS) {
    return { ok: false, name, arguments: clip(rawArguments), error: `arguments are too long: ${rawArguments.length} characters, at most ${MAX_ARGUMENT_CHARS}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawArguments === '' ? '{}' : rawArguments);
  } catch (error) {
    return { ok: false, name, arguments: clip(rawArguments), error: `arguments are not valid JSON: ${(error as Error).message}` };
  }
  const checked = TOOL_SCHEMAS[tool].safeParse(parsed);
  if (!checked.success) {
    const issues = checked.error.issues.map((issue) => `${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
    return { ok: false, name, arguments: parsed, error: `arguments do not match the schema: ${issues.join('; ')}` };
  }
  const result = proposalOf(tool, checked.data as Record<string, unknown>, picture, bounds);
  return typeof result === 'string' ? { ok: false, name, arguments: parsed, error: result } : { ok: true, name: tool, arguments: parsed, proposal: result };
}

function proposalOf(tool: ToolName, args: Record<string, unknown>, picture: EndpointPicture, bounds: ToolBounds): HintProposal | null | string {
  const now = picture.now;
  const why = args.reason as string;
  switch (tool) {
    case 'propose_interval': {
      const intervalMs = Math.round((args.interval_seconds as number) * 1000);
      const floorName = picture.spec.minIntervalMs !== undefined ? 'minInterval' : 'the baseline: the endpoint sets no minInterval';
      if (intervalMs < bounds.floorMs) return `interval_seconds ${String(args.interval_seconds)} is below the floor of ${seconds(bounds.floorMs)} (${floorName})`;
      if (intervalMs > bounds.ceilingMs) return `interval_seconds ${String(args.interval_seconds)} is above the ceiling of ${seconds(bounds.ceilingMs)}`;
      const ttlMs = checkTtl(args.ttl_seconds as number);
      if (typeof ttlMs === 'string') return ttlMs;
      const person = manualHint(picture, 'interval');
      if (person) return `a person's interval hint is in force until ${person.expiresAt.toISOString()}; the planner leaves it alone`;
      return { kind: 'interval', intervalMs, ttlMs, reason: why };
    }
    case 'propose_next_time': {
      const at = parseTime('at', args.at as string);
      if (typeof at === 'string') return at;
      if (at <= now) return `at ${at.toISOString()} is not in the future (now is ${now.toISOString()})`;
      if (at < bounds.earliestRun) return `at ${at.toISOString()} is before ${bounds.earliestRun.toISOString()}, the last run's end plus the floor of ${formatDuration(bounds.floorMs)}`;
      if (at > bounds.horizon) return `at ${at.toISOString()} is after ${bounds.horizon.toISOString()}, the furthest the planner may look ahead`;
      // A run_at hint's life counts from `at` (the writer sets expiresAt = at + ttl).
      const ttlMs = args.ttl_seconds === undefined ? RUN_AT_GRACE_MS : checkTtl(args.ttl_seconds as number);
      if (typeof ttlMs === 'string') return ttlMs;
      return { kind: 'run_at', at, ttlMs, reason: why };
    }
    case 'pause_until': {
      const until = parseTime('until', args.until as string);
      if (typeof until === 'string') return until;
      if (until <= now) return `until ${until.toISOString()} is not in the future (now is ${now.toISOString()})`;
      if (until > bounds.horizon) return `until ${until.toISOString()} is after ${bounds.horizon.toISOString()}, the longest pause allowed`;
      const person = manualHint(picture, 'pause_until');
      if (person?.at && person.at > until) return `a person's pause until ${person.at.toISOString()} is in force; the planner does not shorten it`;
      return { kind: 'pause_until', at: until, reason: why };
    }
    case 'clear_hints':
      return { kind: 'clear', reason: why };
    case 'keep_schedule':
      return null;
  }
}

function clip(text: string): string {
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
