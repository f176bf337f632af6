#!/usr/bin/env node
// Builds the machine visualizer (services/gateway/ui) into ui/dist with esbuild: dist/index.html,
// dist/assets/app-<hash>.js and .css, and dist/manifest.json (what was built from what). Run by the
// root package's install script, and by the gateway at start when dist is missing or older than its
// sources. `node services/gateway/scripts/build-ui.mjs [--if-stale] [--out <dir>]`.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const UI_DIR = resolve(here, '..', 'ui');
export const DEFAULT_DIST_DIR = join(UI_DIR, 'dist');
const ROOT = resolve(here, '..', '..', '..');
const TEMPLATE = join(UI_DIR, 'index.html');
const ENTRY = join(UI_DIR, 'src', 'main.ts');
/** Old hashed assets are removed only when this old: a page loaded before a rebuild still gets them. */
const KEEP_OLD_ASSETS_MS = 10 * 60_000;

/** Writes a file whole or not at all: a reader never sees half of it, two builders never clash. */
function writeAtomically(path, content) {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, content);
  renameSync(temporary, path);
}

function readManifest(distDir) {
  try {
    return JSON.parse(readFileSync(join(distDir, 'manifest.json'), 'utf8'));
  } catch {
    return null;
  }
}

function mtimeOf(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}

/** Every file under a folder (for new sources the last build did not see). */
function filesUnder(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)]));
}

/**
 * Why dist must be built again, or null when it is up to date: no manifest or a file it names
 * missing, or a source (every input esbuild read last time, the page template, any file under
 * ui/src) newer than the build.
 */
export function staleReason(distDir = DEFAULT_DIST_DIR) {
  const manifest = readManifest(distDir);
  if (!manifest || typeof manifest.builtAt !== 'number' || !Array.isArray(manifest.inputs) || !Array.isArray(manifest.assets)) return 'not built yet';
  for (const file of ['index.html', ...manifest.assets.map((asset) => join('assets', asset))]) {
    if (mtimeOf(join(distDir, file)) === null) return `${file} is missing`;
  }
  const sources = new Set([...manifest.inputs.map((input) => resolve(ROOT, input)), TEMPLATE, ...filesUnder(join(UI_DIR, 'src'))]);
  for (const source of sources) {
    const mtime = mtimeOf(source);
    if (mtime === null) return `${relative(ROOT, source)} is gone`;
    if (mtime > manifest.builtAt) return `${relative(ROOT, source)} changed`;
  }
  return null;
}

/** Builds the page into `distDir`. Needs esbuild (a devDependency); throws if it is missing. */
export async function buildUi({ distDir = DEFAULT_DIST_DIR, minify = true } = {}) {
  const started = Date.now();
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch (error) {
    throw new Error(`esbuild is not installed (${error.message.split('\n')[0]}): install the dev dependencies, or ship a prebuilt ui/dist`);
  }
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify,
    sourcemap: 'linked',
    entryNames: 'app-[hash]',
    outdir: join(distDir, 'assets'),
    write: false,
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const assetsDir = join(distDir, 'assets');
  mkdirSync(assetsDir, { recursive: true });
  const assets = [];
  for (const file of result.outputFiles) {
    writeAtomically(file.path, file.contents);
    assets.push(basename(file.path));
  }
  const script = assets.find((name) => name.endsWith('.js'));
  const style = assets.find((name) => name.endsWith('.css'));
  if (!script || !style) throw new Error(`esbuild made no ${script ? 'stylesheet' : 'script'} (got ${assets.join(', ')})`);
  const page = readFileSync(TEMPLATE, 'utf8').replace('<!--styles-->', `<link rel="stylesheet" href="/ui/assets/${style}">`).replace('<!--script-->', `<script type="module" src="/ui/assets/${script}"></script>`);
  writeAtomically(join(distDir, 'index.html'), page);
  const inputs = Object.keys(result.metafile.inputs).map((input) => relative(ROOT, resolve(process.cwd(), input)));
  // builtAt is taken before reading the sources, so a file saved during the build counts as newer.
  writeAtomically(join(distDir, 'manifest.json'), `${JSON.stringify({ builtAt: started, assets, script, style, inputs }, null, 1)}\n`);
  for (const name of readdirSync(assetsDir)) {
    const path = join(assetsDir, name);
    if (!assets.includes(name) && Date.now() - (mtimeOf(path) ?? Date.now()) > KEEP_OLD_ASSETS_MS) unlinkSync(path);
  }
  const bytes = result.outputFiles.filter((file) => !file.path.endsWith('.map')).reduce((sum, file) => sum + file.contents.length, 0);
  return { distDir, script, style, bytes, ms: Date.now() - started };
}

async function main(args) {
  const out = args.indexOf('--out');
  const distDir = out >= 0 && args[out + 1] ? resolve(args[out + 1]) : DEFAULT_DIST_DIR;
  if (args.includes('--if-stale')) {
    const reason = staleReason(distDir);
    if (reason === null) return void console.log(`ui: ${relative(process.cwd(), distDir) || '.'} is up to date`);
  }
  try {
    const built = await buildUi({ distDir });
    console.log(`ui: built ${relative(process.cwd(), built.distDir) || '.'} (${Math.round(built.bytes / 1024)} KiB) in ${built.ms} ms`);
  } catch (error) {
    // An install without dev dependencies must not fail here: the gateway says what is missing.
    if (args.includes('--optional') && /esbuild is not installed/.test(error.message)) {
      console.log(`ui: not built: ${error.message}`);
      return;
    }
    console.error(`ui: build failed: ${error.message}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
