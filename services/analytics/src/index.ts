export * from './config.ts';
export * from './errors.ts';
export * from './figures.ts';
export * from './quantile.ts';
export * from './metrics.ts';
export * from './service.ts';
export { AnalyticsConsumer, type AnalyticsLogger, type ConsumerCounts } from './consumer.ts';
