import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

// Child processes of `npm test`: run and wait, remember which are running (a SIGTERM to `npm test`
// is passed on to them), and clean-ups that a second Ctrl-C cannot cut short.

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** 'inherit': the terminal sees everything (vitest, tsc); 'capture': kept for a message; 'stderr': stdout kept, stderr shown. */
  output?: 'inherit' | 'capture' | 'stderr';
  /**
   * Its own process group: a Ctrl-C in the terminal does not reach it. For the clean-ups, which
   * must finish even when the user presses Ctrl-C again.
   */
  detached?: boolean;
}

const running = new Set<ChildProcess>();

/** Runs a command to its end; never rejects (a command that cannot start gives code null and the reason in stderr). */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<Ran> {
  const output = options.output ?? 'capture';
  const stdio: StdioOptions = output === 'inherit' ? 'inherit' : ['ignore', 'pipe', output === 'stderr' ? 'inherit' : 'pipe'];
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio, detached: options.detached ?? false });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (error) => {
      running.delete(child);
      resolve({ code: null, signal: null, stdout, stderr: `${stderr}${command}: ${error.message}` });
    });
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Passes a signal on to every child still running (a Ctrl-C reaches them by itself; a SIGTERM to npm does not). */
export function signalChildren(signal: NodeJS.Signals): void {
  for (const child of running) if (!child.killed) child.kill(signal);
}

/** An executable named `name` on PATH, or null. */
export function onPath(name: string, path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The last non-empty line of some output, for a one-line reason. */
export function lastLine(text: string): string {
  return text.trim().split('\n').filter((line) => line.trim()).pop()?.trim() ?? '';
}

/** The last lines of some output, indented, for a failure worth reading in full. */
export function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).map((line) => `    ${line}`).join('\n');
}

/** Clean-ups, run once in the reverse order of registration (Kafka Connect before the database it reads). */
export class Cleanup {
  private readonly steps: { name: string; step: () => Promise<void> }[] = [];
  private done = false;

  add(name: string, step: () => Promise<void>): void {
    this.steps.push({ name, step });
  }

  async run(log: (line: string) => void): Promise<void> {
    if (this.done) return;
    this.done = true;
    for (const { name, step } of this.steps.reverse()) {
      const began = Date.now();
      try {
        await step();
        log(`[tests] stopped ${name} (${seconds(began)})`);
      } catch (error) {
        log(`[tests] stopping ${name} failed: ${(error as Error).message}`);
      }
    }
  }
}

/** Seconds since `began`, for the lines that say how long a step took. */
export function seconds(began: number): string {
  return `${Math.round((Date.now() - began) / 1000)} s`;
}
