/** LlmAnalyzer falling back to the heuristic: refused tool calls, bad answers, HTTP errors, timeouts and aborts. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Hint } from '@tickwise/machines';
import { waitFor } from '../../../test/support/wait.ts';
import { heuristicDecision, type LlmAnalyzer, type EndpointPicture, type LlmSettings } from '../src/analysis/index.ts';
import type { FakeOpenAi, FakeReply, ScriptedCall } from './support/fake-openai.ts';
import { SECOND, MINUTE, HOUR, NOW, ahead, failingPicture, SAFE, interval, tools, useFakeOpenAi, analyzerFor } from './support/llm-planner.ts';

let fake: FakeOpenAi;
useFakeOpenAi((started) => {
  fake = started;
});

function analyzer(settings: Partial<LlmSettings> = {}): LlmAnalyzer {
  return analyzerFor(fake, settings);
}

interface BadCase {
  name: string;
  reply: FakeReply;
  fallback: string;
  /** The error recorded on the first call, when the model made one. */
  error?: string;
  picture?: EndpointPicture;
}

const badCases: BadCase[] = [
  {
    name: 'malformed JSON arguments',
    reply: tools({ name: 'propose_interval', arguments: '{"interval_seconds": 40,' }),
    fallback: 'refused tool call propose_interval: arguments are not valid JSON',
    error: 'arguments are not valid JSON',
  },
  {
    name: 'arguments of the wrong type',
    reply: tools({ name: 'propose_interval', arguments: { interval_seconds: '40', ttl_seconds: 600, reason: 'x' } }),
    fallback: 'refused tool call propose_interval: arguments do not match the schema: interval_seconds: Invalid input: expected number, received string',
    error: 'interval_seconds: Invalid input: expected number, received string',
  },
  {
    name: 'a tool that is not offered',
    reply: tools({ name: 'delete_endpoint', arguments: { id: 'endpoint-1' } }),
    fallback: 'refused tool call delete_endpoint: "delete_endpoint" is not an offered tool (offered: propose_interval, propose_next_time, pause_until, clear_hints, keep_schedule)',
    error: '"delete_endpoint" is not an offered tool',
  },
  {
    name: 'an interval below the floor',
    reply: tools(interval(2)),
    fallback: 'refused tool call propose_interval: interval_seconds 2 is below the floor of 10 s (10s)',
    error: 'interval_seconds 2 is below the floor',
  },
  {
    name: 'an interval above the ceiling',
    reply: tools(interval(86_400)),
    fallback: 'refused tool call propose_interval: interval_seconds 86400 is above the ceiling of 900 s (15m)',
    error: 'above the ceiling',
  },
  {
    name: 'a ttl that never ends',
    reply: tools(interval(20, 1e12)),
    fallback: 'refused tool call propose_interval: ttl_seconds 1000000000000 is outside 60..604800',
    error: 'ttl_seconds 1000000000000 is outside 60..604800',
  },
  {
    name: 'a pause beyond the horizon',
    reply: tools({ name: 'pause_until', arguments: { until: ahead(2 * HOUR).toISOString(), reason: 'long' } }),
    fallback: `refused tool call pause_until: until ${ahead(2 * HOUR).toISOString()} is after ${ahead(15 * MINUTE).toISOString()}, the longest pause allowed`,
    error: 'the longest pause allowed',
  },
  {
    name: 'a time without a time zone',
    reply: tools({ name: 'pause_until', arguments: { until: '2026-11-24T09:05:00', reason: 'x' } }),
    fallback: 'refused tool call pause_until: until "2026-11-24T09:05:00" is not an ISO 8601 time with a time zone',
    error: 'is not an ISO 8601 time with a time zone',
  },
  {
    name: 'a one-shot run in the past',
    reply: tools({ name: 'propose_next_time', arguments: { at: '2026-11-24T08:00:00Z', reason: 'x' } }),
    fallback: 'refused tool call propose_next_time: at 2026-11-24T08:00:00.000Z is not in the future (now is 2026-11-24T09:00:00.000Z)',
    error: 'is not in the future',
  },
  {
    name: "a slow-down over a person's interval hint",
    picture: failingPicture({ activeHints: [{ id: 'h1', kind: 'interval', intervalMs: 5 * SECOND, reason: 'demo', source: 'ops:alice', createdAt: NOW, expiresAt: ahead(HOUR) }] }),
    reply: tools(interval(40)),
    fallback: `refused tool call propose_interval: a person's interval hint is in force until ${ahead(HOUR).toISOString()}; the planner leaves it alone`,
    error: "a person's interval hint is in force",
  },
  {
    name: 'two calls of one tool',
    reply: tools(interval(20), interval(40)),
    fallback: 'refused tool call propose_interval: only one propose_interval per answer',
    error: 'not applied: refused tool call propose_interval: only one propose_interval per answer',
  },
  {
    name: 'clear_hints mixed with a proposal',
    reply: tools({ name: 'clear_hints', arguments: { reason: 'x' } }, interval(20)),
    fallback: 'refused tool call clear_hints: clear_hints cannot be combined with other calls',
    error: 'clear_hints cannot be combined with other calls',
  },
  {
    name: 'too many tool calls',
    reply: tools(interval(20), { name: 'keep_schedule', arguments: { reason: 'a' } }, { name: 'keep_schedule', arguments: { reason: 'b' } }, { name: 'keep_schedule', arguments: { reason: 'c' } }, { name: 'keep_schedule', arguments: { reason: 'd' } }),
    fallback: 'too many tool calls: 5, at most 4 per answer',
    error: 'too many tool calls: 5, at most 4 per answer',
  },
  {
    name: 'a custom (free-form) tool call',
    reply: tools({ name: 'propose_interval', arguments: 'every 40 seconds', custom: true }),
    fallback: 'refused tool call propose_interval: "propose_interval" is not an offered tool (a custom tool)',
    error: 'is not an offered tool (a custom tool)',
  },
  {
    name: 'arguments far too long',
    reply: tools({ name: 'propose_interval', arguments: { interval_seconds: 20, ttl_seconds: 600, reason: 'x'.repeat(3_000) } }),
    fallback: 'refused tool call propose_interval: arguments are too long: 3053 characters, at most 2000',
    error: 'arguments are too long',
  },
  { name: 'no tool call at all', reply: { text: 'I think it is fine.' }, fallback: 'the model made no tool call' },
  { name: 'an answer cut at the token limit', reply: { text: 'Let me think step by', finishReason: 'length' }, fallback: 'the answer hit the limit of 600 tokens before any tool call' },
];

