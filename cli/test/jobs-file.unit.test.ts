import { describe, it, expect } from 'vitest';
import { TickwiseError } from '@tickwise/platform';
import { parseJobsFile, type FileProblem } from '../jobs-file.ts';

const EXAMPLE = `jobs:
  - name: orders
    endpoints:
      - name: poll-orders
        url: http://localhost:9999/orders
        method: GET
        headers: { X-Team: billing }
        schedule: { every: 30s }
        minInterval: 5s
        maxInterval: 10m
        jitter: 10%
        timeout: 10s
        catchUp: skip
`;

/** Parses `text`, expecting the jobs file's invalid_argument, and returns it. */
function rejection(text: string, file = 'jobs.yaml'): TickwiseError {
  try {
    parseJobsFile(file, text);
  } catch (error) {
    expect(error).toBeInstanceOf(TickwiseError);
    expect(error).toMatchObject({ code: 'invalid_argument', reason: 'invalid_jobs_file' });
    return error as TickwiseError;
  }
  throw new Error('expected parseJobsFile to throw');
}

/** The problems of jobs.yaml, read back from each violation's place (`jobs.yaml:line:column: path`). */
function problems(text: string): FileProblem[] {
  return rejection(text).violations.map(({ field, reason }) => {
    const [, line = '0', column = '0', path = ''] = /^jobs\.yaml(?::(\d+):(\d+))?(?:: (.+))?$/.exec(field)!;
    return { line: Number(line), column: Number(column), path, message: reason };
  });
}

describe('a valid jobs file', () => {
  it('parses the example into normalised jobs', () => {
    expect(parseJobsFile('jobs.yaml', EXAMPLE)).toEqual([
      {
        name: 'orders',
        synthetic: false,
        endpoints: [
          {
            name: 'poll-orders',
            url: 'http://localhost:9999/orders',
            method: 'GET',
            headers: { 'X-Team': 'billing' },
            schedule: { kind: 'every', everyMs: 30_000 },
            minInterval: 5_000,
            maxInterval: 600_000,
            jitter: 0.1,
            timeout: 10_000,
            catchUp: 'skip',
            overlap: 'queue',
          },
        ],
      },
    ]);
  });

  it('fills in defaults and reads several jobs, cron schedules and bodies', () => {
    const text = `jobs:
  - name: reports
    synthetic: true
    endpoints:
      - name: nightly
        url: https://reports.example.com/run
        method: POST
        body:
          kind: nightly
          limit: 10
        schedule:
          cron: "0 2 * * *"
          timezone: Europe/Paris
  - name: health
    endpoints:
      - name: ping
        url: http://localhost:8080/health
        schedule: { every: 1m }
`;
    const [reports, health] = parseJobsFile('jobs.yaml', text);
    expect(reports).toEqual({
      name: 'reports',
      synthetic: true,
      endpoints: [
        {
          name: 'nightly',
          url: 'https://reports.example.com/run',
          method: 'POST',
          headers: {},
          body: { kind: 'nightly', limit: 10 },
          schedule: { kind: 'cron', cron: '0 2 * * *', timezone: 'Europe/Paris' },
          jitter: 0,
          timeout: 10_000,
          catchUp: 'skip',
          overlap: 'queue',
        },
      ],
    });
    expect(health).toMatchObject({ name: 'health', synthetic: false, endpoints: [{ name: 'ping', method: 'GET', schedule: { kind: 'every', everyMs: 60_000 } }] });
  });

  it('accepts an empty jobs list', () => {
    expect(parseJobsFile('jobs.yaml', 'jobs: []\n')).toEqual([]);
  });

  it('accepts a job without endpoints', () => {
    expect(parseJobsFile('jobs.yaml', 'jobs:\n  - name: empty\n    endpoints: []\n')).toEqual([{ name: 'empty', synthetic: false, endpoints: [] }]);
  });

  it('accepts comments and a document marker', () => {
    expect(parseJobsFile('jobs.yaml', `---\n# team jobs\n${EXAMPLE}`)).toHaveLength(1);
  });
});

