import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyJobs } from '@tickwise/catalog';
import { createPool, migrate, startEmbeddedPostgres, type EmbeddedServer, type Pool } from '@tickwise/db';
import { endpointInputSchema } from '@tickwise/machines';
import { createNamespace, netnsUnavailable, type Namespace } from '../../../test/support/netns.ts';
import { startTickwise, type NodeProcess } from '../../../test/support/node-process.ts';
import { TEST_TARGET_POLICY } from '../../../test/support/targets.ts';
import { freePort } from '../../../test/support/ports.ts';
import { toolMissing } from '../../../test/support/tools.ts';
import { sleep, waitFor } from '../../../test/support/wait.ts';

// A scheduler node cut off from the database by a silent partition (packets vanish, nothing
// errors), while its peer and the targets stay reachable. Node A runs in a network namespace of the
// test's own: one veth link to the database (cut, then restored) and one to the HTTP target (never
// cut, so every call A makes is seen). Node B and PostgreSQL run in the host's namespace.

const SUITE = 'services/scheduler/test/partition.test.ts (a node behind a silent partition)';
const unavailable = netnsUnavailable();
const runs = unavailable === null || toolMissing(SUITE, unavailable);

const LEASE_MS = 3_000;
const CUT_MS = 15_000;
/** Timeouts of node A's database connections (TICKWISE_DB_*): short, as the lease is. */
const DB_SETTINGS = { TICKWISE_DB_CONNECT_TIMEOUT: '2s', TICKWISE_DB_QUERY_TIMEOUT: '2s', TICKWISE_DB_KEEPALIVE: '2s' };

interface Call {
  endpoint: string;
  slot: string;
  key: string;
  attempt: number;
  from: string;
  at: number;
}

