export * from './apply-jobs.ts';
export * from './machine-writes.ts';
export { setPause, EndpointNotFoundError } from './pause.ts';
