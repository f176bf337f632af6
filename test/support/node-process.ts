import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TEST_TARGET_ENV } from './targets.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** One JSON log line of a child process, with the time the test read it. */
export interface LogLine {
  readAt: number;
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

export interface NodeProcess {
  readonly name: string;
  readonly lines: LogLine[];
  /** The first line at or after `since` whose message matches, if any. */
  find(pattern: RegExp, since?: number): LogLine | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Runs `tickwise <args>` as a child process (optionally behind a command prefix such as
 * `ip netns exec <ns>`), with only the environment given here plus PATH and HOME, and collects its
 * JSON log lines from stderr. Private targets are allowed (TEST_TARGET_ENV) unless `env` says otherwise.
 */
export function startTickwise(name: string, args: string[], env: Record<string, string>, prefix: readonly string[] = []): NodeProcess {
  const command = [...prefix, process.execPath, 'bin/tickwise.mjs', ...args];
  const child: ChildProcess = spawn(command[0]!, command.slice(1), {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', TICKWISE_LOG_FORMAT: 'json', ...TEST_TARGET_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let rest = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    const text = rest + chunk.toString();
    const parts = text.split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) {
      if (!part.trim()) continue;
      try {
        const { level, message, ...fields } = JSON.parse(part) as Record<string, unknown>;
        lines.push({ readAt: Date.now(), level: String(level), message: String(message), fields });
      } catch {
        lines.push({ readAt: Date.now(), level: 'raw', message: part, fields: {} });
      }
    }
  });
  child.stdout!.resume();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    lines,
    find: (pattern, since = 0) => lines.find((line) => line.readAt >= since && pattern.test(line.message)),
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
