export * from './config.ts';
export * from './dispatcher.ts';
export * from './log.ts';
export * from './scheduler-node.ts';
export * from './signing.ts';
export * from './target-policy.ts';
export * from './metrics.ts';
