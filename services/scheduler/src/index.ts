export * from './config.ts';
export * from './dispatcher.ts';
export * from './log.ts';
export * from './scheduler-node.ts';
