import type { Pool } from '@tickwise/db';
import { envFlag, envText, invalidConfig, isTickwiseError, targetPolicyFromEnv, type Logger } from '@tickwise/platform';
import { analyzerFromEnv } from './analysis/select.ts';
import type { Analyzer } from './analysis/types.ts';
import { plannerConfigFromEnv, type PlannerConfig } from './config.ts';
import { Planner } from './planner.ts';
import { DatabaseRunEventSource } from './sources/database-source.ts';
import { KafkaRunEventSource, parseBrokerList } from './sources/kafka-source.ts';
import { Notifier } from './notify/notifier.ts';
import { notifySettingsFromEnv } from './notify/settings.ts';
import type { RunEventSource } from './sources/types.ts';

/** Kafka settings of the planner; KAFKA_BROKERS switches from the database path to Kafka. */
export const KAFKA_ENV = ['KAFKA_BROKERS', 'KAFKA_TOPIC', 'KAFKA_GROUP_ID', 'KAFKA_CLIENT_ID'] as const;

export interface PlannerServiceOptions {
  pool: Pool;
  connectionString: string;
  env: NodeJS.ProcessEnv;
  log: Logger;
}

export interface PlannerService {
  planner: Planner;
  source: RunEventSource;
  analyzer: Analyzer;
  config: PlannerConfig;
  /** Sends notifications (failing, recovered, paused) to the jobs' notify targets. */
  notifier: Notifier;
  /** One line for the start-up log: where events come from and who analyses them. */
  description: string;
  stop(): Promise<void>;
}

/** The run-event source the environment asks for: Kafka when KAFKA_BROKERS is set, else the outbox table. */
export function sourceFromEnv(options: PlannerServiceOptions, config: PlannerConfig): RunEventSource {
  const { env, log } = options;
  const brokers = envText(env, 'KAFKA_BROKERS');
  if (brokers === undefined) {
    return new DatabaseRunEventSource({ pool: options.pool, connectionString: options.connectionString, owner: config.plannerId, pollIntervalMs: config.pollIntervalMs, log });
  }
  const topic = envText(env, 'KAFKA_TOPIC');
  const groupId = envText(env, 'KAFKA_GROUP_ID');
  const clientId = envText(env, 'KAFKA_CLIENT_ID');
  try {
    return new KafkaRunEventSource({ brokers: parseBrokerList(brokers), ...(topic ? { topic } : {}), ...(groupId ? { groupId } : {}), ...(clientId ? { clientId } : {}), log });
  } catch (error) {
    // The source's message names its option; the person fixing it needs the variables.
    if (isTickwiseError(error, 'invalid_config')) throw invalidConfig(`${KAFKA_ENV.join(', ')}: ${error.message}`, error.reason);
    throw error;
  }
}

/**
 * Wires and starts a planner from the environment: settings validated first (a bad one throws
 * before anything starts), then the source, the analyzer and the planner. Composition root.
 */
export async function startPlannerService(options: PlannerServiceOptions): Promise<PlannerService> {
  const config = plannerConfigFromEnv(options.env);
  const analyzer = analyzerFromEnv(options.env);
  const prune = envFlag(options.env, 'TICKWISE_PRUNE') ?? true;
  const notifySettings = notifySettingsFromEnv(options.env);
  const policy = targetPolicyFromEnv(options.env);
  const source = sourceFromEnv(options, config);
  const notifier = new Notifier({ pool: options.pool, connectionString: options.connectionString, settings: notifySettings, policy, owner: config.plannerId, log: options.log });
  const planner = new Planner({ pool: options.pool, source, analyzer, config, log: options.log, prune, notifications: notifier });
  notifier.start();
  try {
    await planner.start();
  } catch (error) {
    await notifier.stop();
    throw error;
  }
  return {
    planner,
    source,
    analyzer,
    config,
    notifier,
    description: `events from ${source.name === 'kafka' ? `Kafka (${envText(options.env, 'KAFKA_BROKERS')})` : 'the database outbox'}, ${analyzer.name} analyzer`,
    stop: async () => {
      await planner.stop();
      await notifier.stop();
    },
  };
}
