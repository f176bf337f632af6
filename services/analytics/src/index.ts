export * from './config.ts';
export * from './figures.ts';
export * from './quantile.ts';
export * from './metrics.ts';
export * from './service.ts';
export { AnalyticsConsumer, type ConsumerCounts } from './consumer.ts';
