/** LLM planner settings: defaults, validation, the environment, and the tool schemas offered. */
import { describe, expect, it } from 'vitest';
import { invalidConfig } from '@tickwise/platform';
import {
  analyzerFromEnv,
  HeuristicAnalyzer,
  LLM_DEFAULTS,
  LlmAnalyzer,
  llmSettingsFromEnv,
  resolveLlmSettings,
  TOOL_DEFINITIONS,
} from '../src/analysis/index.ts';

describe('settings', () => {
  it('has defaults', () => {
    expect(resolveLlmSettings({ apiKey: 'k' })).toEqual({ apiKey: 'k', ...LLM_DEFAULTS });
    expect(LLM_DEFAULTS).toEqual({ baseURL: 'https://api.openai.com/v1', model: 'gpt-4o-mini', timeoutMs: 15_000, maxToolCalls: 4, maxTokens: 600, maxRounds: 2, tokenLimitField: 'max_tokens' });
  });

  it.each([
    [{ apiKey: ' ' }, 'apiKey must be a non-empty string (any value for a local server that wants none)'],
    [{ baseURL: 'ftp://models' }, 'baseURL must be an absolute http:// or https:// URL such as https://api.openai.com/v1, got "ftp://models"'],
    [{ model: 'two words' }, 'model must be 1-200 characters without spaces, got "two words"'],
    [{ timeoutMs: 50 }, 'timeoutMs must be an integer between 100 and 300000, got 50'],
    [{ maxToolCalls: 0 }, 'maxToolCalls must be an integer between 1 and 16, got 0'],
    [{ maxTokens: 1e6 }, 'maxTokens must be an integer between 16 and 32000, got 1000000'],
    [{ maxRounds: 9 }, 'maxRounds must be an integer between 1 and 5, got 9'],
    [{ tokenLimitField: 'tokens' as 'max_tokens' }, 'tokenLimitField must be one of max_tokens, max_completion_tokens, got "tokens"'],
  ])('refuses %o', (settings, message) => {
    expect(() => new LlmAnalyzer({ apiKey: 'k', ...settings })).toThrow(invalidConfig(message));
  });

  it('reads the environment', () => {
    expect(
      llmSettingsFromEnv({
        OPENAI_API_KEY: 'sk-test',
        OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1',
        TICKWISE_MODEL: 'llama3.1',
        TICKWISE_PLANNER_LLM_TIMEOUT: '30s',
        TICKWISE_PLANNER_LLM_MAX_TOOL_CALLS: '2',
        TICKWISE_PLANNER_LLM_MAX_TOKENS: '400',
        TICKWISE_PLANNER_LLM_MAX_ROUNDS: '1',
        TICKWISE_PLANNER_LLM_TOKEN_FIELD: 'max_completion_tokens',
      }),
    ).toEqual({ apiKey: 'sk-test', baseURL: 'http://127.0.0.1:11434/v1', model: 'llama3.1', timeoutMs: 30_000, maxToolCalls: 2, maxTokens: 400, maxRounds: 1, tokenLimitField: 'max_completion_tokens' });
  });

  it.each([
    [{}, 'OPENAI_API_KEY is not set: the LLM planner needs it (any value for a local server that wants none)'],
    [{ OPENAI_API_KEY: 'k', TICKWISE_PLANNER_LLM_TIMEOUT: 'soon' }, 'TICKWISE_PLANNER_LLM_TIMEOUT must be a duration such as 500ms, 15s or 1m, got "soon"'],
    [{ OPENAI_API_KEY: 'k', TICKWISE_PLANNER_LLM_TIMEOUT: '10m' }, 'TICKWISE_PLANNER_LLM_TIMEOUT: timeoutMs must be an integer between 100 and 300000, got 600000'],
    [{ OPENAI_API_KEY: 'k', TICKWISE_PLANNER_LLM_MAX_ROUNDS: 'two' }, 'TICKWISE_PLANNER_LLM_MAX_ROUNDS must be a whole number, got "two"'],
    [{ OPENAI_API_KEY: 'k', OPENAI_BASE_URL: 'localhost:11434' }, 'OPENAI_BASE_URL: baseURL must be an absolute http:// or https:// URL such as https://api.openai.com/v1, got "localhost:11434"'],
  ])('refuses %o with a message naming the variable', (env, message) => {
    expect(() => llmSettingsFromEnv(env)).toThrow(invalidConfig(message));
  });

  it('picks the analyzer from the environment', () => {
    expect(analyzerFromEnv({})).toBeInstanceOf(HeuristicAnalyzer);
    expect(analyzerFromEnv({ OPENAI_API_KEY: 'k' })).toBeInstanceOf(LlmAnalyzer);
    expect(analyzerFromEnv({ OPENAI_API_KEY: 'k', TICKWISE_PLANNER_ANALYZER: 'heuristic' })).toBeInstanceOf(HeuristicAnalyzer);
    expect(() => analyzerFromEnv({ TICKWISE_PLANNER_ANALYZER: 'llm' })).toThrow(invalidConfig('OPENAI_API_KEY is not set: the LLM planner needs it (any value for a local server that wants none)'));
    expect(() => analyzerFromEnv({ TICKWISE_PLANNER_ANALYZER: 'smart' })).toThrow(invalidConfig('TICKWISE_PLANNER_ANALYZER must be one of auto, heuristic, llm, got "smart"'));
    const llm = analyzerFromEnv({ OPENAI_API_KEY: 'k', TICKWISE_PLANNER_FAILURE_STREAK: '5' }) as LlmAnalyzer;
    expect(llm.heuristic.failureStreak).toBe(5);
  });

  it('offers JSON schemas made from the zod schemas', () => {
    expect(TOOL_DEFINITIONS.find((tool) => tool.function.name === 'propose_next_time')?.function.parameters).toMatchObject({
      type: 'object',
      properties: { at: { type: 'string' }, ttl_seconds: { type: 'number' }, reason: { type: 'string', maxLength: 300 } },
      required: ['at', 'reason'],
      additionalProperties: false,
    });
  });
});
