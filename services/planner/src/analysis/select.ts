import { envChoice, envText } from '@tickwise/platform';
import { HeuristicAnalyzer } from './heuristic.ts';
import { LlmAnalyzer } from './llm-planner.ts';
import { heuristicSettingsFromEnv, llmSettingsFromEnv } from './settings.ts';
import type { Analyzer } from './types.ts';

export const ANALYZER_CHOICES = ['auto', 'heuristic', 'llm'] as const;

/**
 * The analyzer the environment asks for (TICKWISE_PLANNER_ANALYZER): `llm` needs OPENAI_API_KEY,
 * `heuristic` never calls a model, `auto` (default) is the LLM when OPENAI_API_KEY is set and the
 * heuristic otherwise. Throws TickwiseError `invalid_config` naming the variable on a bad setting.
 */
export function analyzerFromEnv(env: NodeJS.ProcessEnv): Analyzer {
  const choice = envChoice(env, 'TICKWISE_PLANNER_ANALYZER', ANALYZER_CHOICES) ?? 'auto';
  const heuristic = heuristicSettingsFromEnv(env);
  const wantsLlm = choice === 'llm' || (choice === 'auto' && envText(env, 'OPENAI_API_KEY') !== undefined);
  return wantsLlm ? new LlmAnalyzer(llmSettingsFromEnv(env), heuristic) : new HeuristicAnalyzer(heuristic);
}
