export type * from './types.ts';
export * from './baseline.ts';
// isPlannerHint is left out here: decisions.ts re-exports it at the package level, and two
// `export *` paths to one name are an error (TS2308).
export { intervalBounds, liveHints, manualHint, plannerHint, MAX_RETRY_AFTER_MS, MAX_TTL_MS, MIN_TTL_MS, type IntervalBounds } from './bounds.ts';
export * from './settings.ts';
export * from './heuristic.ts';
export * from './llm-tools.ts';
export * from './llm-prompt.ts';
export * from './llm-planner.ts';
export * from './select.ts';
