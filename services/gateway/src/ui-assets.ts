import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import type { connectNodeAdapter } from '@connectrpc/connect-node';
import { extname, join } from 'node:path';
import { buildUi, DEFAULT_DIST_DIR, staleReason } from '../scripts/build-ui.mjs';
import type { Logger } from '@tickwise/platform';

// The machine visualizer's static files (services/gateway/ui/dist), served by the gateway itself
// under /ui. No auth on these files: the page holds no data; everything it shows comes through the
// API with the key the person types.

export interface UiOptions {
  /** Where the built page is (default services/gateway/ui/dist). */
  distDir?: string;
  /**
   * "auto" (default): build at start when dist is missing or older than its sources, if esbuild is
   * installed (else serve what is there). "never": serve what is there.
   */
  build?: 'auto' | 'never';
}

type NodeHandler = NonNullable<Parameters<typeof connectNodeAdapter>[0]['fallback']>;
type Request = Parameters<NodeHandler>[0];
type Response = Parameters<NodeHandler>[1];
/** Answers the request and returns true if it is the visualizer's, else returns false. */
export type UiHandler = (request: Request, response: Response) => boolean;

/** Scripts, styles and connections only from the gateway itself; no inline code, no frames, no plugins. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
} as const;

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** A hashed asset's name: letters, digits, dots, dashes and underscores, nothing that leaves the folder. */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

const NOT_BUILT = (why: string) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tickwise · not built</title></head>
<body><h1>The visualizer is not built</h1><p>${why.replace(/[<>&]/g, '')}</p>
<p>Build it with <code>node services/gateway/scripts/build-ui.mjs</code> (needs the dev dependency esbuild), then reload.</p></body></html>`;

/**
 * Makes sure the page is built (per `options.build`) and returns the handler of /ui, /ui/,
 * /ui/assets/* and / (a redirect to /ui/). A failed build is logged and never stops the gateway:
 * the previous build, if any, is served, else a page that says what is missing.
 */
export async function prepareUi(options: UiOptions, log: Logger): Promise<UiHandler> {
  const distDir = options.distDir ?? DEFAULT_DIST_DIR;
  let problem = '';
  const stale = staleReason(distDir);
  if (stale !== null && (options.build ?? 'auto') === 'auto') {
    try {
      const built = await buildUi({ distDir });
      log.info('visualizer built', { why: stale, ms: built.ms, kib: Math.round(built.bytes / 1024) });
    } catch (error) {
      problem = (error as Error).message;
      log.warn('visualizer not rebuilt: serving what is in its folder', { why: stale, error: problem, distDir });
    }
  } else if (stale !== null) {
    log.info('visualizer build is stale or missing (building is off): serving what is in its folder', { why: stale, distDir });
  }

  const send = (response: Response, status: number, headers: Record<string, string>, body: Buffer | string, head: boolean) => {
    (response as ServerResponse).writeHead(status, { ...SECURITY_HEADERS, ...headers, 'content-length': String(Buffer.byteLength(body)) });
    (response as ServerResponse).end(head ? undefined : body);
  };

  const page = async (request: Request, response: Response, head: boolean) => {
    let html: Buffer;
    try {
      html = await readFile(join(distDir, 'index.html'));
    } catch {
      return send(response, 503, { 'content-type': CONTENT_TYPES['.html']!, 'cache-control': 'no-store' }, NOT_BUILT(problem || `no build in ${distDir}`), head);
    }
    // The page names its hashed assets: it is checked on every load (cheap: 304 when unchanged).
    const etag = `"${createHash('sha256').update(html).digest('base64url').slice(0, 22)}"`;
    if (request.headers['if-none-match'] === etag) return send(response, 304, { etag, 'cache-control': 'no-cache' }, '', true);
    send(response, 200, { 'content-type': CONTENT_TYPES['.html']!, 'cache-control': 'no-cache', etag }, html, head);
  };

  const asset = async (response: Response, name: string, head: boolean) => {
    const type = CONTENT_TYPES[extname(name)];
    let body: Buffer;
    try {
      if (!ASSET_NAME.test(name) || !type) throw new Error('not an asset');
      body = await readFile(join(distDir, 'assets', name));
    } catch {
      return send(response, 404, { 'content-type': 'application/json', 'cache-control': 'no-store' }, JSON.stringify({ code: 'not_found', message: `no such asset: ${name}` }), head);
    }
    // Names carry a hash of the content: a new build makes new names, so these never change.
    send(response, 200, { 'content-type': type, 'cache-control': 'public, max-age=31536000, immutable' }, body, head);
  };

  return (request, response) => {
    const path = (request.url ?? '/').split('?')[0]!;
    if (path !== '/' && path !== '/ui' && !path.startsWith('/ui/')) return false;
    const method = request.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      send(response, 405, { allow: 'GET, HEAD', 'content-type': 'application/json' }, JSON.stringify({ code: 'method_not_allowed', message: `${method} is not allowed on ${path}` }), false);
      return true;
    }
    const head = method === 'HEAD';
    const fail = (error: Error) => {
      log.error('visualizer file failed', { path, error: error.message });
      if (!response.headersSent) send(response, 500, { 'content-type': 'application/json' }, JSON.stringify({ code: 'internal', message: 'internal error' }), head);
    };
    if (path === '/') {
      send(response, 302, { location: '/ui/', 'content-type': 'text/plain; charset=utf-8' }, 'the visualizer is at /ui/\n', head);
    } else if (path === '/ui' || path === '/ui/' || path === '/ui/index.html') {
      page(request, response, head).catch(fail);
    } else if (path.startsWith('/ui/assets/')) {
      asset(response, decodeURIComponentSafe(path.slice('/ui/assets/'.length)), head).catch(fail);
    } else {
      send(response, 404, { 'content-type': 'application/json', 'cache-control': 'no-store' }, JSON.stringify({ code: 'not_found', message: `no such page: ${path} (the visualizer is at /ui/)` }), head);
    }
    return true;
  };
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
