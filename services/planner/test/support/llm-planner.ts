/** Fixtures shared by the llm-planner-*.unit.test.ts files: a failing endpoint picture, scripted tool calls, and the fake model server. */
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import type { EndpointSpec } from '@tickwise/machines';
import { heuristicDecision, LlmAnalyzer, type EndpointPicture, type LlmSettings, type RecentRun } from '../../src/analysis/index.ts';
import { startFakeOpenAi, type FakeOpenAi, type FakeReply, type ScriptedCall } from './fake-openai.ts';

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const NOW = new Date('2026-11-24T09:00:00.000Z');
export const ahead = (ms: number) => new Date(NOW.getTime() + ms);

export const SPEC: EndpointSpec = {
  url: 'http://secret-host.internal:9999/orders?token=s3cr3t',
  method: 'GET',
  headers: { Authorization: 'Bearer hidden' },
  schedule: { kind: 'every', everyMs: 10 * SECOND },
  jitter: 0,
  timeoutMs: 10 * SECOND,
  catchUp: 'skip',
};

export function run(index: number, fields: Partial<RecentRun> = {}): RecentRun {
  return {
    runId: `run-${index}`,
    status: 'succeeded',
    httpStatus: 200,
    durationMs: 100,
    latenessMs: 0,
    errorKind: null,
    retryAfterMs: null,
    finishedAt: new Date(NOW.getTime() - SECOND - (10 - index) * 10 * SECOND),
    lastAttempt: true,
    ...fields,
  };
}

/** Ten runs, the last three failed with HTTP 500: the heuristic backs off to 20 s. */
export function failingPicture(extra: Partial<EndpointPicture> = {}): EndpointPicture {
  const recent = Array.from({ length: 10 }, (_, index) => run(index, index >= 7 ? { status: 'failed', httpStatus: 500, errorKind: 'http_status' } : {}));
  return {
    endpointId: 'endpoint-1',
    jobId: 'job-1',
    spec: SPEC,
    baselineIntervalMs: 10 * SECOND,
    recent,
    consecutiveFailures: 3,
    consecutiveSuccesses: 0,
    activeHints: [],
    trigger: 'failure_streak',
    now: NOW,
    ...extra,
  };
}

export const SAFE = heuristicDecision(failingPicture());
export const interval = (seconds: number, ttl = 600): ScriptedCall => ({ name: 'propose_interval', arguments: { interval_seconds: seconds, ttl_seconds: ttl, reason: `every ${seconds}s` } });
export const tools = (...calls: ScriptedCall[]): FakeReply => ({ toolCalls: calls });

/**
 * Starts a fake OpenAI server for the calling test file, hands it to `onStart`, forgets its requests before each
 * test and checks after each one that every scripted reply was asked for.
 */
export function useFakeOpenAi(onStart: (fake: FakeOpenAi) => void): void {
  let fake: FakeOpenAi;
  beforeAll(async () => {
    fake = await startFakeOpenAi();
    onStart(fake);
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
  });
  afterEach(() => {
    expect(fake.pending(), 'every scripted reply was asked for').toBe(0);
  });
}

/** An LlmAnalyzer that talks to `fake`. */
export function analyzerFor(fake: FakeOpenAi, settings: Partial<LlmSettings> = {}): LlmAnalyzer {
  return new LlmAnalyzer({ apiKey: 'test-key', baseURL: fake.baseURL, ...settings });
}
