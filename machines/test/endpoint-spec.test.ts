import { describe, it, expect } from 'vitest';
import {
  DEFAULT_TIMEOUT_MS,
  describeSchedule,
  endpointInputSchema,
  isValidTimeZone,
  toEndpointSpec,
  type EndpointSpec,
} from '@tickwise/machines';

const base = { name: 'poll-orders', url: 'http://localhost:9999/orders', schedule: { every: '30s' } };

/** Parses `input` and returns its problems as `path: message` lines; fails the test if it is valid. */
function problems(input: unknown): { path: string; message: string }[] {
  const result = endpointInputSchema.safeParse(input);
  expect(result.success, 'expected the input to be rejected').toBe(false);
  return result.success ? [] : result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
}

function spec(input: unknown): EndpointSpec {
  return toEndpointSpec(endpointInputSchema.parse(input));
}

describe('endpointInputSchema: valid input', () => {
  it('fills in defaults for a minimal endpoint', () => {
    expect(spec(base)).toEqual({
      url: 'http://localhost:9999/orders',
      method: 'GET',
      headers: {},
      schedule: { kind: 'every', everyMs: 30_000 },
      jitter: 0,
      timeoutMs: DEFAULT_TIMEOUT_MS,
      catchUp: 'skip',
    });
  });

  it('normalises every field of a complete endpoint', () => {
    const input = endpointInputSchema.parse({
      name: 'push-orders',
      url: 'https://api.example.com:8443/orders?since=1',
      method: 'POST',
      headers: { 'X-Team': 'billing', Authorization: 'Bearer t' },
      body: { batch: 10 },
      schedule: { cron: '0 9 * * 1-5', timezone: 'Europe/Paris' },
      minInterval: '5s',
      maxInterval: '10m',
      jitter: '10%',
      timeout: '30s',
      catchUp: 'once',
    });
    expect(input.name).toBe('push-orders');
    expect(toEndpointSpec(input)).toEqual({
      url: 'https://api.example.com:8443/orders?since=1',
      method: 'POST',
      headers: { 'X-Team': 'billing', Authorization: 'Bearer t' },
      body: { batch: 10 },
      schedule: { kind: 'cron', cron: '0 9 * * 1-5', timezone: 'Europe/Paris' },
      minIntervalMs: 5_000,
      maxIntervalMs: 600_000,
      jitter: 0.1,
      timeoutMs: 30_000,
      catchUp: 'once',
    });
  });

  it('leaves optional fields out of the spec instead of writing undefined', () => {
    const result = spec(base);
    expect(Object.keys(result)).not.toContain('body');
    expect(Object.keys(result)).not.toContain('minIntervalMs');
    expect(Object.keys(result)).not.toContain('maxIntervalMs');
  });

  it('defaults the cron time zone to UTC', () => {
    expect(spec({ ...base, schedule: { cron: '*/5 * * * *' } }).schedule).toEqual({ kind: 'cron', cron: '*/5 * * * *', timezone: 'UTC' });
  });

  it('accepts a six-part cron expression with seconds', () => {
    expect(spec({ ...base, schedule: { cron: '*/10 * * * * *' } }).schedule.kind).toBe('cron');
  });

  it('accepts jitter as a fraction or as a percentage, up to 100%', () => {
    expect(spec({ ...base, jitter: 0.25 }).jitter).toBe(0.25);
    expect(spec({ ...base, jitter: '12.5%' }).jitter).toBe(0.125);
    expect(spec({ ...base, jitter: '100%' }).jitter).toBe(1);
    expect(spec({ ...base, jitter: 0 }).jitter).toBe(0);
  });

  it('accepts every at the 100ms floor and equal to min and max interval', () => {
    expect(spec({ ...base, schedule: { every: '100ms' } }).schedule).toEqual({ kind: 'every', everyMs: 100 });
    expect(spec({ ...base, minInterval: '30s', maxInterval: '30s' })).toMatchObject({ minIntervalMs: 30_000, maxIntervalMs: 30_000 });
  });

  it('accepts a body with methods other than GET', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      expect(spec({ ...base, method, body: 'payload' })).toMatchObject({ method, body: 'payload' });
    }
  });

  it('accepts timeouts up to 15 minutes', () => {
    expect(spec({ ...base, timeout: '15m' }).timeoutMs).toBe(900_000);
    expect(spec({ ...base, timeout: '1ms' }).timeoutMs).toBe(1);
  });
});

