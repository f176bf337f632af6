import { parseArgs } from 'node:util';
import { invalidArgument } from '../settings.ts';

/** Every option of the API commands; each command says which of them it takes (checkArgs). */
const OPTIONS = {
  job: { type: 'string' },
  endpoint: { type: 'string' },
  state: { type: 'string' },
  status: { type: 'string' },
  name: { type: 'string' },
  archived: { type: 'boolean' },
  all: { type: 'boolean' },
  limit: { type: 'string' },
  reason: { type: 'string' },
  for: { type: 'string' },
  within: { type: 'string' },
  'planner-within': { type: 'string' },
  count: { type: 'string' },
  from: { type: 'string' },
  since: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type ApiArgs = ReturnType<typeof parseApiArgs>;

export function parseApiArgs(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
}

/**
 * Refuses options `command` does not take and a wrong number of arguments; `wanted` arguments are
 * expected, each an endpoint unless `what` says otherwise.
 */
export function checkArgs(command: string, values: ApiArgs['values'], allowed: readonly string[], args: readonly string[], wanted: number, what = 'an endpoint: its id or <job>/<endpoint>'): void {
  for (const [option, value] of Object.entries(values)) {
    if (value !== undefined && option !== 'help' && !allowed.includes(option)) throw invalidArgument(`--${option} does not apply to "tickwise ${command}"`);
  }
  if (args.length < wanted) throw invalidArgument(`"tickwise ${command}" needs ${what}`);
  if (args.length > wanted) throw invalidArgument(`unexpected argument "${args[wanted]}" for "tickwise ${command}"`);
}
