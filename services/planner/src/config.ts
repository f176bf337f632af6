import { checkInteger, checkProcessId, defaultProcessId, namingVariables, overridesFromEnv } from '@tickwise/platform';

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

/** Validates a config once, with messages that name the setting. */
export function resolvePlannerConfig(overrides: Partial<PlannerConfig> = {}): PlannerConfig {
  const config: PlannerConfig = { plannerId: defaultProcessId(), ...PLANNER_DEFAULTS, ...overrides };
  checkInteger('minIntervalMs', config.minIntervalMs, 0, 86_400_000);
  checkInteger('urgentFloorMs', config.urgentFloorMs, 0, 3_600_000);
  checkInteger('failureStreak', config.failureStreak, 1, 1_000);
  checkInteger('window', config.window, 5, 1_000);
  checkInteger('concurrency', config.concurrency, 1, 256);
  checkInteger('pollIntervalMs', config.pollIntervalMs, 10, 60_000);
  checkInteger('eventRetentionMs', config.eventRetentionMs, 60_000, 3_650 * 86_400_000);
  checkProcessId('plannerId', config.plannerId);
  return config;
}

/** Reads the TICKWISE_PLANNER_* variables; durations are strings such as `30s`. */
export function plannerConfigFromEnv(env: NodeJS.ProcessEnv): PlannerConfig {
  const overrides = overridesFromEnv(env, PLANNER_ENV, { plannerId: 'text', failureStreak: 'count', window: 'count', concurrency: 'count' }) as Partial<PlannerConfig>;
  return namingVariables(PLANNER_ENV, () => resolvePlannerConfig(overrides));
}
