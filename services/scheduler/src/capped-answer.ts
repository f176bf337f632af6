import { util as undiciUtil, type Dispatcher } from 'undici';

export const MAX_CAPTURED_BYTES = 64 * 1024;

/** What a call's target answered: its status, Retry-After, and at most 64 KiB of the body. */
export interface Answer {
  statusCode: number;
  retryAfter: string | string[] | undefined;
  text: string;
  truncated: boolean;
}

/**
 * One call as undici's dispatcher sees it (the handler of `Agent.dispatch`), read straight from its
 * callbacks: no response stream, async iterator or extra promise per call, which were a fair part of
 * a node's CPU and garbage at thousands of calls a second. At most 64 KiB of the body is kept; past
 * that the request is aborted, dropping the connection instead of draining a huge or endless body.
 * `abort` ends the call at once with its reason (the deadline, the node shutting down), before or
 * after it reached a connection. Settles exactly once.
 */
export class CappedAnswer implements Dispatcher.DispatchHandler {
  /** Why the call was aborted, if it was: reported instead of what undici raises for it. */
  private reason: Error | null = null;
  private abortRequest: ((reason: Error) => void) | null = null;
  private done = false;
  private statusCode = 0;
  private retryAfter: string | string[] | undefined;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private truncated = false;
  /** Resolves once: with the answer, or with the error the call ended in. */
  readonly settled: Promise<Answer | Error>;
  private settle!: (outcome: Answer | Error) => void;

  constructor() {
    this.settled = new Promise((resolve) => (this.settle = resolve));
  }

  /** Whether `abort` was called: such a call is not handed to undici at all. */
  get aborted(): boolean {
    return this.reason !== null;
  }

  abort(reason: Error): void {
    if (this.done) return;
    this.reason = reason;
    this.abortRequest?.(reason);
    this.finish(reason);
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.reason) abort(this.reason);
    else this.abortRequest = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    // 1xx answers are interim: the final one follows.
    if (statusCode < 200) return true;
    this.statusCode = statusCode;
    if (statusCode === 429 || statusCode === 503) this.retryAfter = undiciUtil.parseHeaders(rawHeaders)['retry-after'];
    return true;
  }

  onData(chunk: Buffer): boolean {
    const room = MAX_CAPTURED_BYTES - this.size;
    if (chunk.length < room) {
      this.chunks.push(chunk);
      this.size += chunk.length;
      return true;
    }
    if (room > 0) this.chunks.push(chunk.subarray(0, room));
    this.truncated = chunk.length > room;
    this.complete();
    // Paused now (false), dropped once the parser has returned: not from within its callback.
    queueMicrotask(() => this.abortRequest?.(new Error('answer longer than the 64 KiB kept: connection dropped')));
    return false;
  }

  onComplete(): void {
    this.complete();
  }

  onError(error: Error): void {
    this.finish(this.reason ?? error);
  }

  private complete(): void {
    const text = this.chunks.length === 1 ? this.chunks[0]!.toString('utf8') : Buffer.concat(this.chunks).toString('utf8');
    this.finish({ statusCode: this.statusCode, retryAfter: this.retryAfter, text, truncated: this.truncated });
  }

  private finish(outcome: Answer | Error): void {
    if (this.done) return;
    this.done = true;
    this.settle(outcome);
  }
}
