// A local no-op HTTP target for the benchmark: answers every request with 200 "ok" over keep-alive,
// and counts the calls it answers, so every contender is measured the same way, at the target.
// GET /__stats answers {"calls", "firstMs", "lastMs", "connections"} (epoch ms of the first and last
// call; connections opened so far);
// GET /__spacings answers the gaps in ms between consecutive calls of each endpoint (by its
// X-Tickwise-Endpoint header); POST /__reset starts the count again. None of these is counted.
import { createServer } from 'node:http';

let calls = 0;
let firstMs = 0;
let lastMs = 0;
let connections = 0;
/** Per endpoint (X-Tickwise-Endpoint): when it was last called, and the gaps between its calls. */
const lastCall = new Map();
let spacings = [];

const server = createServer((request, response) => {
  if (request.url === '/__stats') return response.end(JSON.stringify({ calls, firstMs, lastMs, connections }));
  if (request.url === '/__spacings') return response.end(JSON.stringify(spacings));
  if (request.url === '/__reset') {
    calls = 0;
    firstMs = lastMs = 0;
    lastCall.clear();
    spacings = [];
    return response.end('reset');
  }
  const now = Date.now();
  const endpoint = request.headers['x-tickwise-endpoint'];
  if (endpoint) {
    const previous = lastCall.get(endpoint);
    if (previous !== undefined) spacings.push(performance.now() - previous);
    lastCall.set(endpoint, performance.now());
  }
  if (calls === 0) firstMs = now;
  calls += 1;
  lastMs = now;
  request.resume();
  request.on('end', () => response.end('ok'));
});
server.keepAliveTimeout = 60_000;
server.on('connection', () => {
  connections += 1;
});
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
