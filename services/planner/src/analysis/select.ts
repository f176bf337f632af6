import { PlannerConfigError } from '../config.ts';
import { HeuristicAnalyzer } from './heuristic.ts';
import { LlmAnalyzer } from './llm-planner.ts';
import { heuristicSettingsFromEnv, llmSettingsFromEnv } from './settings.ts';
import type { Analyzer } from './types.ts';

export const ANALYZER_CHOICES = ['auto', 'heuristic', 'llm'] as const;

/**
 * The analyzer the environment asks for (TICKWISE_PLANNER_ANALYZER): `llm` needs OPENAI_API_KEY,
 * `heuristic` never calls a model, `auto` (default) is the LLM when OPENAI_API_KEY is set and the
 * heuristic otherwise. Throws PlannerConfigError naming the variable on a bad setting.
 */
export function analyzerFromEnv(env: NodeJS.ProcessEnv): Analyzer {
  const choice = env.TICKWISE_PLANNER_ANALYZER === undefined || env.TICKWISE_PLANNER_ANALYZER === '' ? 'auto' : env.TICKWISE_PLANNER_ANALYZER;
  if (!(ANALYZER_CHOICES as readonly string[]).includes(choice)) {
    throw new PlannerConfigError(`TICKWISE_PLANNER_ANALYZER must be one of ${ANALYZER_CHOICES.join(', ')}, got "${choice}"`);
  }
  const heuristic = heuristicSettingsFromEnv(env);
  const wantsLlm = choice === 'llm' || (choice === 'auto' && env.OPENAI_API_KEY !== undefined && env.OPENAI_API_KEY !== '');
  return wantsLlm ? new LlmAnalyzer(llmSettingsFromEnv(env), heuristic) : new HeuristicAnalyzer(heuristic);
}
