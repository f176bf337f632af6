import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseDuration } from '@tickwise/machines';

export interface PlannerConfig {
  /** Names this planner in the cursor lease and logs. */
  plannerId: string;
  /** Analyses of one endpoint are at least this far apart, unless something urgent happened. */
  minIntervalMs: number;
  /** Urgent analyses (failure streak, Retry-After, success↔failure) of one endpoint are at least this far apart. */
  urgentFloorMs: number;
  /** Consecutive failures that make a failure streak. */
  failureStreak: number;
  /** Runs kept per endpoint. */
  window: number;
  /** Analyses running at once (LLM calls are slow). */
  concurrency: number;
  /** DB path: the longest wait for new events where NOTIFY is missing. */
  pollIntervalMs: number;
  /** DB path: run events and analyses older than this are pruned. */
  eventRetentionMs: number;
}

export const PLANNER_DEFAULTS: Omit<PlannerConfig, 'plannerId'> = {
  minIntervalMs: 30_000,
  urgentFloorMs: 1_000,
  failureStreak: 3,
  window: 50,
  concurrency: 8,
  pollIntervalMs: 1_000,
  eventRetentionMs: 7 * 86_400_000,
};

/** Environment variables of the planner, with the config field each sets. */
export const PLANNER_ENV = {
  TICKWISE_PLANNER_ID: 'plannerId',
  TICKWISE_PLANNER_MIN_INTERVAL: 'minIntervalMs',
  TICKWISE_PLANNER_URGENT_FLOOR: 'urgentFloorMs',
  TICKWISE_PLANNER_FAILURE_STREAK: 'failureStreak',
  TICKWISE_PLANNER_WINDOW: 'window',
  TICKWISE_PLANNER_CONCURRENCY: 'concurrency',
  TICKWISE_PLANNER_POLL: 'pollIntervalMs',
  TICKWISE_EVENT_RETENTION: 'eventRetentionMs',
} as const;

const COUNTS = new Set<keyof PlannerConfig>(['failureStreak', 'window', 'concurrency']);

export class PlannerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlannerConfigError';
  }
}

/** Validates a config once, with messages that name the setting. */
export function resolvePlannerConfig(overrides: Partial<PlannerConfig> = {}): PlannerConfig {
  const config: PlannerConfig = { plannerId: `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`, ...PLANNER_DEFAULTS, ...overrides };
  const rules: [keyof PlannerConfig, number, number][] = [
    ['minIntervalMs', 0, 86_400_000],
    ['urgentFloorMs', 0, 3_600_000],
    ['failureStreak', 1, 1_000],
    ['window', 5, 1_000],
    ['concurrency', 1, 256],
    ['pollIntervalMs', 10, 60_000],
    ['eventRetentionMs', 60_000, 3_650 * 86_400_000],
  ];
  for (const [key, min, max] of rules) {
    const value = config[key] as number;
    if (!Number.isInteger(value) || value < min || value > max) throw new PlannerConfigError(`${key} must be an integer between ${min} and ${max}, got ${String(value)}`);
  }
  if (!/^[A-Za-z0-9._:-]{1,100}$/.test(config.plannerId)) {
    throw new PlannerConfigError(`plannerId must be 1-100 letters, digits, ".", "_", ":" or "-", got "${config.plannerId}"`);
  }
  return config;
}

/** Reads the TICKWISE_PLANNER_* variables; durations are strings such as `30s`. */
export function plannerConfigFromEnv(env: NodeJS.ProcessEnv): PlannerConfig {
  const overrides: Partial<PlannerConfig> = {};
  for (const [name, key] of Object.entries(PLANNER_ENV) as [keyof typeof PLANNER_ENV, keyof PlannerConfig][]) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    if (key === 'plannerId') overrides.plannerId = raw;
    else if (COUNTS.has(key)) {
      if (!/^\d+$/.test(raw)) throw new PlannerConfigError(`${name} must be a whole number, got "${raw}"`);
      (overrides as Record<string, number>)[key] = Number(raw);
    } else {
      const ms = parseDuration(raw);
      if (ms === undefined) throw new PlannerConfigError(`${name} must be a duration such as 500ms, 30s or 5m, got "${raw}"`);
      (overrides as Record<string, number>)[key] = ms;
    }
  }
  try {
    return resolvePlannerConfig(overrides);
  } catch (error) {
    const key = (error as Error).message.split(' ')[0];
    const name = Object.entries(PLANNER_ENV).find(([, field]) => field === key)?.[0];
    throw name ? new PlannerConfigError(`${name}: ${(error as Error).message}`) : error;
  }
}
