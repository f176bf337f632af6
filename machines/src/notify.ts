import { z } from 'zod';
import { isHttpUrl, urlTextProblem } from './input-rules.ts';

/**
 * Who is told when an endpoint of a job starts failing, recovers or is paused: the jobs-file key
 * `notify` of a job, a list of targets, each a webhook (a JSON notice, signed like the calls when
 * the tenant has signing secrets) or a Slack incoming webhook. `after` is the failure streak (in
 * failed slots) at which the target hears of it; recovery and pause notices go to every target
 * that would hear of them (see docs/notifications.md).
 */

export const NOTIFY_CHANNELS = ['webhook', 'slack'] as const;
export type NotifyChannel = (typeof NOTIFY_CHANNELS)[number];

/** Consecutive failed slots before a target is told, unless it says otherwise. */
export const DEFAULT_NOTIFY_AFTER = 3;
/** The longest streak a target may wait for (a day of one slot a minute, and then some). */
export const MAX_NOTIFY_AFTER = 10_000;
/** Targets per job: each notice becomes one delivery per target. */
export const MAX_NOTIFY_TARGETS = 10;
export const MAX_NOTIFY_URL_LENGTH = 2_048;

/** A target as stored with the job (`jobs.notify`) and carried by the API. */
export interface NotifyTarget {
  channel: NotifyChannel;
  url: string;
  /** Consecutive failed slots before this target hears of a failure streak (≥ 1). */
  after: number;
}

export const notifyUrlSchema = z
  .string()
  .max(MAX_NOTIFY_URL_LENGTH, `must be at most ${MAX_NOTIFY_URL_LENGTH} characters`)
  .refine(isHttpUrl, 'must be an absolute http:// or https:// URL')
  .superRefine((url, ctx) => {
    // A URL that does not parse is already reported as such.
    const problem = isHttpUrl(url) ? urlTextProblem(url) : undefined;
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const notifyAfterSchema = z
  .number({ error: 'must be a whole number of failed slots, 1 or more' })
  .int('must be a whole number of failed slots, 1 or more')
  .min(1, 'must be 1 or more (failed slots before this target is told)')
  .max(MAX_NOTIFY_AFTER, `must be at most ${MAX_NOTIFY_AFTER}`);

/** One entry as a person writes it: `{ webhook: <url>, after: 3 }` or `{ slack: <url> }`. */
const notifyEntrySchema = z
  .strictObject({ webhook: notifyUrlSchema.optional(), slack: notifyUrlSchema.optional(), after: notifyAfterSchema.optional() })
  .transform((entry, ctx): NotifyTarget => {
    // An unknown key (`email:`) is reported where it stands; "names no target" would only repeat it.
    if (ctx.issues.length > 0) return z.NEVER;
    if ((entry.webhook === undefined) === (entry.slack === undefined)) {
      ctx.addIssue({ code: 'custom', message: entry.webhook === undefined ? 'must name one target: webhook: <url> or slack: <url>' : 'must name one target: webhook or slack, not both' });
      return z.NEVER;
    }
    const channel: NotifyChannel = entry.webhook !== undefined ? 'webhook' : 'slack';
    return { channel, url: (entry.webhook ?? entry.slack)!, after: entry.after ?? DEFAULT_NOTIFY_AFTER };
  });

/** A job's `notify` list: at most MAX_NOTIFY_TARGETS targets, none twice. */
export const notifyListSchema = z
  .array(notifyEntrySchema)
  .max(MAX_NOTIFY_TARGETS, `must have at most ${MAX_NOTIFY_TARGETS} targets`)
  .superRefine((targets, ctx) => {
    const seen = new Map<string, number>();
    targets.forEach((target, index) => {
      const key = `${target.channel} ${target.url}`;
      const first = seen.get(key);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: [index, target.channel], message: `${target.channel} "${target.url}" is also notify[${first}]` });
      seen.set(key, index);
    });
  });

/** The jobs-file form of a stored target (what `endpoints get` and a round trip show). Pure. */
export function notifyEntryOf(target: NotifyTarget): Record<string, string | number> {
  return { [target.channel]: target.url, after: target.after };
}

/** The targets read back from `jobs.notify`, keeping only well-formed ones. Pure; executes nothing. */
export function storedNotifyTargets(value: unknown): NotifyTarget[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (entry): entry is NotifyTarget =>
      typeof entry === 'object' && entry !== null && (NOTIFY_CHANNELS as readonly unknown[]).includes(entry.channel) && typeof entry.url === 'string' && Number.isInteger(entry.after) && entry.after >= 1,
  );
}
