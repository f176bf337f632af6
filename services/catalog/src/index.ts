export * from './apply-jobs.ts';
export * from './machine-writes.ts';
export { setPause, EndpointNotFoundError } from './pause.ts';
export { replanForHints, ReplanError, REPLAN_ERROR_CODES, REPLAN_MAX_LIMIT, type ReplanErrorCode, type ReplanForHintsOptions, type ReplannedMachine } from './replan-hints.ts';
export { archiveJob, archiveEndpoint, setJobPause } from './archive.ts'; export { changeHints, triggerNow, MANUAL_HINT_SOURCE, TRIGGER_HINT_TTL_MS, type HintPlan } from './trigger.ts';
export * from './signing.ts';
