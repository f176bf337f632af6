export { startGateway, type Gateway, type GatewayOptions } from './server.ts';
export { DEFAULT_GATEWAY_CONFIG, gatewayConfigFromEnv, resolveGatewayConfig, type GatewayConfig } from './config.ts';
export { authenticate, createApiKey, generateApiKey, parseApiKey, secretMatches, type Caller } from './api-keys.ts';
export { toConnectError } from './errors.ts';
export { PROCEDURE_ROLES } from './auth.ts';
export { LIMITS, QUOTAS } from './validate.ts';
export { WatchHub } from './watch-hub.ts';
export { gatewayMetrics, metricsInterceptor } from './metrics.ts';
