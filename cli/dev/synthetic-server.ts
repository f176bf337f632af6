import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SyntheticServer {
  url: string;
  /** Requests received per path, for tests and the console summary. */
  counts: Map<string, number>;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage, limit = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Small targets the dev process serves itself so the demo job has something to call:
 * health (always 200), echo (returns what it got), flaky (fails ~30%), slow (answers after ?ms=).
 */
export async function startSyntheticServer(port: number, host = '127.0.0.1'): Promise<SyntheticServer> {
  const counts = new Map<string, number>();
  const server: Server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://synthetic');
    counts.set(url.pathname, (counts.get(url.pathname) ?? 0) + 1);
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    switch (url.pathname) {
      case '/synthetic/health':
        return send(200, { status: 'ok' });
      case '/synthetic/echo': {
        const body = await readBody(request);
        const tickwise = Object.fromEntries(Object.entries(request.headers).filter(([name]) => name.startsWith('x-tickwise-') || name === 'idempotency-key'));
        return send(200, { method: request.method, headers: tickwise, body });
      }
      case '/synthetic/flaky': {
        const failRate = Number(url.searchParams.get('failRate') ?? '0.3');
        return Math.random() < failRate ? send(500, { error: 'synthetic failure' }) : send(200, { status: 'ok' });
      }
      case '/synthetic/slow': {
        const ms = Math.min(60_000, Math.max(0, Number(url.searchParams.get('ms') ?? '1500') || 0));
        const timer = setTimeout(() => send(200, { status: 'ok', tookMs: ms }), ms);
        request.on('close', () => clearTimeout(timer));
        return;
      }
      default:
        return send(404, { error: `no synthetic endpoint at ${url.pathname}` });
    }
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}`,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