describe('validation problems carry line, column, path and message', () => {
  it('every below 100ms', () => {
    const error = rejection(EXAMPLE.replace('every: 30s', 'every: 50ms'));
    expect(error.violations).toEqual([{ field: 'jobs.yaml:8:28: jobs[0].endpoints[0].schedule.every', reason: 'duration "50ms" must be at least 100ms' }]);
    expect(error.message).toBe('jobs.yaml was not applied (nothing changed):\njobs.yaml:8:28: jobs[0].endpoints[0].schedule.every: duration "50ms" must be at least 100ms');
  });

  it('an unknown duration unit', () => {
    expect(problems(EXAMPLE.replace('every: 30s', 'every: 30x'))).toEqual([
      { line: 8, column: 28, path: 'jobs[0].endpoints[0].schedule.every', message: 'invalid duration "30x" (use e.g. 250ms, 30s, 5m, 1h)' },
    ]);
  });

  it('a bad URL', () => {
    expect(problems(EXAMPLE.replace('http://localhost:9999/orders', 'ftp://localhost/orders'))).toEqual([
      { line: 5, column: 14, path: 'jobs[0].endpoints[0].url', message: 'must be an absolute http:// or https:// URL' },
    ]);
  });

  it('a reserved header', () => {
    expect(problems(EXAMPLE.replace('{ X-Team: billing }', '{ X-Team: billing, Idempotency-Key: abc }'))).toEqual([
      {
        line: 7,
        column: 54, // the header value
        path: 'jobs[0].endpoints[0].headers.Idempotency-Key',
        message: 'header "Idempotency-Key" is set by Tickwise and cannot be overridden',
      },
    ]);
  });

  it('jitter above 100%', () => {
    expect(problems(EXAMPLE.replace('jitter: 10%', 'jitter: 150%'))).toEqual([
      { line: 11, column: 17, path: 'jobs[0].endpoints[0].jitter', message: 'must be at most 100%' },
    ]);
  });

  it('minInterval above maxInterval', () => {
    const [problem] = problems(EXAMPLE.replace('minInterval: 5s', 'minInterval: 1h'));
    expect(problem).toEqual({ line: 9, column: 22, path: 'jobs[0].endpoints[0].minInterval', message: 'minInterval 1h is above maxInterval 10m' });
  });

  it('a bad cron expression and time zone in a block mapping', () => {
    const text = EXAMPLE.replace('schedule: { every: 30s }', 'schedule:\n          cron: "every day"\n          timezone: Mars/Olympus').replace('        minInterval: 5s\n        maxInterval: 10m\n', '');
    const found = problems(text);
    expect(found.map(({ line, column, path }) => ({ line, column, path }))).toEqual([
      { line: 10, column: 21, path: 'jobs[0].endpoints[0].schedule.timezone' },
      { line: 9, column: 17, path: 'jobs[0].endpoints[0].schedule.cron' },
    ]);
    expect(found[0]?.message).toBe('unknown IANA time zone "Mars/Olympus"');
    expect(found[1]?.message).toMatch(/^invalid cron expression "every day": /);
  });

  it('an unknown key names the key and points at the key itself', () => {
    const lines = EXAMPLE.split('\n').length;
    expect(problems(EXAMPLE.replace('catchUp: skip', 'catchUp: skip\n        retries: 3'))).toEqual([
      { line: lines, column: 9, path: 'jobs[0].endpoints[0]', message: 'Unrecognized key: "retries"' },
    ]);
  });

  it('an unknown top-level key', () => {
    const lines = EXAMPLE.split('\n').length;
    expect(problems(`${EXAMPLE}version: 2\n`)).toEqual([{ line: lines, column: 1, path: '', message: 'Unrecognized key: "version"' }]);
  });

  it('a missing required field points at the endpoint that lacks it', () => {
    const [problem] = problems('jobs:\n  - name: a\n    endpoints:\n      - name: e\n        schedule: { every: 1s }\n');
    expect(problem).toMatchObject({ line: 4, column: 9, path: 'jobs[0].endpoints[0].url' });
  });

  it('a bad job name', () => {
    expect(problems('jobs:\n  - name: "-bad"\n    endpoints: []\n')).toEqual([
      { line: 2, column: 11, path: 'jobs[0].name', message: 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit' },
    ]);
  });

  it('a problem in the second job and endpoint has the right indexes and line', () => {
    const text = `${EXAMPLE}  - name: billing
    endpoints:
      - name: ok
        url: http://localhost/ok
        schedule: { every: 1s }
      - name: broken
        url: http://localhost/broken
        schedule: { every: 1x }
`;
    expect(problems(text)).toEqual([
      { line: 21, column: 28, path: 'jobs[1].endpoints[1].schedule.every', message: 'invalid duration "1x" (use e.g. 250ms, 30s, 5m, 1h)' },
    ]);
  });
});

describe('YAML problems', () => {
  it('a syntax error is reported with its line and column', () => {
    expect(problems('jobs:\n  - name: a\n    endpoints: []\n    name: b\n')).toEqual([{ line: 4, column: 5, path: '', message: 'YAML: Map keys must be unique' }]);
    expect(problems('jobs:\n  - name: a\n\tendpoints: []\n')[0]).toMatchObject({ line: 3 });
    expect(rejection('jobs:\n  - name: a\n    endpoints: []\n    name: b\n').message).toBe('jobs.yaml was not applied (nothing changed):\njobs.yaml:4:5: YAML: Map keys must be unique');
  });

  it('a syntax error is reported as a YAML problem, without a path', () => {
    const found = problems('jobs:\n  - name: orders\n    endpoints:\n      - name: "unterminated\n');
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]).toMatchObject({ path: '' });
    expect(found[0]?.message).toMatch(/^YAML: /);
    expect(found[0]?.message).toContain('quote');
  });

  it('tabs used as indentation', () => {
    const [problem] = problems('jobs:\n  - name: a\n\tendpoints: []\n');
    expect(problem?.message).toBe('YAML: Tabs are not allowed as indentation');
  });

  it('keeps only the first line of a YAML message', () => {
    for (const problem of problems('jobs:\n  - name: a\n    endpoints: [\n  bad: : :\n')) {
      expect(problem.message).toMatch(/^YAML: /);
      expect(problem.message).not.toContain('\n');
    }
  });

  it('duplicate keys in an endpoint', () => {
    const [problem] = problems(EXAMPLE.replace('catchUp: skip', 'catchUp: skip\n        timeout: 20s'));
    expect(problem?.message).toBe('YAML: Map keys must be unique');
  });

  it('duplicate top-level keys', () => {
    expect(problems('jobs: []\njobs: []\n').map((p) => p.message)).toEqual(['YAML: Map keys must be unique']);
  });
});

