import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The layout is the architecture (README "Layout"): packages depend downwards by name, services never
// on one another, and nobody reaches into another package's files by path. These checks keep it so.

const REPO = fileURLToPath(new URL('..', import.meta.url));
const SKIP = new Set(['node_modules', '.git', 'dist', 'gen', '.tickwise', 'test-results', 'bench-results']);
/**
 * Where any package's tests may reach by path: the shared test harness, the docs' tested snippets,
 * and the stack `tickwise dev` runs (its demo job and synthetic targets), which the browser tests
 * drive as a user sees it.
 */
const SHARED = ['test/support/', 'docs/snippets/', 'cli/dev/'];
/** Each package, and the @tickwise packages it may import (root: the CLI, which composes them all). */
const ALLOWED: Record<string, readonly string[]> = {
  platform: [],
  machines: ['platform'],
  events: ['platform'],
  api: ['platform', 'machines'],
  db: ['platform', 'machines', 'events'],
  catalog: ['platform', 'machines', 'db'],
  'services/scheduler': ['platform', 'machines', 'db', 'catalog'],
  'services/planner': ['platform', 'machines', 'events', 'db', 'catalog'],
  'services/gateway': ['platform', 'machines', 'events', 'api', 'db', 'catalog'],
  'services/analytics': ['platform', 'events'],
};
const NAMES: Record<string, string> = Object.fromEntries(Object.keys(ALLOWED).map((dir) => [`@tickwise/${dir.replace('services/', '')}`, dir]));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (SKIP.has(name)) return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mjs)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The package a repository path belongs to: the longest package folder it is in ('' for the root). */
function packageOf(path: string): string {
  const inRepo = relative(REPO, path);
  return Object.keys(ALLOWED).filter((dir) => inRepo === dir || inRepo.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length)[0] ?? '';
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((match) => match[1] ?? match[2]!);
}

const files = sourceFiles(REPO);

describe('the layout', () => {
  it('finds the packages it checks', () => {
    for (const dir of Object.keys(ALLOWED)) expect(existsSync(join(REPO, dir, 'package.json')), `${dir}/package.json`).toBe(true);
    expect(files.length).toBeGreaterThan(200);
  });

  it('has no file importing another package’s files by path', () => {
    const crossings: string[] = [];
    for (const file of files) {
      const own = packageOf(file);
      for (const specifier of importsOf(file).filter((each) => each.startsWith('.'))) {
        const target = resolve(dirname(file), specifier);
        const inRepo = relative(REPO, target);
        if (packageOf(target) === own || SHARED.some((shared) => inRepo.startsWith(shared))) continue;
        crossings.push(`${relative(REPO, file)} imports ${specifier}`);
      }
    }
    expect(crossings).toEqual([]);
  });

  it('has each package import only the packages below it, and no service another service', () => {
    const wrong: string[] = [];
    for (const file of files) {
      const own = packageOf(file);
      if (own === '') continue;
      for (const specifier of importsOf(file).filter((each) => each.startsWith('@tickwise/'))) {
        const target = NAMES[specifier.split('/').slice(0, 2).join('/')];
        const isTest = relative(REPO, file).includes('/test/');
        // A package's tests may use the packages above the one they test only to drive it (a node in a planner test).
        if (target === undefined || target === own || ALLOWED[own]!.includes(target) || isTest) continue;
        wrong.push(`${relative(REPO, file)} imports ${specifier}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('declares what each package imports in its package.json, and nothing above it', () => {
    for (const [dir, allowed] of Object.entries(ALLOWED)) {
      const declared = Object.keys((JSON.parse(readFileSync(join(REPO, dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {})
        .filter((name) => name.startsWith('@tickwise/'))
        .map((name) => NAMES[name]);
      expect(declared.filter((target) => !allowed.includes(target!)), `${dir}/package.json`).toEqual([]);
    }
  });

  it('has no hand-written source file over 400 lines without a reason at its top', () => {
    const lineCount = (text: string) => text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    const long = files
      .filter((file) => lineCount(readFileSync(file, 'utf8')) > 400)
      .filter((file) => !/over 400 lines/i.test(readFileSync(file, 'utf8').split('\n').slice(0, 10).join('\n')))
      .map((file) => relative(REPO, file));
    expect(long).toEqual([]);
  });
});
