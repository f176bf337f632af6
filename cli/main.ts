import { parseArgs } from 'node:util';
import { isTickwiseError } from '@tickwise/platform';
import { invalidArgument, readSettings, type CliSettings } from './settings.ts';

// Each command's module is imported when that command runs: `tickwise endpoints list` need not load
// the scheduler, the planner and kafkajs first (it did, and took 2.5 s to start).
const HELP = `tickwise: adaptive HTTP job scheduler

usage: tickwise <command> [options]

commands:
  dev                      embedded PostgreSQL (or DATABASE_URL), migrations, synthetic targets,
                           the demo job, a scheduler node, the planner and the gateway with a
                           fresh admin key (what npm start runs)
  migrate                  apply database migrations (DATABASE_URL)
  scheduler                run one scheduler node (DATABASE_URL); start several for several nodes
  planner                  run the planner (DATABASE_URL; KAFKA_BROKERS for the Kafka path,
                           OPENAI_API_KEY for the LLM analyzer)
  apply -f <jobs.yaml>     create or update jobs and endpoints from a file: through the API when
                           TICKWISE_URL is set (the key's tenant), else on DATABASE_URL in one
                           transaction (the default tenant)
        [--dry-run]        validate the file only (with TICKWISE_URL, also print the plan)
  gateway                  serve the API (gRPC, gRPC-Web, Connect) on TICKWISE_GATEWAY_PORT
  analytics                per-endpoint rolling figures from the run-event topic (KAFKA_BROKERS),
                           on /metrics and /figures of the ops port
  keys create|list|revoke  API keys on the database ("tickwise keys --help")

over the API (TICKWISE_URL, TICKWISE_API_KEY; --json prints the API's JSON; --help on each):
  endpoints list|get|pause|resume|trigger|preview   endpoints; <endpoint> is an id or <job>/<endpoint>
  runs <endpoint>          the latest runs, newest first
  hints <endpoint>         active hints (--all: past ones too)
  notifications            what the jobs' notify targets were told, with status, attempts, last error
  smoke                    checks a deployment end to end: the API, a recent synthetic run, the planner
  secrets set|list|delete  the tenant's named secrets, written {{secrets.NAME}} in endpoints
                           (secrets rotate-key: on DATABASE_URL; "tickwise secrets --help")
  signing create|rotate|revoke|list [--endpoint E]   signing secrets (whsec_…, shown once)
  audit [--since 1h]       the tenant's changes, newest first: who (key or OS user), what, when (admin key)

Settings are environment variables; README.md lists every one.`;

/** Commands with their own argument parsing: they get the arguments after the command name. */
const OWN_ARGS: Record<string, (argv: string[]) => Promise<number>> = {
  keys: async (argv) => (await import('./commands/keys.ts')).keysCommand(readSettings(process.env), argv),
  endpoints: async (argv) => (await import('./commands/endpoints.ts')).endpointsCommand(argv, process.env),
  runs: async (argv) => (await import('./commands/runs.ts')).runsCommand(argv, process.env),
  hints: async (argv) => (await import('./commands/hints.ts')).hintsCommand(argv, process.env),
  notifications: async (argv) => (await import('./commands/notifications.ts')).notificationsCommand(argv, process.env),
  smoke: async (argv) => (await import('./commands/smoke.ts')).smokeCommand(argv, process.env),
  secrets: async (argv) => (await import('./commands/secrets.ts')).secretsCommand(() => readSettings(process.env), argv, process.env),
  signing: async (argv) => (await import('./commands/signing.ts')).signingCommand(argv, process.env),
  audit: async (argv) => (await import('./commands/audit.ts')).auditCommand(argv, process.env),
};

/** Commands that take only the shared options (-f and --dry-run are apply's). */
const COMMANDS: Record<string, (settings: CliSettings, options: { file?: string; dryRun: boolean }) => Promise<number>> = {
  dev: async (settings) => (await import('./commands/dev.ts')).devCommand(settings, process.env),
  migrate: async (settings) => (await import('./commands/migrate.ts')).migrateCommand(settings),
  scheduler: async (settings) => (await import('./commands/scheduler.ts')).schedulerCommand(settings, process.env),
  planner: async (settings) => (await import('./commands/planner.ts')).plannerCommand(settings, process.env),
  gateway: async (settings) => (await import('./commands/gateway.ts')).gatewayCommand(settings, process.env),
  analytics: async (settings) => (await import('./commands/analytics.ts')).analyticsCommand(settings, process.env),
  apply: async (settings, options) => {
    if (!options.file) throw invalidArgument('"tickwise apply" needs -f <jobs.yaml>');
    return (await import('./commands/apply.ts')).applyCommand(settings, options.file, options.dryRun, process.env);
  },
};

async function main(argv: string[]): Promise<number> {
  const ownArgs = OWN_ARGS[argv[0] ?? ''];
  if (ownArgs) return ownArgs(argv.slice(1));
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
  const run = COMMANDS[command];
  if (!run) throw invalidArgument(`unknown command "${command}" (commands: ${[...Object.keys(COMMANDS), ...Object.keys(OWN_ARGS)].join(', ')})`);
  if (extra.length > 0) throw invalidArgument(`unexpected argument "${extra[0]}" for "tickwise ${command}"`);
  return run(readSettings(process.env), { file: values.file, dryRun: values['dry-run'] ?? false });
}

/**
 * The exit code of what a command threw: 2 when the command line or a setting cannot be used as
 * given (fix it and run again), 1 for the rest: what the API refused (even its invalid_argument: the
 * command line was fine, the request was not), what failed on the way, and bugs. By code, so a new
 * service's settings error is a 2 without this file knowing of it.
 */
function exitCodeOf(error: unknown): 1 | 2 {
  if (isTickwiseError(error)) return !error.fromApi && (error.code === 'invalid_config' || error.code === 'invalid_argument') ? 2 : 1;
  // node:util's parseArgs refuses an unknown option or a missing value with these.
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return error instanceof TypeError && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS') ? 2 : 1;
}

/**
 * What to print: the message of an error raised on purpose, with its reason or code in front when
 * the message does not say it (a failure on the way: `error (unavailable): ...`); a bug's stack.
 */
function describe(error: unknown, exitCode: 1 | 2): string {
  if (isTickwiseError(error)) return exitCode === 2 || error.fromApi ? `error: ${error.message}` : `error (${error.reason ?? error.code}): ${error.message}`;
  if (exitCode === 2) return `error: ${(error as Error).message}`;
  return `error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  const exitCode = exitCodeOf(error);
  console.error(describe(error, exitCode));
  process.exitCode = exitCode;
}
