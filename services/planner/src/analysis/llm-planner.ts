import { formatDuration } from '@tickwise/platform';
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { heuristicDecision } from './heuristic.ts';
import { describePicture, SYSTEM_PROMPT } from './llm-prompt.ts';
import { checkToolCall, TOOL_DEFINITIONS, toolBounds, type CheckedCall, type ToolBounds } from './llm-tools.ts';
import { resolveHeuristicSettings, resolveLlmSettings, type HeuristicSettings, type LlmSettings } from './settings.ts';
import type { Analyzer, Decision, EndpointPicture, HintProposal, ToolCallRecord } from './types.ts';

type Message = OpenAI.Chat.ChatCompletionMessageParam;
type ToolCall = OpenAI.Chat.ChatCompletionMessageToolCall;

const REASONING_CHARS = 1_000;

/** What an analysis has gathered so far, kept when it falls back. */
interface Exchange {
  toolCalls: ToolCallRecord[];
  tokensIn: number | null;
  tokensOut: number | null;
}

/** How the rounds ended: a decision, answers that could not be applied, or a request that failed. */
type Outcome = { kind: 'decided'; decision: Decision } | { kind: 'refused'; problem: string } | { kind: 'failed'; error: unknown };

/** One answer of the model, checked as a whole. */
interface CheckedAnswer {
  records: ToolCallRecord[];
  proposals: HintProposal[];
  /** Why the answer as a whole is refused, or null when every call is accepted. */
  problem: string | null;
  /** What each call gets back when the model is asked again. */
  replies: { id: string; content: string }[];
}

/**
 * Asks a model (any OpenAI-compatible chat completions server) for hints through tool calls, and
 * falls back to the heuristic's decision, with `fallback` saying why, whenever the model cannot be
 * reached in time or its answer is not safe to apply. Never rejects.
 */
export class LlmAnalyzer implements Analyzer {
  readonly name = 'llm';
  readonly settings: LlmSettings;
  readonly heuristic: HeuristicSettings;
  private readonly client: OpenAI;

  /** Validates the settings once; throws TickwiseError `invalid_config` naming the setting. */
  constructor(settings: Partial<LlmSettings> & { apiKey: string }, heuristic: Partial<HeuristicSettings> = {}) {
    this.settings = resolveLlmSettings(settings);
    this.heuristic = resolveHeuristicSettings(heuristic);
    this.client = new OpenAI({ apiKey: this.settings.apiKey, baseURL: this.settings.baseURL, timeout: this.settings.timeoutMs, maxRetries: 0 });
  }