describe('the top-level jobs list', () => {
  it.each([
    ['another key only', 'other: 1\n'],
    ['an empty file', ''],
    ['a comment only', '# nothing yet\n'],
    ['a scalar', 'hello\n'],
    ['a list at the top', '- name: orders\n'],
    ['jobs as a map', 'jobs: { orders: 1 }\n'],
    ['jobs as a scalar', 'jobs: orders\n'],
    ['jobs with no value', 'jobs:\n'],
  ])('is required (%s)', (_label, text) => {
    expect(problems(text)).toEqual([{ line: 1, column: 1, path: 'jobs', message: 'the file must have a top-level "jobs:" list' }]);
  });
});

describe('duplicate names', () => {
  it('a job name used twice points at the second one', () => {
    expect(problems('jobs:\n  - name: a\n    endpoints: []\n  - name: a\n    endpoints: []\n')).toEqual([
      { line: 4, column: 11, path: 'jobs[1].name', message: 'job "a" appears twice' },
    ]);
  });

  it('an endpoint name used twice in a job points at the second one', () => {
    const text = `jobs:
  - name: a
    endpoints:
      - name: e
        url: http://x/1
        schedule: { every: 1s }
      - name: e
        url: http://x/2
        schedule: { every: 1s }
`;
    expect(problems(text)).toEqual([{ line: 7, column: 15, path: 'jobs[0].endpoints[1].name', message: 'endpoint "e" appears twice in job "a"' }]);
  });

  it('the same endpoint name in two jobs is fine', () => {
    const text = `jobs:
  - name: a
    endpoints:
      - name: e
        url: http://x/1
        schedule: { every: 1s }
  - name: b
    endpoints:
      - name: e
        url: http://x/2
        schedule: { every: 1s }
`;
    expect(parseJobsFile('jobs.yaml', text)).toHaveLength(2);
  });
});

