import type { TargetPolicy } from '@tickwise/platform';
import { HeuristicAnalyzer } from '../../src/analysis/index.ts';
import { resolvePlannerConfig } from '../../src/config.ts';
import { Notifier } from '../../src/notify/notifier.ts';
import { resolveNotifySettings, type NotifySettings } from '../../src/notify/settings.ts';
import { Planner } from '../../src/planner.ts';
import { DatabaseRunEventSource } from '../../src/sources/database-source.ts';
import type { RunEventSource } from '../../src/sources/types.ts';
import type { TestDatabase } from '../../../../test/support/database.ts';
import type { ReceivedCall } from '../../../../test/support/http-target.ts';
import { memoryLogger } from '../../../../test/support/logger.ts';
import { TEST_TARGET_POLICY } from '../../../../test/support/targets.ts';

/** Notification settings for tests: quick retries and polling. */
export function testNotifySettings(overrides: Partial<NotifySettings> = {}): NotifySettings {
  return resolveNotifySettings({ backoffMs: 300, maxBackoffMs: 1_000, pollMs: 200, timeoutMs: 2_000, ...overrides });
}

export interface RunningPlanner {
  planner: Planner;
  notifier: Notifier;
  log: ReturnType<typeof memoryLogger>;
  stop(): Promise<void>;
}

/**
 * A planner with its notifier, as `startPlannerService` wires them: the database path unless a
 * source is given, the heuristic analyzer; private targets allowed unless `policy` says otherwise
 * (the receivers are on 127.0.0.1).
 */
export async function startNotifyingPlanner(
  db: TestDatabase,
  options: { id: string; settings?: Partial<NotifySettings>; policy?: TargetPolicy; source?: RunEventSource } = { id: 'planner-notify' },
): Promise<RunningPlanner> {
  const log = memoryLogger();
  const config = resolvePlannerConfig({ plannerId: options.id, minIntervalMs: 60_000, urgentFloorMs: 0 });
  const notifier = new Notifier({ pool: db.pool, connectionString: db.url, settings: testNotifySettings(options.settings), policy: options.policy ?? TEST_TARGET_POLICY, owner: options.id, log });
  const source = options.source ?? new DatabaseRunEventSource({ pool: db.pool, connectionString: db.url, owner: options.id, log, pollIntervalMs: 200 });
  const planner = new Planner({ pool: db.pool, source, analyzer: new HeuristicAnalyzer(), config, log, notifications: notifier });
  notifier.start();
  await planner.start();
  return {
    planner,
    notifier,
    log,
    async stop() {
      await planner.stop();
      await notifier.stop();
    },
  };
}

/** A notification as a receiver got it: the parsed webhook body or Slack payload, with the call. */
export interface Receipt {
  call: ReceivedCall;
  body: Record<string, any>;
}

/** The calls of a receiver at `path`, parsed; `kind` keeps webhook bodies of that kind (`failing`, …). */
export function receipts(calls: readonly ReceivedCall[], path: string, kind?: string): Receipt[] {
  return calls
    .filter((call) => call.path === path)
    .map((call) => ({ call, body: JSON.parse(call.body) as Record<string, any> }))
    .filter((receipt) => kind === undefined || receipt.body.kind === kind || String(receipt.body.text ?? '').includes(kind));
}