describe('endpointInputSchema: schedule problems', () => {
  it('rejects every below 100ms', () => {
    expect(problems({ ...base, schedule: { every: '50ms' } })).toEqual([
      { path: 'schedule.every', message: 'duration "50ms" must be at least 100ms' },
    ]);
  });

  it('rejects an unknown duration unit and shows the accepted forms', () => {
    expect(problems({ ...base, schedule: { every: '30x' } })).toEqual([
      { path: 'schedule.every', message: 'invalid duration "30x" (use e.g. 250ms, 30s, 5m, 1h)' },
    ]);
  });

  it('rejects an invalid cron expression, naming it', () => {
    const [problem, ...rest] = problems({ ...base, schedule: { cron: 'not a cron' } });
    expect(rest).toEqual([]);
    expect(problem?.path).toBe('schedule.cron');
    expect(problem?.message).toMatch(/^invalid cron expression "not a cron": /);
  });

  it('rejects a cron field out of range', () => {
    const [problem] = problems({ ...base, schedule: { cron: '61 * * * *' } });
    expect(problem?.path).toBe('schedule.cron');
    expect(problem?.message).toContain('invalid cron expression "61 * * * *"');
    expect(problem?.message).toMatch(/minute/i);
  });

  it('rejects an unknown time zone', () => {
    expect(problems({ ...base, schedule: { cron: '0 9 * * *', timezone: 'Mars/Olympus' } })).toEqual([
      { path: 'schedule.timezone', message: 'unknown IANA time zone "Mars/Olympus"' },
    ]);
  });

  it('reports a bad cron and a bad time zone together', () => {
    const paths = problems({ ...base, schedule: { cron: 'nope', timezone: 'Nowhere/Town' } }).map((p) => p.path);
    expect(paths.sort()).toEqual(['schedule.cron', 'schedule.timezone']);
  });

  it('rejects a schedule that is neither every nor cron', () => {
    for (const schedule of [{ at: '09:00' }, '30s', null, ['30s']]) {
      expect(problems({ ...base, schedule })).toEqual([
        { path: 'schedule', message: 'must be { every: <duration> } or { cron: "<expression>", timezone: <IANA zone> }' },
      ]);
    }
  });

  it('rejects a schedule that mixes every and cron', () => {
    expect(problems({ ...base, schedule: { every: '1s', cron: '* * * * *' } })).toEqual([
      { path: 'schedule', message: 'Unrecognized key: "cron"' },
    ]);
  });

  it('rejects a missing schedule', () => {
    const { schedule: _omitted, ...noSchedule } = base;
    expect(problems(noSchedule).map((p) => p.path)).toEqual(['schedule']);
  });
});

describe('endpointInputSchema: request problems', () => {
  it('rejects a GET with a body', () => {
    expect(problems({ ...base, body: { a: 1 } })).toEqual([
      { path: 'body', message: 'a GET request cannot carry a body (use POST, PUT, PATCH or DELETE)' },
    ]);
  });

  it('rejects an implicit GET (default method) with a body too', () => {
    expect(problems({ ...base, method: undefined, body: 'x' }).map((p) => p.path)).toEqual(['body']);
  });

  it.each(['X-Tickwise-Run', 'Idempotency-Key', 'x-tickwise-endpoint', 'X-TICKWISE-SCHEDULED-AT'])('rejects the reserved header %s whatever its case', (header) => {
    expect(problems({ ...base, headers: { [header]: 'mine' } })).toEqual([
      { path: `headers.${header}`, message: `header "${header}" is set by Tickwise and cannot be overridden` },
    ]);
  });

  it('reports every reserved header, not only the first', () => {
    expect(problems({ ...base, headers: { 'X-Tickwise-Run': 'a', 'X-Ok': 'fine', 'Idempotency-Key': 'b' } }).map((p) => p.path)).toEqual([
      'headers.X-Tickwise-Run',
      'headers.Idempotency-Key',
    ]);
  });

  it('rejects a header name with a space', () => {
    expect(problems({ ...base, headers: { 'Bad Header': 'x' } }).map((p) => p.path)).toEqual(['headers.Bad Header']);
  });

  it('rejects a non-string header value', () => {
    expect(problems({ ...base, headers: { 'X-Count': 3 } }).map((p) => p.path)).toEqual(['headers.X-Count']);
  });

  it('rejects an unsupported method, listing the allowed ones', () => {
    const [problem] = problems({ ...base, method: 'HEAD' });
    expect(problem?.path).toBe('method');
    expect(problem?.message).toContain('"GET"|"POST"|"PUT"|"PATCH"|"DELETE"');
  });

  it.each(['not a url', '/orders', 'localhost:9999/orders', 'https://', 'mailto:ops@example.com', 'ftp://example.com/file', 'file:///etc/passwd'])('rejects the URL %j', (url) => {
    expect(problems({ ...base, url })).toEqual([{ path: 'url', message: 'must be an absolute http:// or https:// URL' }]);
  });

  it('rejects a timeout above 15 minutes or of zero', () => {
    expect(problems({ ...base, timeout: '20m' })).toEqual([{ path: 'timeout', message: 'duration "20m" must be at most 15m' }]);
    expect(problems({ ...base, timeout: '0ms' })).toEqual([{ path: 'timeout', message: 'duration "0ms" must be at least 1ms' }]);
  });

  it('says a duration is too large rather than too small', () => {
    expect(problems({ ...base, schedule: { every: '200000000000d' } })).toEqual([{ path: 'schedule.every', message: 'duration "200000000000d" must be at most 366d' }]);
  });

  it('rejects a cron expression that never fires', () => {
    expect(problems({ ...base, schedule: { cron: '0 0 30 2 *' } })).toEqual([{ path: 'schedule.cron', message: 'cron expression "0 0 30 2 *" never fires' }]);
  });

  it('rejects an unknown catch-up policy', () => {
    const [problem] = problems({ ...base, catchUp: 'all' });
    expect(problem?.path).toBe('catchUp');
    expect(problem?.message).toContain('"skip"|"once"');
  });
});

