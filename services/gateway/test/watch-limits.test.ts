import { Code, ConnectError } from '@connectrpc/connect';
import { revokeApiKey } from '@tickwise/db';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiKeyService, Role, WatchService } from '@tickwise/api';
import { internalErrors, useGateway, type Protocol } from '../../../test/support/gateway.ts';
import { waitFor } from '../../../test/support/wait.ts';

interface Watcher {
  heartbeats: number;
  error: ConnectError | undefined;
  ended: boolean;
  stop(): void;
}

describe('Watch limits: a cap per key, and a revoked key loses its open watches', () => {
  // The defaults: 10 watches per key, 50 per tenant. The key re-check is quicker than its 2 s default.
  const fx = useGateway({ heartbeatMs: 300, watchKeyRecheckMs: 500 });
  const opened: Watcher[] = [];
  afterEach(async () => {
    for (const watcher of opened.splice(0)) watcher.stop();
    await waitFor('every subscription released', () => fx.gateway.hub.size === 0);
  });

  function watch(key: string, protocol: Protocol = 'grpc'): Watcher {
    const controller = new AbortController();
    const watcher: Watcher = { heartbeats: 0, error: undefined, ended: false, stop: () => controller.abort() };
    opened.push(watcher);
    void (async () => {
      try {
        for await (const message of fx.client(WatchService, key, protocol).watch({}, { signal: controller.signal })) if (message.event.case === 'heartbeat') watcher.heartbeats++;
      } catch (error) {
        const connect = ConnectError.from(error);
        if (connect.code !== Code.Canceled) watcher.error = connect;
      } finally {
        watcher.ended = true;
      }
    })();
    return watcher;
  }
  const live = (watcher: Watcher) => waitFor('the first heartbeat', () => watcher.error ?? watcher.heartbeats > 0);

  it("refuses a key's 11th watch with RESOURCE_EXHAUSTED, while another key of the tenant still watches", async () => {
    const ten = Array.from({ length: 10 }, (_, i) => watch(fx.a.keys.read, i % 2 ? 'grpc' : 'connect'));
    for (const watcher of ten) await live(watcher);
    expect(ten.map((watcher) => watcher.error)).toEqual(Array(10).fill(undefined));
    const eleventh = watch(fx.a.keys.read);
    await waitFor('the 11th refused', () => eleventh.ended);
    expect(eleventh.error?.code).toBe(Code.ResourceExhausted);
    expect(eleventh.error?.rawMessage).toBe('an API key may hold at most 10 watches at once on one gateway; close one or use another key');
    const other = watch(fx.a.keys.write, 'connect');
    await live(other);
    expect(other.error).toBeUndefined();
    // Room again once one of the ten ends.
    ten[0]!.stop();
    await waitFor('the first released', () => ten[0]!.ended && fx.gateway.hub.size === 10);
    const again = watch(fx.a.keys.read);
    await live(again);
    expect(again.error).toBeUndefined();
  });

  for (const [how, revoke] of [
    ['through RevokeApiKey', async (id: string) => void (await fx.client(ApiKeyService, fx.a.keys.admin).revokeApiKey({ apiKeyId: id }))],
    ['on the database, as `tickwise keys revoke` does', async (id: string) => void (await revokeApiKey(fx.db.pool, fx.a.id, id))],
  ] as const) {
    it(`ends a revoked key's open watches within seconds with UNAUTHENTICATED (${how})`, async () => {
      const created = await fx.client(ApiKeyService, fx.a.keys.admin).createApiKey({ name: 'watcher', role: Role.READ });
      const watchers = [watch(created.key, 'grpc'), watch(created.key, 'connect'), watch(created.key, 'grpc-web')];
      for (const watcher of watchers) await live(watcher);
      const bystander = watch(fx.a.keys.read);
      await live(bystander);
      const revokedAt = performance.now();
      await revoke(created.apiKey!.id);
      await waitFor('the watches ended', () => watchers.every((watcher) => watcher.ended), 10_000);
      expect(performance.now() - revokedAt).toBeLessThan(5_000);
      for (const watcher of watchers) {
        expect(watcher.error?.code).toBe(Code.Unauthenticated);
        expect(watcher.error?.rawMessage).toBe('the API key was revoked');
      }
      // Another key's watch goes on.
      const heartbeats = bystander.heartbeats;
      await waitFor('the bystander still beating', () => bystander.heartbeats > heartbeats);
      expect(bystander.ended).toBe(false);
      expect(internalErrors(fx)).toEqual([]);
    });
  }
});
