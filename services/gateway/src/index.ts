export { startGateway, type Gateway, type GatewayOptions } from './server.ts';
export { DEFAULT_GATEWAY_CONFIG, GatewayConfigError, gatewayConfigFromEnv, resolveGatewayConfig, type GatewayConfig } from './config.ts';
export { authenticate, createApiKey, generateApiKey, parseApiKey, secretMatches, type Caller } from './api-keys.ts';
export { GatewayError, GATEWAY_ERROR_CODES, toConnectError, type GatewayErrorCode, type FieldViolation } from './errors.ts';
export { PROCEDURE_ROLES } from './auth.ts';
export { WatchHub } from './watch-hub.ts';
export { collectProcessMetricsOnce, gatewayMetrics, metricsInterceptor, metricsText } from './metrics.ts';
export type { Logger } from './logger.ts';
