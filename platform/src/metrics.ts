import { collectDefaultMetrics, register, type Metric } from 'prom-client';

/**
 * One Prometheus registry per process (prom-client's default): every service's metrics land in it,
 * so one `/metrics` serves them all (`tickwise dev` runs a node, the planner and the gateway in one
 * process). A metric is made once per process: a second load of a module (a test runner, two
 * import paths) finds the first one's metric instead of throwing "already registered".
 */
export function metric<T extends Metric>(name: string, make: (name: string) => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? make(name);
}

/** The process's CPU, memory, event-loop lag and GC metrics (prom-client's defaults), once, whoever asks first. */
export function collectProcessMetricsOnce(): void {
  if (register.getSingleMetric('process_cpu_user_seconds_total')) return;
  collectDefaultMetrics();
}

/** The registry in Prometheus's text format, for a `/metrics` route. */
export async function metricsExposition(): Promise<{ contentType: string; body: string }> {
  return { contentType: register.contentType, body: await register.metrics() };
}
