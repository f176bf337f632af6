import { analyticsConfigFromEnv, createAnalyticsService } from '@tickwise/analytics';
import { isTickwiseError } from '@tickwise/platform';
import { opsSettingsFromEnv, serveOps } from '../ops-server.ts';
import { invalidArgument, loggerFor, type CliSettings } from '../settings.ts';
import { untilSignal } from './common.ts';

const MAX_TABLE_LIMIT = 10_000;

/** `?limit=N` of /figures: 1 to 10000, default 100. Pure; throws `invalid_argument` naming the bad value (a 400). */
export function figuresLimit(query: URLSearchParams): number | undefined {
  const raw = query.get('limit');
  if (raw === null) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_TABLE_LIMIT) throw invalidArgument(`limit must be a whole number from 1 to ${MAX_TABLE_LIMIT}, got "${raw}"`);
  return Number(raw);
}

/**
 * The reference analytics consumer until SIGINT/SIGTERM: the run-event topic in its own consumer
 * group into per-endpoint rolling figures, served as /metrics and /figures beside /healthz and
 * /readyz on the ops port. It needs Kafka only (no database).
 */
export async function analyticsCommand(settings: CliSettings, env: NodeJS.ProcessEnv): Promise<number> {
  const log = loggerFor(settings, 'analytics');
  const config = analyticsConfigFromEnv(env);
  const opsSettings = opsSettingsFromEnv(env);
  const service = createAnalyticsService({ config, log });
  // Up before the consumer, so a taken port stops the command before it joins the group.
  const ops = await serveOps(opsSettings, () => service.ready(), log, { '/figures': (query) => service.table(figuresLimit(query)) });
  try {
    try {
      await service.start();
    } catch (error) {
      // The broker cannot be reached: said in the log, with the ops endpoints closed, rather than as a crash.
      if (isTickwiseError(error) && error.reason === 'start_failed') {
        log.error(error.message);
        return 1;
      }
      throw error;
    }
    log.info('analytics consumer started', { topic: config.topic, group: config.groupId, window_ms: config.windowMs, window_runs: config.windowRuns, max_series: config.maxSeries });
    const signal = await untilSignal(log);
    log.info('stopping', { signal });
    await service.stop();
    return 0;
  } finally {
    await ops?.close();
  }
}
