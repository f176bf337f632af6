import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INPUT_LIMITS } from '@tickwise/machines';
import { TickwiseError } from '@tickwise/platform';
import { JOBS_FILE_MAX_BYTES, MAX_EXPANDED_VALUES, MAX_YAML_VALUES, parseJobsFile, readJobsFile } from '../jobs-file.ts';

/** The lines of the jobs file's error (`file:line:col: path: reason`), expecting one. */
function refusal(read: () => unknown): string[] {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(TickwiseError);
    expect(error).toMatchObject({ code: 'invalid_argument', reason: 'invalid_jobs_file' });
    return (error as TickwiseError).violations.map((violation) => `${violation.field}: ${violation.reason}`);
  }
  throw new Error('expected the file to be refused');
}

const endpoint = (extra: string) => `jobs:
  - name: orders
    endpoints:
      - name: poll
        url: http://localhost:9999/orders
        method: POST
        schedule: { every: 30s }
${extra}`;

describe('bad strings and numbers in a jobs file', () => {
  it('names the place and field of NUL, lone surrogates, CR/LF, non-Latin-1 and forbidden headers, non-finite and huge numbers', () => {
    const cases: [string, string][] = [
      ['        headers: { X-A: "a\\0b" }\n', 'jobs.yaml:8:25: jobs[0].endpoints[0].headers.X-A: must not contain the NUL character'],
      ['        headers: { X-A: "a\\r\\nX-B: c" }\n', 'jobs.yaml:8:25: jobs[0].endpoints[0].headers.X-A: must not contain a line break (CR'],
      ['        headers: { X-A: "5 €" }\n', 'jobs.yaml:8:25: jobs[0].endpoints[0].headers.X-A: cannot hold "€" (U+20AC'],
      ['        headers: { Transfer-Encoding: chunked }\n', 'jobs.yaml:8:39: jobs[0].endpoints[0].headers.Transfer-Encoding: header "Transfer-Encoding" cannot be set'],
      ['        headers: { Content-Length: "3" }\n', 'jobs.yaml:8:36: jobs[0].endpoints[0].headers.Content-Length: header "Content-Length" cannot be set'],
      ['        body: { a: "\\ud800" }\n', 'jobs.yaml:8:20: jobs[0].endpoints[0].body.a: must be valid Unicode: it holds a lone surrogate (U+D800'],
      ['        body: { a: ["x", "\\0"] }\n', 'jobs.yaml:8:26: jobs[0].endpoints[0].body.a[1]: must not contain the NUL character'],
      ['        body: { n: 1e400 }\n', 'jobs.yaml:8:20: jobs[0].endpoints[0].body.n: must be a finite number, not Infinity'],
      ['        body: { n: .nan }\n', 'jobs.yaml:8:20: jobs[0].endpoints[0].body.n: must be a finite number, not NaN'],
      ['        body: { id: 12345678901234567890 }\n', 'jobs.yaml:8:21: jobs[0].endpoints[0].body.id: 12345678901234567000 is beyond ±9007199254740991'],
      ['        success: { bodyContains: "ok\\0" }\n', 'jobs.yaml:8:34: jobs[0].endpoints[0].success.bodyContains: must not contain the NUL character'],
    ];
    for (const [extra, expected] of cases) {
      const lines = refusal(() => parseJobsFile('jobs.yaml', endpoint(extra)));
      expect(lines, extra).toHaveLength(1);
      expect(lines[0], extra).toContain(expected);
    }
    const url = refusal(() => parseJobsFile('jobs.yaml', endpoint('').replace('url: http://localhost:9999/orders', 'url: "http://localhost:9999/a\\0"')));
    expect(url).toEqual([expect.stringContaining('jobs.yaml:5:14: jobs[0].endpoints[0].url: must not contain the NUL character')]);
    const notify = refusal(() => parseJobsFile('jobs.yaml', `${endpoint('')}    notify:\n      - { webhook: "https://hooks.example.com/\\0" }\n`));
    expect(notify).toEqual([expect.stringContaining('jobs[0].notify[0].webhook: must not contain the NUL character')]);
  });
});

