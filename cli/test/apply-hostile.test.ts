import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INPUT_LIMITS } from '@tickwise/machines';
import { internalErrors, useGateway } from '../../test/support/gateway.ts';
import { tickwise } from './cli-process.ts';

// What a hostile jobs file gets from `tickwise apply`, on the database path and through the API:
// the same refusal, exit 2, the place and field, no stack trace, nothing written, bounded memory.

/** A file of nested aliases: ten levels of ten, 10^10 values once expanded, in a dozen lines. */
function aliasBomb(): string {
  const levels = ['          l0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let level = 1; level <= 9; level++) levels.push(`          l${level}: &a${level} [${Array(10).fill(`*a${level - 1}`).join(', ')}]`);
  return `jobs:\n  - name: hostile\n    endpoints:\n      - name: poll\n        url: http://127.0.0.1:1/orders\n        method: POST\n        schedule: { every: 30s }\n        body:\n${levels.join('\n')}\n`;
}

describe('tickwise apply with hostile files', () => {
  const fx = useGateway();
  let dir: string;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const paths = () => ({
    database: { DATABASE_URL: fx.db.url },
    api: { TICKWISE_URL: fx.gateway.url, TICKWISE_API_KEY: fx.a.keys.write, DATABASE_URL: fx.db.url },
  });
  const rows = async () => (await fx.db.pool.query<{ n: number }>('SELECT (SELECT count(*) FROM jobs)::int + (SELECT count(*) FROM endpoints)::int AS n')).rows[0]!.n;
  // The heap a run of the CLI gets: enough for any file within the limits, far too little for an expanded bomb.
  const small = { NODE_OPTIONS: '--max-old-space-size=160' };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tickwise-apply-hostile-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses NUL, lone surrogates, unsendable headers and non-finite numbers on both paths, exit 2, naming each place', async () => {
    // One endpoint per bad value; the reader reports every problem of the file at once.
    const cases: [string, string, string][] = [
      ['headers: { X-A: "a\\0b" }', '25', 'headers.X-A: must not contain the NUL character'],
      ['headers: { X-A: "a\\r\\nX-Injected: 1" }', '25', 'headers.X-A: must not contain a line break'],
      ['headers: { X-A: "\u20ac" }', '25', 'headers.X-A: cannot hold "\u20ac"'],
      ['headers: { Transfer-Encoding: chunked }', '39', 'headers.Transfer-Encoding: header "Transfer-Encoding" cannot be set'],
      ['body: { a: "\\ud800" }', '20', 'body.a: must be valid Unicode'],
      ['body: { n: 1e400 }', '20', 'body.n: must be a finite number, not Infinity'],
    ];
    const text = `jobs:\n  - name: hostile\n    endpoints:\n${cases
      .map(([extra], index) => `      - name: e${index}\n        url: http://127.0.0.1:1/orders\n        method: POST\n        schedule: { every: 30s }\n        ${extra}\n`)
      .join('')}`;
    const path = file('bad.yaml', text);
    const before = await rows();
    for (const [via, env] of Object.entries(paths())) {
      const result = await tickwise(['apply', '-f', path], env);
      expect(result.code, `${via}: ${result.stderr}`).toBe(2);
      cases.forEach(([, column, expected], index) => expect(result.stderr, via).toContain(`${path}:${8 + 5 * index}:${column}: jobs[0].endpoints[${index}].${expected}`));
      expect(result.stderr, via).not.toMatch(/^\s+at /m);
    }
    expect(await rows()).toBe(before);
    expect(internalErrors(fx)).toEqual([]);
  });

  it('refuses an alias bomb on both paths quickly, exit 2, no stack trace, within a small heap', async () => {
    const path = file('bomb.yaml', aliasBomb());
    for (const [via, env] of Object.entries(paths())) {
      const started = Date.now();
      const result = await tickwise(['apply', '-f', path], { ...env, ...small });
      expect(result.code, `${via}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toContain(`${path}: YAML aliases expand too far`);
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(Date.now() - started).toBeLessThan(20_000);
    }
  });

  it('refuses a 50 MB file by its size on both paths, without reading it', async () => {
    const path = join(dir, 'huge.yaml');
    const fd = openSync(path, 'w');
    ftruncateSync(fd, 50 * 1024 * 1024);
    closeSync(fd);
    for (const env of Object.values(paths())) {
      const result = await tickwise(['apply', '-f', path], { ...env, ...small });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`${path}: the file is 50.0 MiB; a jobs file may be at most 10 MiB`);
    }
  });

  it('applies the API limits of one apply on the database path too', async () => {
    const jobs = Array.from({ length: INPUT_LIMITS.jobsPerApply + 1 }, (_, i) => `  - { name: j${i}, endpoints: [] }`).join('\n');
    const path = file('many.yaml', `jobs:\n${jobs}\n`);
    const before = await rows();
    const result = await tickwise(['apply', '-f', path], paths().database);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${path}:2:3: jobs: must have at most ${INPUT_LIMITS.jobsPerApply} jobs`);
    expect(await rows()).toBe(before);
  });
});
