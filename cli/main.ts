import { parseArgs } from 'node:util';
import { ConfigError } from '@tickwise/scheduler';
import { KafkaSourceError, PlannerConfigError } from '@tickwise/planner';
import { DbError } from '@tickwise/db';
import { applyCommand } from './commands/apply.ts';
import { devCommand } from './commands/dev.ts';
import { gatewayCommand } from './commands/gateway.ts';
import { keysCommand } from './commands/keys.ts';
import { migrateCommand } from './commands/migrate.ts';
import { plannerCommand } from './commands/planner.ts';
import { schedulerCommand } from './commands/scheduler.ts';
import { JobsFileError } from './jobs-file.ts';
import { readSettings, UsageError } from './settings.ts';

const HELP = `tickwise: adaptive HTTP job scheduler

usage: tickwise <command> [options]

commands:
  dev                      embedded PostgreSQL (or DATABASE_URL), migrations, synthetic
                           targets, the demo job and one scheduler node (what npm start runs)
  migrate                  apply database migrations (DATABASE_URL)
  scheduler                run one scheduler node (DATABASE_URL); start several for several nodes
  planner                  run the planner (DATABASE_URL; KAFKA_BROKERS for the Kafka path,
                           OPENAI_API_KEY for the LLM analyzer)
  apply -f <jobs.yaml>     create or update jobs and endpoints from a file, in one transaction
        [--dry-run]        validate the file only
  gateway                  serve the API (gRPC, gRPC-Web, Connect) on TICKWISE_GATEWAY_PORT
  keys create|list|revoke  API keys on the database ("tickwise keys --help")

Settings are environment variables; README.md lists every one.`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'keys') return keysCommand(readSettings(process.env), argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { file: { type: 'string', short: 'f' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, ...extra] = positionals;
  if (values.help || !command) {
    console.log(HELP);
    return command || values.help ? 0 : 2;
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}" for "tickwise ${command}"`);
  const settings = readSettings(process.env);
  switch (command) {
    case 'dev':
      return devCommand(settings, process.env);
    case 'migrate':
      return migrateCommand(settings);
    case 'scheduler':
      return schedulerCommand(settings, process.env);
    case 'planner':
      return plannerCommand(settings, process.env);
    case 'apply':
      if (!values.file) throw new UsageError('"tickwise apply" needs -f <jobs.yaml>');
      return applyCommand(settings, values.file, values['dry-run'] ?? false);
    case 'gateway':
      return gatewayCommand(settings, process.env);
    default:
      throw new UsageError(`unknown command "${command}" (commands: dev, migrate, scheduler, planner, apply, gateway, keys)`);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof JobsFileError) {
    console.error(`error: ${error.file} was not applied (nothing changed):\n${error.message}`);
    process.exitCode = 2;
  } else if (error instanceof UsageError || error instanceof ConfigError || error instanceof PlannerConfigError ||
    (error instanceof KafkaSourceError && error.code === 'invalid_options') || (error instanceof TypeError && (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS'))) {
    console.error(`error: ${(error as Error).message}`);
    process.exitCode = 2;
  } else if (error instanceof DbError) {
    console.error(`error (${error.code}): ${error.message}`);
    process.exitCode = 1;
  } else {
    console.error(`error: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = 1;
  }
}
