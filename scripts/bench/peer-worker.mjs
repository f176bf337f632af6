// graphile-worker doing the bench's work: each job makes the same HTTP call Tickwise makes (undici,
// keep-alive). argv: connection string, mode ('batched' | 'default'). Prints "ready" once running;
// stops on SIGTERM.
import { Logger, run } from 'graphile-worker';
import { Agent, request } from 'undici';

const [connectionString, mode] = process.argv.slice(2);
const agent = new Agent({ connections: 256, keepAliveTimeout: 10_000, pipelining: 1 });
// graphile-worker's documented high-throughput settings: a local queue and batched completion.
const batched = { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } };
const runner = await run({
  connectionString,
  concurrency: 50,
  noHandleSignals: true,
  // Quiet: a line per job would cost the peer CPU we do not spend.
  logger: new Logger(() => () => {}),
  preset: mode === 'batched' ? batched : {},
  taskList: {
    async call(payload) {
      const response = await request(payload.url, { method: 'GET', dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 10_000 });
      await response.body.text();
      if (response.statusCode >= 300) throw new Error(`HTTP ${response.statusCode}`);
    },
  },
});
process.stdout.write('ready\n');
process.on('SIGTERM', async () => {
  await runner.stop();
  await agent.close();
  process.exit(0);
});