  async analyze(picture: EndpointPicture, signal?: AbortSignal): Promise<Decision> {
    const exchange: Exchange = { toolCalls: [], tokensIn: null, tokensOut: null };
    const fallBack = (reason: string): Decision => {
      const safe = heuristicDecision(picture, this.heuristic);
      const { toolCalls, tokensIn, tokensOut } = exchange;
      return { ...safe, planner: 'llm', toolCalls, model: this.settings.model, tokensIn, tokensOut, fallback: reason };
    };
    if (signal?.aborted) return fallBack('aborted by the caller before the model was asked');
    // One controller per analysis, unhooked at the end: AbortSignal.any() on a long-lived caller
    // signal (a shutdown signal) keeps every combined signal reachable on some Node versions.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.settings.timeoutMs);
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const outcome = await this.converse(picture, controller.signal, exchange);
      if (outcome.kind === 'decided') return outcome.decision;
      if (outcome.kind === 'refused') return fallBack(outcome.problem);
      if (signal?.aborted) return fallBack('aborted by the caller');
      if (timedOut) return fallBack(`no answer within ${formatDuration(this.settings.timeoutMs)} (timeout)`);
      return fallBack(this.describeFailure(outcome.error));
    } catch (error) {
      return fallBack(`unexpected error: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The rounds of one analysis: a decision, a failed request, or why the model's answers were refused. */
  private async converse(
    picture: EndpointPicture,
    abort: AbortSignal,
    exchange: Exchange,
  ): Promise<Outcome> {
    const { settings } = this;
    const bounds = toolBounds(picture);
    const messages: Message[] = [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: describePicture(picture, bounds) },
    ];
    let problem = 'no round was run';
    for (let round = 1; round <= settings.maxRounds; round++) {
      let completion: OpenAI.Chat.ChatCompletion;
      try {
        completion = await this.client.chat.completions.create(
          { model: settings.model, messages, tools: TOOL_DEFINITIONS, [settings.tokenLimitField]: settings.maxTokens },
          { signal: abort },
        );
      } catch (error) {
        return { kind: 'failed', error };
      }
      if (completion.usage) {
        exchange.tokensIn = (exchange.tokensIn ?? 0) + (completion.usage.prompt_tokens ?? 0);
        exchange.tokensOut = (exchange.tokensOut ?? 0) + (completion.usage.completion_tokens ?? 0);
      }
      const choice = completion.choices?.[0];
      if (!choice?.message) return { kind: 'refused', problem: 'the model server answered without a choice' };
      const text = typeof choice.message.content === 'string' ? choice.message.content.trim() : '';
      const calls = choice.message.tool_calls ?? [];
      const after = round > 1 ? ` (after ${round} rounds)` : '';
      const last = round === settings.maxRounds;

      if (calls.length === 0) {
        problem = `${choice.finish_reason === 'length' ? `the answer hit the limit of ${settings.maxTokens} tokens before any tool call` : 'the model made no tool call'}${after}`;
        if (last) return { kind: 'refused', problem };
        messages.push({ role: 'assistant', content: text }, { role: 'user', content: 'Answer with tool calls only (keep_schedule when nothing should change).' });
        continue;
      }
      const answer = this.checkAnswer(calls, picture, bounds);
      exchange.toolCalls.push(...answer.records);
      if (answer.problem === null) {
        const reasoning = text !== '' ? clip(text) : answer.records.map((record) => `${record.name}: ${(record.arguments as { reason?: string }).reason ?? ''}`).join('; ');
        const { toolCalls, tokensIn, tokensOut } = exchange;
        return { kind: 'decided', decision: { planner: 'llm', proposals: answer.proposals, reasoning, toolCalls, model: settings.model, tokensIn, tokensOut, fallback: null } };
      }
      problem = `${answer.problem}${after}`;
      if (last) return { kind: 'refused', problem };
      messages.push({ role: 'assistant', content: text === '' ? null : text, tool_calls: calls });
      for (const reply of answer.replies) messages.push({ role: 'tool', tool_call_id: reply.id, content: reply.content });
      messages.push({ role: 'user', content: 'Your answer was refused as a whole (see the tool results). Answer again with the complete set of tool calls.' });
    }
    return { kind: 'refused', problem };
  }

  /** Checks every call of one answer; the answer is applied only if all of them pass. Pure. */
  private checkAnswer(calls: ToolCall[], picture: EndpointPicture, bounds: ToolBounds): CheckedAnswer {
    const limit = this.settings.maxToolCalls;
    const checked: CheckedCall[] = calls.map((call) =>
      call.type === 'function'
        ? checkToolCall(call.function.name, call.function.arguments ?? '', picture, bounds)
        : { ok: false, name: call.custom.name, arguments: call.custom.input, error: `"${call.custom.name}" is not an offered tool (a custom tool)` },
    );
    if (calls.length > limit) {
      const problem = `too many tool calls: ${calls.length}, at most ${limit} per answer`;
      const refused = refuse(calls, checked.map((call) => ({ call, error: call.ok ? problem : `${call.error}; ${problem}` })), problem);
      // A runaway answer is recorded up to one call past the limit, enough to show what happened.
      const dropped = calls.length - (limit + 1);
      refused.records = refused.records.slice(0, limit + 1);
      if (dropped > 0) refused.records[limit]!.error += `; ${dropped} more not recorded`;
      return refused;
    }
    const errors = new Map<CheckedCall, string>();
    const seen = new Set<string>();
    for (const call of checked) {
      if (!call.ok) errors.set(call, call.error);
      else if (seen.has(call.name)) errors.set(call, `only one ${call.name} per answer`);
      else if (checked.length > 1 && (call.name === 'clear_hints' || call.name === 'keep_schedule')) errors.set(call, `${call.name} cannot be combined with other calls`);
      seen.add(call.name);
    }
    if (errors.size === 0) {
      const proposals = checked.flatMap((call) => (call.ok && call.proposal ? [call.proposal] : []));
      return {
        records: checked.map((call) => ({ name: call.name, arguments: call.arguments, accepted: true })),
        proposals,
        problem: null,
        replies: [],
      };
    }
    const [first, firstError] = [...errors][0]!;
    const problem = `refused tool call ${first.name}: ${firstError}`;
    return refuse(calls, checked.map((call) => ({ call, error: errors.get(call) ?? `not applied: ${problem}` })), problem);
  }

  private describeFailure(error: unknown): string {
    if (error instanceof APIConnectionTimeoutError) return `no answer within ${formatDuration(this.settings.timeoutMs)} (timeout)`;
    if (error instanceof APIError && error.status !== undefined) return `the model server answered HTTP ${error.status}: ${clip(error.message, 200)}`;
    if (error instanceof APIConnectionError) {
      const cause = (error.cause as Error | undefined)?.message;
      return `could not reach the model server at ${this.settings.baseURL}${cause ? `: ${clip(cause, 200)}` : ''}`;
    }
    return `the request to the model failed: ${clip((error as Error | undefined)?.message ?? String(error), 200)}`;
  }
}

function refuse(calls: ToolCall[], verdicts: { call: CheckedCall; error: string }[], problem: string): CheckedAnswer {
  return {
    records: verdicts.map(({ call, error }) => ({ name: call.name, arguments: call.arguments, accepted: false, error })),
    proposals: [],
    problem,
    replies: verdicts.map(({ error }, index) => ({ id: calls[index]!.id, content: `refused: ${error}` })),
  };
}

function clip(text: string, max = REASONING_CHARS): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