/** Answers 200, except the first attempt at a slot of a `flaky-*` endpoint: 500, so a retry waits. */
async function startTarget(host: string): Promise<{ server: Server; url: string; calls: Call[] }> {
  const calls: Call[] = [];
  const server = createServer((request, response) => {
    const header = (name: string) => String(request.headers[name] ?? '');
    const attempt = Number(header('x-tickwise-attempt'));
    calls.push({ endpoint: header('x-tickwise-endpoint'), slot: header('x-tickwise-scheduled-at'), key: header('idempotency-key'), attempt, from: request.socket.remoteAddress ?? '', at: Date.now() });
    request.resume();
    response.statusCode = request.url?.startsWith('/flaky') && attempt === 1 ? 500 : 200;
    response.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const { port } = server.address() as { port: number };
  return { server, url: `http://${host}:${port}`, calls };
}

/** An embedded PostgreSQL listening on loopback and on `address`, with password logins from `subnet`. */
async function startDatabase(root: string, address: string, subnet: string): Promise<EmbeddedServer> {
  const hba = join(root, 'pg_hba.conf');
  writeFileSync(hba, `host all all 127.0.0.1/32 scram-sha-256\nhost all all ${subnet} scram-sha-256\n`);
  // As root the server runs as `postgres`, which must reach the data folder and read the hba file.
  chmodSync(root, 0o755);
  chmodSync(hba, 0o644);
  mkdirSync(join(root, 'pg'));
  if (process.getuid?.() === 0) chownSync(hba, 0, 0);
  return startEmbeddedPostgres({ dataDir: join(root, 'pg'), port: await freePort(), settings: { listen_addresses: `127.0.0.1,${address}`, hba_file: hba } });
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describe.skipIf(!runs)('a node cut off from the database by a silent partition', () => {
  it('stops dispatching past its lease deadline while a peer takes over, and claims again within seconds of the network returning', { timeout: 150_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'tickwise-partition-'));
    let ns: Namespace | undefined;
    let server: EmbeddedServer | undefined;
    let pool: Pool | undefined;
    let target: Awaited<ReturnType<typeof startTarget>> | undefined;
    const nodes: NodeProcess[] = [];
    try {
      ns = createNamespace(process.pid);
      const dbLink = ns.link(231);
      const webLink = ns.link(232);
      server = await startDatabase(root, dbLink.hostAddress, `${dbLink.nsAddress}/32`);
      await server.createDatabase('partition');
      pool = createPool({ connectionString: server.urlFor('partition'), max: 4 });
      await migrate(pool);
      target = await startTarget(webLink.hostAddress);
      const ticks = Array.from({ length: 8 }, (_, i) => ({ name: `tick-${i}`, url: `${target!.url}/tick/${i}`, schedule: { every: '1s' } }));
      // A failed first attempt is retried 5-10 s later: a node holds the slot meanwhile, longer than its lease.
      const flaky = Array.from({ length: 6 }, (_, i) => ({ name: `flaky-${i}`, url: `${target!.url}/flaky/${i}`, schedule: { every: '15s' }, retry: { attempts: 3, backoff: '10s', maxBackoff: '10s', on: ['5xx'] } }));
      await applyJobs(pool, [{ name: 'partition', synthetic: false, endpoints: [...ticks, ...flaky].map((endpoint) => endpointInputSchema.parse(endpoint)) }], { targetPolicy: TEST_TARGET_POLICY });

      const common = { TICKWISE_LEASE: `${LEASE_MS}ms`, TICKWISE_POLL_INTERVAL: '200ms', TICKWISE_OPS_PORT: 'off', TICKWISE_PRUNE: 'false', TICKWISE_SHUTDOWN_GRACE: '1s', ...DB_SETTINGS };
      const dbUrl = (host: string) => server!.urlFor('partition').replace('127.0.0.1', host);
      const nodeA = startTickwise('node-a', ['scheduler'], { ...common, TICKWISE_WORKER_ID: 'node-a', DATABASE_URL: dbUrl(dbLink.hostAddress) }, ns.exec);
      const nodeB = startTickwise('node-b', ['scheduler'], { ...common, TICKWISE_WORKER_ID: 'node-b', DATABASE_URL: dbUrl('127.0.0.1') });
      nodes.push(nodeA, nodeB);
      const calls = target.calls;
      const fromA = (since: number) => calls.filter((call) => call.from === webLink.nsAddress && call.at >= since);
      await waitFor('calls from both nodes', () => fromA(0).length > 0 && calls.some((call) => call.from !== webLink.nsAddress), 60_000);

      // Cut when A has just failed a first attempt of a flaky endpoint: it now holds that slot for a
      // retry 5-10 s later, well past its lease deadline once renewals stop.
      await waitFor('node A holding a retry', async () => {
        const { rowCount } = await pool!.query(`SELECT 1 FROM runs r JOIN endpoints e ON e.id = r.endpoint_id WHERE r.worker = 'node-a' AND e.name LIKE 'flaky-%' AND r.attempt = 1 AND NOT r.last_attempt AND r.finished_at > now() - interval '1 second'`);
        return rowCount;
      }, 60_000, 100);
      await sleep(300); // the commit's answer reaches A
      const cutAt = Date.now();
      dbLink.cut();
      const tookOver = await waitFor('node B taking over node A’s machines', () => nodeB.lines.find((line) => line.readAt >= cutAt && line.message === 'took over expired leases' && (line.fields.from as string[]).includes('node-a')), 20_000);
      await sleep(cutAt + CUT_MS - Date.now());
      const noticed = nodeA.find(/database unreachable|lease may have expired/, cutAt);
      const restoredAt = Date.now();
      dbLink.restore();
      // Measured, not awaited with a throw: the figures are printed either way, then checked.
      const calledAgain = await waitFor('a call from node A after the link returned', () => fromA(restoredAt)[0], 45_000).catch(() => undefined);
      const claimedAgain = await waitFor('a run of node A committed after the link returned', async () => {
        const { rows } = await pool!.query<{ at: Date | null }>(`SELECT min(started_at) AS at FROM runs WHERE worker = 'node-a' AND started_at > $1`, [new Date(restoredAt)]);
        return rows[0]?.at;
      }, calledAgain ? 15_000 : 1_000).catch(() => undefined);
      const figure = (ms: number | undefined) => (ms === undefined ? 'never' : seconds(ms));
      const figures = {
        noticed: noticed && noticed.readAt - cutAt,
        peerTookOver: tookOver.readAt - cutAt,
        calledAgain: calledAgain && calledAgain.at - restoredAt,
        claimedAgain: claimedAgain && claimedAgain.getTime() - restoredAt,
        dropped: nodeA.lines.filter((line) => /lease may have expired/.test(line.message)).length,
      };
      console.log(`[partition] cut ${seconds(CUT_MS)}, lease ${seconds(LEASE_MS)}: node A noticed after ${figure(figures.noticed)}, node B took over after ${seconds(figures.peerTookOver)}; after the link returned node A called again after ${figure(figures.calledAgain)} and started a committed run after ${figure(figures.claimedAgain)}; held slots node A dropped: ${figures.dropped}`);
      await Promise.all(nodes.map((node) => node.stop()));

      // While cut off, A started no call once its lease may have run out (its last renewal came
      // before the cut, so its deadline is at most a lease after it; a second of slack for a busy machine).
      const late = calls.filter((call) => call.from === webLink.nsAddress && call.at > cutAt + LEASE_MS + 1_000 && call.at < restoredAt);
      expect(late, 'calls node A made after its lease deadline while cut off').toEqual([]);
      expect(figures.dropped, 'held slots node A dropped at their time').toBeGreaterThan(0);
      // No slot ran twice with another Idempotency-Key, nor had the same attempt made twice.
      const bySlot = new Map<string, Call[]>();
      for (const call of calls) bySlot.set(`${call.endpoint} ${call.slot}`, [...(bySlot.get(`${call.endpoint} ${call.slot}`) ?? []), call]);
      for (const [slot, made] of bySlot) {
        expect(new Set(made.map((call) => call.key)), slot).toEqual(new Set([`${made[0]!.endpoint}:${Date.parse(made[0]!.slot)}`]));
        expect(new Set(made.map((call) => call.attempt)).size, `${slot}: attempts ${made.map((call) => `${call.attempt} from ${call.from}`).join(', ')}`).toBe(made.length);
      }
      expect(figures.peerTookOver).toBeLessThan(LEASE_MS + 7_000);
      expect(figures.noticed ?? Infinity, 'node A noticed (a database warning)').toBeLessThan(10_000);
      expect(figures.calledAgain ?? Infinity, 'node A called again after the link returned').toBeLessThan(20_000);
      expect(figures.claimedAgain ?? Infinity, 'node A committed a run it started after the link returned').toBeLessThan(25_000);
      expect(nodeA.lines.filter((line) => line.level === 'error' || line.level === 'fatal'), 'errors logged by node A').toEqual([]);
    } catch (error) {
      // What the nodes said, to tell a slow machine from a real failure.
      for (const node of nodes) console.log(`[partition] ${node.name} log:\n${node.lines.map((line) => `${new Date(line.readAt).toISOString()} ${line.level} ${line.message} ${JSON.stringify(line.fields)}`).join('\n')}`);
      throw error;
    } finally {
      await Promise.all(nodes.map((node) => node.stop(3_000).catch(() => undefined)));
      ns?.destroy();
      target?.server.closeAllConnections();
      await new Promise((resolve) => (target ? target.server.close(resolve) : resolve(undefined)));
      await pool?.end();
      await server?.stop();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
