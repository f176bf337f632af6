import type { Pool } from '@tickwise/db';
import { analyzerFromEnv } from './analysis/select.ts';
import type { Analyzer } from './analysis/types.ts';
import { PlannerConfigError, plannerConfigFromEnv, type PlannerConfig } from './config.ts';
import { Planner, type PlannerLogger } from './planner.ts';
import { DatabaseRunEventSource } from './sources/database-source.ts';
import { KafkaRunEventSource, KafkaSourceError, parseBrokerList } from './sources/kafka-source.ts';
import type { RunEventSource } from './sources/types.ts';

/** Kafka settings of the planner; KAFKA_BROKERS switches from the database path to Kafka. */
export const KAFKA_ENV = ['KAFKA_BROKERS', 'KAFKA_TOPIC', 'KAFKA_GROUP_ID', 'KAFKA_CLIENT_ID'] as const;

export interface PlannerServiceOptions {
  pool: Pool;
  connectionString: string;
  env: NodeJS.ProcessEnv;
  log: PlannerLogger;
}

export interface PlannerService {
  planner: Planner;
  source: RunEventSource;
  analyzer: Analyzer;
  config: PlannerConfig;
  /** One line for the start-up log: where events come from and who analyses them. */
  description: string;
  stop(): Promise<void>;
}

/** The run-event source the environment asks for: Kafka when KAFKA_BROKERS is set, else the outbox table. */
export function sourceFromEnv(options: PlannerServiceOptions, config: PlannerConfig): RunEventSource {
  const { env, log } = options;
  if (env.KAFKA_BROKERS) {
    try {
      return kafkaSource();
    } catch (error) {
      if (error instanceof KafkaSourceError && error.code === 'invalid_options') {
        throw new PlannerConfigError(`${KAFKA_ENV.join(', ')}: ${error.message}`);
      }
      throw error;
    }
  }
  return new DatabaseRunEventSource({ pool: options.pool, connectionString: options.connectionString, owner: config.plannerId, pollIntervalMs: config.pollIntervalMs, log });

  function kafkaSource(): RunEventSource {
    return new KafkaRunEventSource({
      brokers: parseBrokerList(env.KAFKA_BROKERS!),
      ...(env.KAFKA_TOPIC ? { topic: env.KAFKA_TOPIC } : {}),
      ...(env.KAFKA_GROUP_ID ? { groupId: env.KAFKA_GROUP_ID } : {}),
      ...(env.KAFKA_CLIENT_ID ? { clientId: env.KAFKA_CLIENT_ID } : {}),
      log,
    });
  }
}

/**
 * Wires and starts a planner from the environment: settings validated first (a bad one throws
 * before anything starts), then the source, the analyzer and the planner. Composition root.
 */
export async function startPlannerService(options: PlannerServiceOptions): Promise<PlannerService> {
  const config = plannerConfigFromEnv(options.env);
  const analyzer = analyzerFromEnv(options.env);
  const source = sourceFromEnv(options, config);
  const planner = new Planner({ pool: options.pool, source, analyzer, config, log: options.log, prune: options.env.TICKWISE_PRUNE !== 'false' });
  await planner.start();
  return {
    planner,
    source,
    analyzer,
    config,
    description: `events from ${source.name === 'kafka' ? `Kafka (${options.env.KAFKA_BROKERS})` : 'the database outbox'}, ${analyzer.name} analyzer`,
    stop: () => planner.stop(),
  };
}
