export * from './config.ts';
export * from './planner.ts';
export * from './service.ts';
export * from './decisions.ts';
export * from './endpoint-state.ts';
export type * from './sources/types.ts';
export { DatabaseRunEventSource } from './sources/database-source.ts';
export { KafkaRunEventSource, KafkaSourceError } from './sources/kafka-source.ts';
export * from './analysis/index.ts';