describe('endpointInputSchema: interval bounds and jitter', () => {
  it('rejects minInterval above maxInterval', () => {
    expect(problems({ ...base, schedule: { cron: '* * * * *' }, minInterval: '10m', maxInterval: '1m' })).toEqual([
      { path: 'minInterval', message: 'minInterval 10m is above maxInterval 1m' },
    ]);
  });

  it('rejects every below minInterval', () => {
    expect(problems({ ...base, minInterval: '1m' })).toEqual([{ path: 'schedule.every', message: 'every 30s is below minInterval 1m' }]);
  });

  it('rejects every above maxInterval', () => {
    expect(problems({ ...base, maxInterval: '10s' })).toEqual([{ path: 'schedule.every', message: 'every 30s is above maxInterval 10s' }]);
  });

  it('rejects min and max intervals below the 100ms floor', () => {
    expect(problems({ ...base, minInterval: '10ms' })).toEqual([{ path: 'minInterval', message: 'duration "10ms" must be at least 100ms' }]);
    expect(problems({ ...base, schedule: { cron: '* * * * *' }, maxInterval: '99ms' })).toEqual([
      { path: 'maxInterval', message: 'duration "99ms" must be at least 100ms' },
    ]);
  });

  it('rejects jitter above 100%', () => {
    expect(problems({ ...base, jitter: '150%' })).toEqual([{ path: 'jitter', message: 'must be at most 100%' }]);
  });

  it('rejects a fractional jitter above 1 or below 0', () => {
    expect(problems({ ...base, jitter: 1.5 }).every((p) => p.path === 'jitter')).toBe(true);
    expect(problems({ ...base, jitter: -0.1 }).every((p) => p.path === 'jitter')).toBe(true);
  });

  it('rejects jitter that is neither a number nor a percentage', () => {
    expect(problems({ ...base, jitter: 'ten' }).map((p) => p.path)).toEqual(['jitter']);
    expect(problems({ ...base, jitter: '10' }).map((p) => p.path)).toEqual(['jitter']);
  });
});

describe('endpointInputSchema: names and unknown keys', () => {
  it('rejects an unknown key, naming it', () => {
    expect(problems({ ...base, retries: 3 })).toEqual([{ path: '', message: 'Unrecognized key: "retries"' }]);
  });

  it.each(['-leading-dash', '', 'has space', 'a'.repeat(64), 'ünïcode'])('rejects the name %j', (name) => {
    const [problem] = problems({ ...base, name });
    expect(problem?.path).toBe('name');
    expect(problem?.message).toBe('must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit');
  });

  it('accepts a 63-character name with dots, dashes and underscores', () => {
    const name = `a${'._-'.repeat(20)}bc`;
    expect(name).toHaveLength(63);
    expect(endpointInputSchema.safeParse({ ...base, name }).success).toBe(true);
  });

  it('reports several problems at once', () => {
    const paths = problems({ name: 'ok', url: 'ftp://x', schedule: { every: '30x' }, jitter: '150%', headers: { 'Idempotency-Key': 'k' } }).map((p) => p.path);
    expect(paths.sort()).toEqual(['headers.Idempotency-Key', 'jitter', 'schedule.every', 'url']);
  });
});

describe('helpers', () => {
  it('isValidTimeZone knows IANA zones only', () => {
    expect(isValidTimeZone('Europe/Paris')).toBe(true);
    expect(isValidTimeZone('America/New_York')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
  });

  it('describeSchedule reads back the schedule', () => {
    expect(describeSchedule({ kind: 'every', everyMs: 90_000 })).toBe('every 1m30s');
    expect(describeSchedule({ kind: 'cron', cron: '0 9 * * *', timezone: 'Europe/Paris' })).toBe('cron "0 9 * * *" (Europe/Paris)');
  });
});
