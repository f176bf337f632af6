export * from './apply-jobs.ts';
export * from './machine-writes.ts';
export { applyPersonsPause, setPause } from './pause.ts';
export { replanForHints, REPLAN_MAX_LIMIT, type ReplanForHintsOptions, type ReplannedMachine } from './replan-hints.ts';
export { archiveJob, archiveEndpoint, setJobPause } from './archive.ts';
export { changeHints, triggerNow, MANUAL_HINT_SOURCE, TRIGGER_HINT_TTL_MS, type HintPlan } from './trigger.ts';
export * from './signing.ts';
export * from './secrets.ts';
export * from './audit.ts';
