import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { formatDuration, parseDuration } from './duration.ts';
import { invalidConfig, isTickwiseError } from './errors.ts';

/**
 * How every process reads its environment. A setting is read by its variable's name and the
 * message of a mistake names the variable and what it got; a variable that is unset or empty is
 * `undefined` (the caller's default applies). Then a config object is checked once, field by field
 * (`checkInteger`), and `namingVariables` puts the variable's name in front of such a message, so a
 * person reads which variable to fix. Every error is `invalid_config` (the CLI exits with 2).
 */

const PORT = /^\d+$/;

function raw(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** A duration such as `30s`; `min`/`max` (ms) are checked here, with the variable's own words. */
export function envDuration(env: NodeJS.ProcessEnv, name: string, options: { examples?: string; min?: number; max?: number } = {}): number | undefined {
  const text = raw(env, name);
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined) throw invalidConfig(`${name} must be a duration such as ${options.examples ?? '500ms, 30s or 5m'}, got "${text}"`);
  if ((options.min !== undefined && ms < options.min) || (options.max !== undefined && ms > options.max)) {
    throw invalidConfig(`${name} must be from ${formatDuration(options.min ?? 0)} to ${formatDuration(options.max ?? Number.MAX_SAFE_INTEGER)}, got "${text}"`);
  }
  return ms;
}

/** A whole number (0 or more); with `min`/`max` the range is part of the one message. */
export function envCount(env: NodeJS.ProcessEnv, name: string, options: { min?: number; max?: number } = {}): number | undefined {
  const text = raw(env, name);
  if (text === undefined) return undefined;
  const ranged = options.min !== undefined && options.max !== undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || (ranged && (value < options.min! || value > options.max!))) {
    throw invalidConfig(`${name} must be a whole number${ranged ? ` from ${options.min} to ${options.max}` : ''}, got "${text}"`);
  }
  return value;
}

export function envFlag(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const text = raw(env, name);
  if (text === undefined) return undefined;
  if (text !== 'true' && text !== 'false') throw invalidConfig(`${name} must be true or false, got "${text}"`);
  return text === 'true';
}

export function envPort(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const text = raw(env, name);
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!PORT.test(text) || port < 1 || port > 65_535) throw invalidConfig(`${name} must be a port number (1-65535), got "${text}"`);
  return port;
}

/** One of `choices`; `expected` words the list when "one of a, b, c" reads badly. */
export function envChoice<T extends string>(env: NodeJS.ProcessEnv, name: string, choices: readonly T[], expected = `one of ${choices.join(', ')}`): T | undefined {
  const text = raw(env, name);
  if (text === undefined) return undefined;
  if (!(choices as readonly string[]).includes(text)) throw invalidConfig(`${name} must be ${expected}, got "${text}"`);
  return text as T;
}

/** Free text (trimmed of nothing: a value is taken as written). */
export function envText(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return raw(env, name);
}

/** Checks one field of a config object: the message starts with the field's name (see `namingVariables`). */
export function checkInteger(field: string, value: unknown, min: number, max: number): void {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw invalidConfig(`${field} must be an integer between ${min} and ${max}, got ${String(value)}`);
  }
}

export function checkBoolean(field: string, value: unknown): void {
  if (typeof value !== 'boolean') throw invalidConfig(`${field} must be true or false, got ${String(value)}`);
}

/**
 * Runs `resolve` (which checks a config whose fields came from `variables`) and puts the variable's
 * name in front of a field's message: `TICKWISE_LEASE: leaseMs must be an integer between …`.
 */
export function namingVariables<T>(variables: Readonly<Record<string, string>>, resolve: () => T): T {
  try {
    return resolve();
  } catch (error) {
    if (!isTickwiseError(error, 'invalid_config')) throw error;
    const field = error.message.split(' ')[0];
    const name = Object.entries(variables).find(([, key]) => key === field)?.[0];
    throw name ? invalidConfig(`${name}: ${error.message}`, error.reason) : error;
  }
}

/** Reads every variable of `variables` (name → config field) by its kind; a variable left unset stays out. */
export function overridesFromEnv<F extends string>(
  env: NodeJS.ProcessEnv,
  variables: Readonly<Record<string, F>>,
  kinds: Readonly<Partial<Record<F, 'count' | 'flag' | 'text'>>>,
  durationExamples?: string,
): Partial<Record<F, number | boolean | string>> {
  const overrides: Partial<Record<F, number | boolean | string>> = {};
  for (const [name, field] of Object.entries(variables) as [string, F][]) {
    const kind = kinds[field] ?? 'duration';
    const value =
      kind === 'count' ? envCount(env, name) : kind === 'flag' ? envFlag(env, name) : kind === 'text' ? envText(env, name) : envDuration(env, name, durationExamples ? { examples: durationExamples } : {});
    if (value !== undefined) overrides[field] = value;
  }
  return overrides;
}

/** A name for this process in leases, runs and logs: host, pid and a little randomness. */
export function defaultProcessId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
}

/** Checks a process name (a worker or planner id): what may stand in a lease owner and a log line. */
export function checkProcessId(field: string, value: string): void {
  if (!/^[A-Za-z0-9._:-]{1,100}$/.test(value)) throw invalidConfig(`${field} must be 1-100 letters, digits, ".", "_", ":" or "-", got "${value}"`);
}
