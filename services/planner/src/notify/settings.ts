import { checkInteger, envText, invalidConfig, namingVariables, overridesFromEnv } from '@tickwise/platform';

/** How the planner sends notifications (docs/notifications.md). */
export interface NotifySettings {
  /**
   * The visualizer's public base URL (`https://tickwise.example.com`): notices link to
   * `<publicUrl>/ui/#/endpoint/<id>`. Null: no link.
   */
  publicUrl: string | null;
  /** Attempts per delivery, the first included; then it is `failed`. */
  attempts: number;
  /** The wait before the second attempt; it doubles per attempt up to `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Deadline of one attempt (connect, headers and body). */
  timeoutMs: number;
  /** The longest a sender or the notice reader sleeps without a NOTIFY (their only path where LISTEN is missing). */
  pollMs: number;
  /** Deliveries a sender takes at once (sent in parallel). */
  batch: number;
}

export const NOTIFY_DEFAULTS: NotifySettings = {
  publicUrl: null,
  attempts: 10,
  backoffMs: 10_000,
  maxBackoffMs: 10 * 60_000,
  timeoutMs: 10_000,
  pollMs: 1_000,
  batch: 20,
};

/** Environment variables of notifications, with the setting each sets. */
export const NOTIFY_ENV = {
  TICKWISE_NOTIFY_ATTEMPTS: 'attempts',
  TICKWISE_NOTIFY_BACKOFF: 'backoffMs',
  TICKWISE_NOTIFY_MAX_BACKOFF: 'maxBackoffMs',
  TICKWISE_NOTIFY_TIMEOUT: 'timeoutMs',
  TICKWISE_NOTIFY_POLL: 'pollMs',
} as const;

/** Validates settings once, with messages that name the setting. */
export function resolveNotifySettings(overrides: Partial<NotifySettings> = {}): NotifySettings {
  const settings: NotifySettings = { ...NOTIFY_DEFAULTS, ...overrides };
  checkInteger('attempts', settings.attempts, 1, 100);
  checkInteger('backoffMs', settings.backoffMs, 10, 3_600_000);
  checkInteger('maxBackoffMs', settings.maxBackoffMs, 10, 86_400_000);
  checkInteger('timeoutMs', settings.timeoutMs, 100, 300_000);
  checkInteger('pollMs', settings.pollMs, 10, 60_000);
  checkInteger('batch', settings.batch, 1, 1_000);
  if (settings.maxBackoffMs < settings.backoffMs) throw invalidConfig(`maxBackoffMs must be at least backoffMs (${settings.backoffMs}), got ${settings.maxBackoffMs}`);
  if (settings.publicUrl !== null) settings.publicUrl = publicUrlOf(settings.publicUrl);
  return settings;
}

/** `TICKWISE_PUBLIC_URL` without a trailing slash; an http(s) URL without query or fragment. Pure. */
function publicUrlOf(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username || url.password) {
    throw invalidConfig(`TICKWISE_PUBLIC_URL must be the http(s) address people open Tickwise at, such as https://tickwise.example.com (no query, fragment or credentials), got "${text}"`);
  }
  return url.toString().replace(/\/+$/, '');
}

/** Reads TICKWISE_PUBLIC_URL and the TICKWISE_NOTIFY_* variables. */
export function notifySettingsFromEnv(env: NodeJS.ProcessEnv): NotifySettings {
  const overrides = overridesFromEnv(env, NOTIFY_ENV, { attempts: 'count' }, '500ms, 10s or 10m') as Partial<NotifySettings>;
  const publicUrl = envText(env, 'TICKWISE_PUBLIC_URL');
  return namingVariables(NOTIFY_ENV, () => resolveNotifySettings({ ...overrides, ...(publicUrl !== undefined ? { publicUrl } : {}) }));
}

/**
 * The wait before the next attempt after `attempts` failed ones: `backoffMs` doubled per attempt,
 * capped at `maxBackoffMs`, plus up to 10% jitter (receivers coming back are not hit by every
 * sender at once); never shorter than a `Retry-After` the receiver asked for (capped the same way).
 * Pure; `random` is injected.
 */
export function retryDelayMs(attempts: number, settings: Pick<NotifySettings, 'backoffMs' | 'maxBackoffMs'>, retryAfterMs: number | null, random: () => number): number {
  const doubled = Math.min(settings.maxBackoffMs, settings.backoffMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)));
  const jittered = Math.min(settings.maxBackoffMs, Math.round(doubled * (1 + 0.1 * random())));
  return retryAfterMs === null ? jittered : Math.max(jittered, Math.min(retryAfterMs, settings.maxBackoffMs));
}
