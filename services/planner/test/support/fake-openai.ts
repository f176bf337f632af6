import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A tool call the fake model makes; `arguments` as an object is sent JSON-encoded, a string as it is. */
export interface ScriptedCall {
  name: string;
  arguments: string | Record<string, unknown>;
  /** A `custom` tool call (free-form input) instead of a function call. */
  custom?: boolean;
}

/** What the fake answers to one request, in order. */
export type FakeReply =
  | { toolCalls: ScriptedCall[]; content?: string; usage?: { prompt: number; completion: number } }
  | { text: string; finishReason?: 'stop' | 'length'; usage?: { prompt: number; completion: number } }
  | { status: number; body?: unknown }
  /** Never answers: the request stays open until the client gives up or the server closes. */
  | { hang: true };

/** The parts of a chat completions request the tests look at. */
export interface ChatRequestBody {
  model: string;
  messages: { role: string; content?: string | null; tool_call_id?: string; tool_calls?: unknown[] }[];
  tools?: { type: string; function: { name: string; description?: string; parameters: Record<string, unknown> } }[];
  max_tokens?: number;
  max_completion_tokens?: number;
  [key: string]: unknown;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: ChatRequestBody;
}

export interface FakeOpenAi {
  /** Use as `baseURL`: `http://127.0.0.1:<port>/v1`. */
  baseURL: string;
  /** Every chat completions request received, in order. */
  requests: RecordedRequest[];
  /** Queues replies; each request takes the next one (an empty queue answers HTTP 500). */
  script(...replies: FakeReply[]): void;
  /** Replies not yet taken. */
  pending(): number;
  close(): Promise<void>;
}

/**
 * A real HTTP server speaking enough of the OpenAI chat completions API (POST /v1/chat/completions)
 * for the LLM planner: scripted tool calls, malformed arguments, tools that were never offered,
 * HTTP errors, answers that never come, plain text. It records what it was sent.
 */
export async function startFakeOpenAi(): Promise<FakeOpenAi> {
  const queue: FakeReply[] = [];
  const requests: RecordedRequest[] = [];
  let counter = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
        sendJson(response, 404, { error: { message: `fake-openai: no route ${request.method} ${request.url}`, type: 'invalid_request_error' } });
        return;
      }
      let body: ChatRequestBody;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequestBody;
      } catch {
        sendJson(response, 400, { error: { message: 'fake-openai: the request body is not JSON', type: 'invalid_request_error' } });
        return;
      }
      requests.push({ method: request.method, path: request.url, headers: request.headers, body });
      const reply = queue.shift();
      if (!reply) {
        sendJson(response, 500, { error: { message: 'fake-openai: no scripted reply left', type: 'server_error' } });
        return;
      }
      if ('hang' in reply) return;
      if ('status' in reply) {
        sendJson(response, reply.status, reply.body ?? { error: { message: `fake-openai: scripted HTTP ${reply.status}`, type: 'server_error' } });
        return;
      }
      counter++;
      const usage = reply.usage ?? { prompt: 100, completion: 20 };
      const message =
        'toolCalls' in reply
          ? {
              role: 'assistant',
              content: reply.content ?? null,
              tool_calls: reply.toolCalls.map((call, index) => {
                const text = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);
                const id = `call_${counter}_${index}`;
                return call.custom ? { id, type: 'custom', custom: { name: call.name, input: text } } : { id, type: 'function', function: { name: call.name, arguments: text } };
              }),
            }
          : { role: 'assistant', content: reply.text };
      const finishReason = 'toolCalls' in reply ? 'tool_calls' : (reply.finishReason ?? 'stop');
      sendJson(response, 200, {
        id: `chatcmpl-fake-${counter}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{ index: 0, message, finish_reason: finishReason, logprobs: null }],
        usage: { prompt_tokens: usage.prompt, completion_tokens: usage.completion, total_tokens: usage.prompt + usage.completion },
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    script: (...replies) => void queue.push(...replies),
    pending: () => queue.length,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Hanging requests and keep-alive sockets would hold close() open.
        server.closeAllConnections();
      }),
  };
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}