describe('several problems at once', () => {
  const text = `jobs:
  - name: a
    endpoints:
      - name: e
        url: ftp://x/1
        schedule: { every: 1s }
        jitter: 150%
      - name: f
        url: http://x/2
        schedule:
          cron: "0 9 * * *"
          timezone: Mars/Olympus
        retries: 3
`;

  it('reports every problem with its own line and path', () => {
    expect(problems(text)).toEqual([
      { line: 5, column: 14, path: 'jobs[0].endpoints[0].url', message: 'must be an absolute http:// or https:// URL' },
      { line: 7, column: 17, path: 'jobs[0].endpoints[0].jitter', message: 'must be at most 100%' },
      { line: 12, column: 21, path: 'jobs[0].endpoints[1].schedule.timezone', message: 'unknown IANA time zone "Mars/Olympus"' },
      { line: 13, column: 9, path: 'jobs[0].endpoints[1]', message: 'Unrecognized key: "retries"' },
    ]);
  });

  it('writes that nothing was applied, then one line per problem, prefixed by the file name', () => {
    const error = rejection(text, 'team/jobs.yaml');
    expect(error.message.split('\n')).toEqual([
      'team/jobs.yaml was not applied (nothing changed):',
      'team/jobs.yaml:5:14: jobs[0].endpoints[0].url: must be an absolute http:// or https:// URL',
      'team/jobs.yaml:7:17: jobs[0].endpoints[0].jitter: must be at most 100%',
      'team/jobs.yaml:12:21: jobs[0].endpoints[1].schedule.timezone: unknown IANA time zone "Mars/Olympus"',
      'team/jobs.yaml:13:9: jobs[0].endpoints[1]: Unrecognized key: "retries"',
    ]);
  });

  it('reports problems in several jobs together with duplicate names', () => {
    const many = `jobs:
  - name: a
    endpoints:
      - name: e
        url: http://x/1
        schedule: { every: 10ms }
  - name: a
    endpoints:
      - name: g
        url: nope
        schedule: { every: 1s }
`;
    expect(problems(many).map((p) => `${p.line} ${p.path}`)).toEqual(['6 jobs[0].endpoints[0].schedule.every', '10 jobs[1].endpoints[0].url']);
  });
});

describe('the delivery keys: retry, success, overlap, pauseAfter', () => {
  const DELIVERY = `${EXAMPLE}        retry: { attempts: 3, backoff: 1s, maxBackoff: 30s, on: [5xx, 429, timeout, network] }
        success: { status: ["2xx", 304], bodyContains: '"ok":true' }
        overlap: skip
        pauseAfter: 50
`;

  it('are read into the stored spec, YAML numbers and strings alike', () => {
    const [endpoint] = parseJobsFile('jobs.yaml', DELIVERY)[0]!.endpoints;
    expect(endpoint).toMatchObject({
      retry: { attempts: 3, backoffMs: 1_000, maxBackoffMs: 30_000, on: ['5xx', '429', 'timeout', 'network'] },
      success: { status: ['2xx', '304'], bodyContains: '"ok":true' },
      overlap: 'skip',
      pauseAfter: 50,
    });
  });

  it.each([
    ['attempts: 3', 'attempts: 0', 14, 'jobs[0].endpoints[0].retry.attempts', 'Too small: expected number to be >=1'],
    ['attempts: 3', 'attempts: 11', 14, 'jobs[0].endpoints[0].retry.attempts', 'Too big: expected number to be <=10'],
    ['maxBackoff: 30s', 'maxBackoff: 500ms', 14, 'jobs[0].endpoints[0].retry.maxBackoff', 'maxBackoff 500ms is below backoff 1s'],
    ['backoff: 1s', 'backoff: soon', 14, 'jobs[0].endpoints[0].retry.backoff', 'must be a duration from 1ms to 1h, such as 1s or 30s; got "soon"'],
    ['on: [5xx, 429, timeout, network]', 'on: [5xx, 6xx]', 14, 'jobs[0].endpoints[0].retry.on[1]', 'Invalid input'],
    ['status: ["2xx", 304]', 'status: [ok]', 15, 'jobs[0].endpoints[0].success.status[0]', '"ok" is not a status such as 200 or a class such as 2xx'],
    ['overlap: skip', 'overlap: drop', 16, 'jobs[0].endpoints[0].overlap', 'Invalid option: expected one of "queue"|"skip"'],
    ['pauseAfter: 50', 'pauseAfter: -1', 17, 'jobs[0].endpoints[0].pauseAfter', 'Too small: expected number to be >=1'],
  ])('refuses %s → %s, naming the line and the field', (from, to, line, path, message) => {
    const [problem] = problems(DELIVERY.replace(from, to));
    expect(problem).toMatchObject({ line, path, message });
  });

  it('refuses an unknown key inside retry, where it stands', () => {
    expect(problems(DELIVERY.replace('attempts: 3,', 'attempts: 3, tries: 4,'))).toEqual([
      { line: 14, column: 31, path: 'jobs[0].endpoints[0].retry', message: 'Unrecognized key: "tries"' },
    ]);
  });
});