describe('the limits of one apply, as the API has them', () => {
  it('refuses more jobs than one ApplyJobs call takes, or more endpoints than a job may have, with the API words', () => {
    const jobs = Array.from({ length: INPUT_LIMITS.jobsPerApply + 1 }, (_, i) => `  - { name: j${i}, endpoints: [] }`).join('\n');
    expect(refusal(() => parseJobsFile('jobs.yaml', `jobs:\n${jobs}\n`))).toEqual([`jobs.yaml:2:3: jobs: must have at most ${INPUT_LIMITS.jobsPerApply} jobs`]);
    const endpoints = (count: number) => Array.from({ length: count }, (_, i) => `      - { name: e${i}, url: "http://x/", schedule: { every: 1h } }`).join('\n');
    expect(refusal(() => parseJobsFile('jobs.yaml', `jobs:\n  - name: j\n    endpoints:\n${endpoints(INPUT_LIMITS.endpointsPerJob + 1)}\n`))).toEqual([
      `jobs.yaml:4:7: jobs[0].endpoints: must have at most ${INPUT_LIMITS.endpointsPerJob} endpoints (a job's limit; this has ${INPUT_LIMITS.endpointsPerJob + 1})`,
    ]);
    // More than one ApplyJobs call takes in all is fine on the database path: the file's own size limits bound it.
    const two = `jobs:\n  - name: a\n    endpoints:\n${endpoints(INPUT_LIMITS.endpointsPerJob)}\n  - name: b\n    endpoints:\n${endpoints(1)}\n`;
    expect(parseJobsFile('jobs.yaml', two).reduce((sum, job) => sum + job.endpoints.length, 0)).toBe(INPUT_LIMITS.endpointsPerJob + 1);
  });

  it('refuses a URL, a header or a body past the API limits', () => {
    expect(refusal(() => parseJobsFile('jobs.yaml', endpoint('').replace('/orders', `/${'a'.repeat(INPUT_LIMITS.urlMax)}`)))).toEqual([
      expect.stringContaining(`jobs[0].endpoints[0].url: must be at most ${INPUT_LIMITS.urlMax} characters`),
    ]);
    expect(refusal(() => parseJobsFile('jobs.yaml', endpoint(`        headers: { X-A: "${'v'.repeat(INPUT_LIMITS.headerValueMax + 1)}" }\n`)))).toEqual([
      expect.stringContaining(`jobs[0].endpoints[0].headers.X-A: must be at most ${INPUT_LIMITS.headerValueMax} characters`),
    ]);
    expect(refusal(() => parseJobsFile('jobs.yaml', endpoint(`        body: { a: "${'v'.repeat(INPUT_LIMITS.bodyMaxBytes)}" }\n`)))).toEqual([
      expect.stringContaining(`jobs[0].endpoints[0].body: must be at most ${INPUT_LIMITS.bodyMaxBytes} bytes as JSON`),
    ]);
  });
});

describe('YAML aliases and sizes', () => {
  it('refuses an alias bomb (nested aliases standing for billions of values) quickly, naming the file', () => {
    const levels = ['          l0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let level = 1; level <= 9; level++) levels.push(`          l${level}: &a${level} [${Array(10).fill(`*a${level - 1}`).join(', ')}]`);
    const started = Date.now();
    const lines = refusal(() => parseJobsFile('bomb.yaml', endpoint(`        body:\n${levels.join('\n')}\n`)));
    expect(lines).toEqual([expect.stringMatching(/^bomb\.yaml: YAML aliases expand too far \(.+\): write the values out/)]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('refuses aliases that stay under the YAML package\'s own check but still expand past the value budget', () => {
    const wide = `          big: &big [${Array(1_000).fill('1').join(', ')}]\n          copies: [${Array(1_001).fill('*big').join(', ')}]\n`;
    expect(refusal(() => parseJobsFile('wide.yaml', endpoint(`        body:\n${wide}`)))).toEqual([
      `wide.yaml: YAML aliases expand too far (the file stands for more than ${MAX_EXPANDED_VALUES.toLocaleString('en-US')} values): write the values out, or use fewer aliases of aliases`,
    ]);
    // A shared anchor used many times (headers of every endpoint) is fine.
    const shared = Array.from({ length: 300 }, (_, i) => `      - { name: e${i}, url: "http://x/", schedule: { every: 1h }, headers: ${i === 0 ? '&h { X-Team: billing }' : '*h'} }`).join('\n');
    const [job] = parseJobsFile('shared.yaml', `jobs:\n  - name: j\n    endpoints:\n${shared}\n`);
    expect(job!.endpoints).toHaveLength(300);
    expect(job!.endpoints[299]!.headers).toEqual({ 'X-Team': 'billing' });
  });

  it('refuses a file that writes too many values before building the document', () => {
    const values = Array(MAX_YAML_VALUES + 1).fill('1').join(',');
    expect(refusal(() => parseJobsFile('many.yaml', endpoint(`        body: [${values}]\n`)))).toEqual([
      `many.yaml: the file writes more than ${MAX_YAML_VALUES.toLocaleString('en-US')} values; a jobs file may write at most that many (split it into several files)`,
    ]);
  });

  describe('on disk', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'tickwise-jobs-limits-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('refuses a file over the size limit by its size, without reading it', () => {
      const path = join(dir, 'huge.yaml');
      const fd = openSync(path, 'w');
      ftruncateSync(fd, 50 * 1024 * 1024); // sparse: 50 MiB on paper, nothing written
      closeSync(fd);
      expect(refusal(() => readJobsFile(path))).toEqual([`${path}: the file is 50.0 MiB; a jobs file may be at most ${JOBS_FILE_MAX_BYTES / 1024 / 1024} MiB (split it into several files)`]);
    });

    it('reads a file at the limit, and says why a directory cannot be read', () => {
      const path = join(dir, 'ok.yaml');
      writeFileSync(path, `${endpoint('')}${'#'.repeat(1_000)}\n`);
      expect(readJobsFile(path)).toHaveLength(1);
      expect(refusal(() => readJobsFile(dir))).toEqual([`${dir}: cannot read the file: EISDIR`]);
    });
  });
});