describe('LlmAnalyzer: falls back to the heuristic', () => {
  it.each(badCases)('$name, twice', async ({ reply, fallback, error, picture }) => {
    fake.script(reply, reply);
    const input = picture ?? failingPicture();
    const decision = await analyzer().analyze(input);
    const safe = heuristicDecision(input);
    expect(decision).toMatchObject({ planner: 'llm', proposals: safe.proposals, reasoning: safe.reasoning, model: 'gpt-4o-mini', tokensIn: 200, tokensOut: 40 });
    expect(decision.fallback).toContain(fallback);
    expect(decision.fallback).toMatch(/\(after 2 rounds\)$/);
    expect(fake.requests).toHaveLength(2);
    if (error !== undefined) {
      const calls = 'toolCalls' in reply ? reply.toolCalls.length : 0;
      expect(decision.toolCalls).toHaveLength(2 * calls);
      expect(decision.toolCalls.every((call) => !call.accepted)).toBe(true);
      expect(decision.toolCalls[0]!.error).toContain(error);
      // The refused call is kept as the model sent it.
      expect(decision.toolCalls[0]!.name).toBe((reply as { toolCalls: ScriptedCall[] }).toolCalls[0]!.name);
    } else {
      expect(decision.toolCalls).toEqual([]);
    }
  });

  it('records a runaway answer up to one call past the limit', async () => {
    fake.script(tools(...Array.from({ length: 30 }, () => interval(20))));
    const decision = await analyzer({ maxRounds: 1 }).analyze(failingPicture());
    expect(decision.fallback).toBe('too many tool calls: 30, at most 4 per answer');
    expect(decision.toolCalls).toHaveLength(5);
    expect(decision.toolCalls[4]!.error).toBe('too many tool calls: 30, at most 4 per answer; 25 more not recorded');
    expect(decision.proposals).toEqual(SAFE.proposals);
  });

  it('an answer without a choice', async () => {
    fake.script({ status: 200, body: { id: 'x', object: 'chat.completion', created: 0, model: 'gpt-4o-mini', choices: [] } });
    const decision = await analyzer().analyze(failingPicture());
    expect(decision).toEqual({ ...SAFE, planner: 'llm', model: 'gpt-4o-mini', fallback: 'the model server answered without a choice' });
  });

  it('a picture the prompt cannot describe', async () => {
    const broken: Hint = { id: 'h', kind: 'pause_until', at: new Date(Number.NaN), reason: 'x', source: 'planner', createdAt: NOW, expiresAt: ahead(HOUR) };
    const input = failingPicture({ activeHints: [broken] });
    const decision = await analyzer().analyze(input);
    expect(decision.fallback).toBe('unexpected error: Invalid time value');
    expect(decision.proposals).toEqual(heuristicDecision(input).proposals);
    expect(fake.requests).toHaveLength(0);
  });

  it('one round when maxRounds is 1', async () => {
    fake.script(tools({ name: 'delete_endpoint', arguments: {} }));
    const decision = await analyzer({ maxRounds: 1 }).analyze(failingPicture());
    expect(decision.fallback).toBe('refused tool call delete_endpoint: "delete_endpoint" is not an offered tool (offered: propose_interval, propose_next_time, pause_until, clear_hints, keep_schedule)');
    expect(decision.proposals).toEqual(SAFE.proposals);
    expect(fake.requests).toHaveLength(1);
  });

  it.each([
    [500, 'the model server answered HTTP 500: 500 upstream exploded'],
    [429, 'the model server answered HTTP 429: 429 slow down'],
    [401, 'the model server answered HTTP 401: 401 bad key'],
  ])('HTTP %i: no retry, the heuristic decides', async (status, fallback) => {
    const message = { 500: 'upstream exploded', 429: 'slow down', 401: 'bad key' }[status];
    fake.script({ status, body: { error: { message, type: 'server_error' } } });
    const decision = await analyzer().analyze(failingPicture());
    expect(decision).toEqual({ ...SAFE, planner: 'llm', model: 'gpt-4o-mini', fallback });
    expect(fake.requests).toHaveLength(1);
  });

  it('an answer that never comes: timeout', async () => {
    fake.script({ hang: true });
    const decision = await analyzer({ timeoutMs: 300 }).analyze(failingPicture());
    expect(decision).toEqual({ ...SAFE, planner: 'llm', model: 'gpt-4o-mini', fallback: 'no answer within 300ms (timeout)' });
  });

  it('the timeout covers the whole analysis, rounds included', async () => {
    fake.script(tools({ name: 'delete_endpoint', arguments: {} }), { hang: true });
    const decision = await analyzer({ timeoutMs: 400 }).analyze(failingPicture());
    expect(decision.fallback).toBe('no answer within 400ms (timeout)');
    expect(decision.toolCalls).toMatchObject([{ name: 'delete_endpoint', accepted: false }]);
    expect(decision.tokensIn).toBe(100);
  });

  it("honours the caller's AbortSignal mid-request", async () => {
    fake.script({ hang: true });
    const controller = new AbortController();
    const pending = analyzer().analyze(failingPicture(), controller.signal);
    await waitFor('the request to reach the fake model', () => fake.requests.length === 1);
    controller.abort();
    expect(await pending).toMatchObject({ proposals: SAFE.proposals, fallback: 'aborted by the caller' });
  });

  it('does not ask the model when the signal is already aborted', async () => {
    const decision = await analyzer().analyze(failingPicture(), AbortSignal.abort());
    expect(decision.fallback).toBe('aborted by the caller before the model was asked');
    expect(fake.requests).toHaveLength(0);
  });

  it('a model server that cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const decision = await analyzer({ baseURL: `http://127.0.0.1:${port}/v1` }).analyze(failingPicture());
    expect(decision.fallback).toMatch(new RegExp(`^could not reach the model server at http://127\\.0\\.0\\.1:${port}/v1`));
    expect(decision.proposals).toEqual(SAFE.proposals);
  });
});
