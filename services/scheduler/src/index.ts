export * from './config.ts';
export * from './dispatcher.ts';
export * from './scheduler-node.ts';
export * from './signing.ts';
export * from './metrics.ts';
export { admit, personsPause, type Admission, type HeldRow, type HowHeld } from './admission.ts';
export { requestFor, idempotencyKey } from './request.ts';
export { runRecord, type CallMade } from './run-record.ts';
