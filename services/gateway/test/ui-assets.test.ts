import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY, prepareUi } from '../src/ui-assets.ts';
import { resolveGatewayConfig, startGateway, type Gateway } from '../src/index.ts';
import { staleReason } from '../scripts/build-ui.mjs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { memoryLogger } from '../../../test/support/logger.ts';

const raw = (url: string, init: RequestInit = {}) => fetch(url, { redirect: 'manual', ...init });

describe('the gateway serves the visualizer’s files under /ui', () => {
  let db: TestDatabase;
  let gateway: Gateway;
  let dist: string;
  const log = memoryLogger();
  const manifest = () => JSON.parse(readFileSync(join(dist, 'manifest.json'), 'utf8')) as { script: string; style: string; builtAt: number };

  beforeAll(async () => {
    dist = mkdtempSync(join(tmpdir(), 'tickwise-ui-'));
    db = await createTestDatabase();
    gateway = await startGateway({ pool: db.pool, connectionString: db.url, config: resolveGatewayConfig({ host: '127.0.0.1', port: 0 }), log, ui: { distDir: dist } });
  });
  afterAll(async () => {
    await gateway?.close();
    await db?.drop();
    rmSync(dist, { recursive: true, force: true });
  });

  it('built the page at start, since its folder was empty', () => {
    expect(log.lines.some((line) => line.startsWith('info visualizer built') && line.includes('"why":"not built yet"'))).toBe(true);
    expect(staleReason(dist)).toBeNull();
  });

  it('answers /ui with the page, no key needed: HTML, revalidated on every load, under a strict CSP', async () => {
    for (const path of ['/ui', '/ui/', '/ui/index.html']) {
      const response = await raw(`${gateway.url}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(response.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      const html = await response.text();
      expect(html).toContain(`<script type="module" src="/ui/assets/${manifest().script}"></script>`);
      expect(html).not.toMatch(/<script>|style=/);
    }
    expect(CONTENT_SECURITY_POLICY).toBe("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    const first = await raw(`${gateway.url}/ui/`);
    const etag = first.headers.get('etag')!;
    const again = await raw(`${gateway.url}/ui/`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const head = await raw(`${gateway.url}/ui/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const root = await raw(`${gateway.url}/`);
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/ui/');
  });

  it('serves hashed assets with their types, cached for good', async () => {
    const { script, style } = manifest();
    for (const [name, type] of [[script, 'text/javascript; charset=utf-8'], [style, 'text/css; charset=utf-8'], [`${script}.map`, 'application/json; charset=utf-8']] as const) {
      const response = await raw(`${gateway.url}/ui/assets/${name}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(type);
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
  });

  it('refuses what is not an asset, ways out of the folder included, and other methods', async () => {
    for (const path of ['/ui/assets/nope.js', '/ui/assets/..%2Fmanifest.json', '/ui/assets/%2e%2e%2findex.html', '/ui/assets/../manifest.json', '/ui/assets/app.exe', '/ui/settings']) {
      const response = await raw(`${gateway.url}${path}`);
      expect(response.status, path).toBe(404);
      expect(((await response.json()) as { code: string }).code).toBe('not_found');
    }
    const post = await raw(`${gateway.url}/ui/`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    // The probes are still there behind it.
    expect((await raw(`${gateway.url}/healthz`)).status).toBe(200);
  });

  it('builds again only when the build is stale, and says why', async () => {
    const quiet = memoryLogger();
    await prepareUi({ distDir: dist }, quiet);
    expect(quiet.lines).toEqual([]);
    writeFileSync(join(dist, 'manifest.json'), JSON.stringify({ ...manifest(), builtAt: 0 }));
    expect(staleReason(dist)).toMatch(/^\S+ changed$/);
    const rebuilt = memoryLogger();
    await prepareUi({ distDir: dist }, rebuilt);
    expect(rebuilt.lines.some((line) => line.startsWith('info visualizer built') && line.includes(' changed'))).toBe(true);
    expect(staleReason(dist)).toBeNull();
    unlinkSync(join(dist, 'assets', manifest().style));
    expect(staleReason(dist)).toBe(`assets/${manifest().style} is missing`);
    writeFileSync(join(dist, 'manifest.json'), '{ not json');
    expect(staleReason(dist)).toBe('not built yet');
    await prepareUi({ distDir: dist }, memoryLogger());
    expect(staleReason(dist)).toBeNull();
  });

  it('serves a stale build as it is when building is off (an image without esbuild)', async () => {
    writeFileSync(join(dist, 'manifest.json'), JSON.stringify({ ...manifest(), builtAt: 0 }));
    const off = memoryLogger();
    await prepareUi({ distDir: dist, build: 'never' }, off);
    expect(off.lines.some((line) => line.startsWith('info visualizer build is stale or missing (building is off)'))).toBe(true);
    expect(staleReason(dist)).not.toBeNull();
  });
});

describe('a gateway without a built page', () => {
  let db: TestDatabase;
  const started: Gateway[] = [];
  const empty = mkdtempSync(join(tmpdir(), 'tickwise-ui-none-'));
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    for (const gateway of started) await gateway.close();
    await db?.drop();
    rmSync(empty, { recursive: true, force: true });
  });
  const start = async (ui: Parameters<typeof startGateway>[0]['ui'], log = memoryLogger()) => {
    const gateway = await startGateway({ pool: db.pool, connectionString: db.url, config: resolveGatewayConfig({ host: '127.0.0.1', port: 0 }), log, ui });
    started.push(gateway);
    return gateway;
  };

  it('answers /ui with a page saying how to build it, when building is off', async () => {
    const gateway = await start({ distDir: join(empty, 'dist'), build: 'never' });
    const response = await raw(`${gateway.url}/ui/`);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await response.text();
    expect(html).toContain('The visualizer is not built');
    expect(html).toContain('node services/gateway/scripts/build-ui.mjs');
  });

  it('still starts when the build fails, logs why and shows it on the page', async () => {
    // A folder that cannot be made: its parent is a file.
    const blocker = join(empty, 'file');
    writeFileSync(blocker, 'not a folder');
    const log = memoryLogger();
    const gateway = await start({ distDir: join(blocker, 'dist') }, log);
    expect(log.lines.some((line) => line.startsWith('warn visualizer not rebuilt: serving what is in its folder') && line.includes('ENOTDIR'))).toBe(true);
    const response = await raw(`${gateway.url}/ui/`);
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('ENOTDIR');
    expect((await raw(`${gateway.url}/healthz`)).status).toBe(200);
  });
});
