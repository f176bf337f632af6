export * from './errors.ts';
export * from './duration.ts';
export * from './settings.ts';
export * from './logger.ts';
export * from './metrics.ts';
export * from './ids.ts';
export * from './target-policy.ts';
export * from './kafka-log.ts';
