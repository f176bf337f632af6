import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedCall {
  path: string;
  method: string;
  headers: IncomingMessage['headers'];
  body: string;
  receivedAt: number;
}

export interface HttpTarget {
  url: string;
  calls: ReceivedCall[];
  close(): Promise<void>;
}

export type Handler = (call: ReceivedCall, response: ServerResponse) => void;

/** A real HTTP server on loopback that records every call; the handler answers (200 by default). */
export async function startHttpTarget(handler: Handler = (_call, response) => response.end('ok')): Promise<HttpTarget> {
  const calls: ReceivedCall[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const call: ReceivedCall = {
        path: request.url ?? '/',
        method: request.method ?? 'GET',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      };
      calls.push(call);
      handler(call, response);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
