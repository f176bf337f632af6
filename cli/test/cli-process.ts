import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TEST_TARGET_ENV } from '../../test/support/targets.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real CLI (`node bin/tickwise.mjs ...`) from the repository root. The settings that pick
 * a database or an API are dropped from the inherited environment; `env` sets what the test wants.
 * `input`, when given, is the command's stdin (else it has none).
 */
export function tickwise(args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<CliResult> {
  const full: NodeJS.ProcessEnv = { ...process.env, TICKWISE_LOG_FORMAT: 'json', TICKWISE_LOG_LEVEL: 'warn' };
  for (const name of ['DATABASE_URL', 'TICKWISE_URL', 'TICKWISE_API_KEY', 'TICKWISE_SECRETS_KEY', 'TICKWISE_SECRETS_KEY_FILE', 'TICKWISE_SECRETS_OLD_KEY', 'TICKWISE_SECRETS_OLD_KEY_FILE']) delete full[name];
  // The tests' targets are on 127.0.0.1: private targets allowed unless `env` says otherwise.
  Object.assign(full, TEST_TARGET_ENV, env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/tickwise.mjs', ...args], { cwd: REPO, env: full, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    child.stdin?.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The rows of a table the CLI printed, cells split on runs of two or more spaces (header first). */
export function tableRows(stdout: string): string[][] {
  return stdout
    .trimEnd()
    .split('\n')
    .map((line) => line.split(/ {2,}/));
}
