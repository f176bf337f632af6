import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import { parseDuration } from '@tickwise/platform';
import { type EndpointSpec, type Hint, HintKind, MachineState, type Run, RunStatus } from '@tickwise/api';
import { invalidArgument } from './settings.ts';
import { humanDuration, timeWithRelative, truncate } from './table.ts';

// The API's messages as the CLI shows them to people. Pure functions.

export const dateOf = (at: Timestamp | undefined): Date | undefined => (at ? timestampDate(at) : undefined);

/** "idle", "paused", ...; "-" when unspecified. */
export function stateName(state: MachineState): string {
  return state === MachineState.UNSPECIFIED ? '-' : (MachineState[state] ?? String(state)).toLowerCase();
}

const STATE_NAMES = ['idle', 'due', 'running', 'planning', 'paused'] as const;

/** `--state idle,paused` as the API's enum values; a name it does not know is `invalid_argument`. */
export function parseStates(text: string): MachineState[] {
  return text.split(',').map((part) => {
    const name = part.trim().toLowerCase();
    if (!(STATE_NAMES as readonly string[]).includes(name)) throw invalidArgument(`--state must be one or more of ${STATE_NAMES.join(', ')} (comma-separated), got "${part.trim()}"`);
    return MachineState[name.toUpperCase() as keyof typeof MachineState];
  });
}

/** `every 5s`, or `cron "0 9 * * *" Europe/Paris`. */
export function scheduleText(spec: EndpointSpec | undefined): string {
  const kind = spec?.schedule?.kind;
  if (kind?.case === 'every') return `every ${kind.value}`;
  if (kind?.case === 'cron') return `cron "${kind.value.expression}" ${kind.value.timezone || 'UTC'}`;
  return '-';
}

export function hintKindName(kind: HintKind): string {
  return kind === HintKind.UNSPECIFIED ? '-' : (HintKind[kind] ?? String(kind)).toLowerCase();
}

/** What a hint asks for: "every 2m", "run at …", "pause until …". */
export function hintValue(hint: Hint, now: Date): string {
  if (hint.kind === HintKind.INTERVAL) return `every ${hint.interval}`;
  const at = timeWithRelative(dateOf(hint.at), now);
  return hint.kind === HintKind.RUN_AT ? `run at ${at}` : `pause until ${at}`;
}

export function hintStatus(hint: Hint): string {
  return hint.active ? 'active' : hint.clearedAt ? 'cleared' : 'expired';
}

export function runStatusName(status: RunStatus): string {
  return status === RunStatus.UNSPECIFIED ? '-' : (RunStatus[status] ?? String(status)).toLowerCase();
}

/** "http_status: HTTP 500", "timeout: …", or "" for a success. */
export function runError(run: Run): string {
  if (!run.errorKind && !run.errorMessage) return '';
  return truncate([run.errorKind, run.errorMessage].filter(Boolean).join(': '), 80);
}

export function runDuration(run: Run): string {
  return humanDuration(run.durationMs);
}

/** A `--limit` value: a whole number from 1 to `max`. */
export function parseLimit(text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) throw invalidArgument(`--limit must be a whole number from 1 to ${max}, got "${text}"`);
  return Number(text);
}

/** A duration option (`--within 2m`) in milliseconds; `option` names it in the message. */
export function parseDurationOption(option: string, text: string | undefined, fallbackMs: number): number {
  if (text === undefined) return fallbackMs;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw invalidArgument(`${option} must be a duration such as 30s, 2m or 1h, got "${text}"`);
  return ms;
}
