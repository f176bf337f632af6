import { checkInteger, invalidConfig, namingVariables, overridesFromEnv } from '@tickwise/platform';

/** What the heuristic looks for. */
export interface HeuristicSettings {
  /** Consecutive failures from which the heuristic backs off (shared with the planner's streak trigger). */
  failureStreak: number;
  /** Consecutive successes after which the planner's own hints are cleared. */
  recoverySuccesses: number;
  /** Fewest recent runs the "consistently slow" rule needs. */
  slowSamples: number;
  /** Newest runs the median duration is taken over. */
  slowWindow: number;
}

export const HEURISTIC_DEFAULTS: HeuristicSettings = { failureStreak: 3, recoverySuccesses: 1, slowSamples: 5, slowWindow: 10 };

export const TOKEN_LIMIT_FIELDS = ['max_tokens', 'max_completion_tokens'] as const;
export type TokenLimitField = (typeof TOKEN_LIMIT_FIELDS)[number];

/** How the LLM planner reaches its model and how far it lets it go. */
export interface LlmSettings {
  apiKey: string;
  /** Any OpenAI-compatible server (`…/v1`). */
  baseURL: string;
  model: string;
  /** Deadline of one whole analysis, every round included. */
  timeoutMs: number;
  /** Most tool calls in one answer of the model; more and the answer is refused. */
  maxToolCalls: number;
  /** Token limit of each answer. */
  maxTokens: number;
  /** Requests per analysis: the first, plus chances to correct refused tool calls. */
  maxRounds: number;
  /**
   * The request field carrying `maxTokens`. Ollama and LM Studio know only `max_tokens`; OpenAI's
   * reasoning models (o-series, gpt-5) refuse it and need `max_completion_tokens`.
   */
  tokenLimitField: TokenLimitField;
}

export const LLM_DEFAULTS: Omit<LlmSettings, 'apiKey'> = {
  baseURL: 'https://api.openai.com/v1',
  model: 'gpt-4o-mini',
  timeoutMs: 15_000,
  maxToolCalls: 4,
  maxTokens: 600,
  maxRounds: 2,
  tokenLimitField: 'max_tokens',
};

/** Environment variables of the heuristic, with the setting each sets. */
export const HEURISTIC_ENV = {
  TICKWISE_PLANNER_FAILURE_STREAK: 'failureStreak',
  TICKWISE_PLANNER_RECOVERY_SUCCESSES: 'recoverySuccesses',
  TICKWISE_PLANNER_SLOW_SAMPLES: 'slowSamples',
  TICKWISE_PLANNER_SLOW_WINDOW: 'slowWindow',
} as const;

/** Environment variables of the LLM planner, with the setting each sets. */
export const LLM_ENV = {
  OPENAI_API_KEY: 'apiKey',
  OPENAI_BASE_URL: 'baseURL',
  TICKWISE_MODEL: 'model',
  TICKWISE_PLANNER_LLM_TIMEOUT: 'timeoutMs',
  TICKWISE_PLANNER_LLM_MAX_TOOL_CALLS: 'maxToolCalls',
  TICKWISE_PLANNER_LLM_MAX_TOKENS: 'maxTokens',
  TICKWISE_PLANNER_LLM_MAX_ROUNDS: 'maxRounds',
  TICKWISE_PLANNER_LLM_TOKEN_FIELD: 'tokenLimitField',
} as const;

/** Validates heuristic settings once, with messages that name the setting. */
export function resolveHeuristicSettings(overrides: Partial<HeuristicSettings> = {}): HeuristicSettings {
  const settings: HeuristicSettings = { ...HEURISTIC_DEFAULTS, ...overrides };
  checkInteger('failureStreak', settings.failureStreak, 1, 1_000);
  checkInteger('recoverySuccesses', settings.recoverySuccesses, 1, 1_000);
  checkInteger('slowSamples', settings.slowSamples, 3, 50);
  checkInteger('slowWindow', settings.slowWindow, 3, 50);
  if (settings.slowWindow < settings.slowSamples) {
    throw invalidConfig(`slowWindow (${settings.slowWindow}) must be at least slowSamples (${settings.slowSamples})`);
  }
  return settings;
}

/** Validates LLM settings once, with messages that name the setting. */
export function resolveLlmSettings(overrides: Partial<LlmSettings> & { apiKey: string }): LlmSettings {
  const settings: LlmSettings = { ...LLM_DEFAULTS, ...overrides };
  if (typeof settings.apiKey !== 'string' || settings.apiKey.trim() === '') {
    throw invalidConfig('apiKey must be a non-empty string (any value for a local server that wants none)');
  }
  if (!isHttpUrl(settings.baseURL)) {
    throw invalidConfig(`baseURL must be an absolute http:// or https:// URL such as https://api.openai.com/v1, got "${String(settings.baseURL)}"`);
  }
  if (typeof settings.model !== 'string' || !/^\S{1,200}$/.test(settings.model)) {
    throw invalidConfig(`model must be 1-200 characters without spaces, got "${String(settings.model)}"`);
  }
  checkInteger('timeoutMs', settings.timeoutMs, 100, 300_000);
  checkInteger('maxToolCalls', settings.maxToolCalls, 1, 16);
  checkInteger('maxTokens', settings.maxTokens, 16, 32_000);
  checkInteger('maxRounds', settings.maxRounds, 1, 5);
  if (!(TOKEN_LIMIT_FIELDS as readonly string[]).includes(settings.tokenLimitField)) {
    throw invalidConfig(`tokenLimitField must be one of ${TOKEN_LIMIT_FIELDS.join(', ')}, got "${String(settings.tokenLimitField)}"`);
  }
  return settings;
}

/** Reads the heuristic's TICKWISE_PLANNER_* variables. */
export function heuristicSettingsFromEnv(env: NodeJS.ProcessEnv): HeuristicSettings {
  const found = overridesFromEnv(env, HEURISTIC_ENV, { failureStreak: 'count', recoverySuccesses: 'count', slowSamples: 'count', slowWindow: 'count' });
  return namingVariables(HEURISTIC_ENV, () => resolveHeuristicSettings(found as Partial<HeuristicSettings>));
}

/** Reads OPENAI_API_KEY, OPENAI_BASE_URL, TICKWISE_MODEL and the TICKWISE_PLANNER_LLM_* variables. */
export function llmSettingsFromEnv(env: NodeJS.ProcessEnv): LlmSettings {
  const found = overridesFromEnv(
    env,
    LLM_ENV,
    { apiKey: 'text', baseURL: 'text', model: 'text', tokenLimitField: 'text', maxToolCalls: 'count', maxTokens: 'count', maxRounds: 'count' },
    '500ms, 15s or 1m',
  );
  if (found.apiKey === undefined) throw invalidConfig('OPENAI_API_KEY is not set: the LLM planner needs it (any value for a local server that wants none)');
  return namingVariables(LLM_ENV, () => resolveLlmSettings(found as Partial<LlmSettings> & { apiKey: string }));
}

function isHttpUrl(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}
