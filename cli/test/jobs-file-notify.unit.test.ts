import { describe, expect, it } from 'vitest';
import { TickwiseError } from '@tickwise/platform';
import { parseJobsFile } from '../jobs-file.ts';

// The job-level `notify` key: who is told, per job. Every mistake is named by line, column and
// field, as the rest of the file's.

const job = (notify: string) => `jobs:
  - name: orders
    endpoints:
      - name: poll
        url: http://localhost:9999/orders
        schedule: { every: 30s }
    notify:
${notify}`;

function problems(text: string): string[] {
  try {
    parseJobsFile('jobs.yaml', text);
  } catch (error) {
    expect(error).toBeInstanceOf(TickwiseError);
    expect(error).toMatchObject({ code: 'invalid_argument', reason: 'invalid_jobs_file' });
    return (error as TickwiseError).violations.map((violation) => `${violation.field}: ${violation.reason}`);
  }
  throw new Error('expected parseJobsFile to throw');
}

describe('notify in a jobs file', () => {
  it('reads webhook and Slack targets, with after defaulting to 3', () => {
    const [parsed] = parseJobsFile(
      'jobs.yaml',
      job(`      - { webhook: "https://ops.example.com/hooks/tickwise", after: 5 }   # after 5 failed slots
      - { slack: "https://hooks.slack.com/services/T000/B000/XXX" }
`),
    );
    expect(parsed!.notify).toEqual([
      { channel: 'webhook', url: 'https://ops.example.com/hooks/tickwise', after: 5 },
      { channel: 'slack', url: 'https://hooks.slack.com/services/T000/B000/XXX', after: 3 },
    ]);
  });

  it('leaves notify out of a job that does not name it (nobody is told)', () => {
    const [parsed] = parseJobsFile('jobs.yaml', job('      []\n').replace('    notify:\n      []\n', ''));
    expect(parsed!.notify).toBeUndefined();
  });

  it('names line and field of a URL that is not http(s)', () => {
    expect(problems(job('      - { webhook: "ftp://ops.example.com/x" }\n'))).toEqual(['jobs.yaml:8:20: jobs[0].notify[0].webhook: must be an absolute http:// or https:// URL']);
  });

  it('names line and field of a Slack URL that is not a URL', () => {
    expect(problems(job('      - webhook: https://ok.example.com/\n      - slack: not a url\n'))).toEqual(['jobs.yaml:9:16: jobs[0].notify[1].slack: must be an absolute http:// or https:// URL']);
  });

  it('names line and field of an after below 1, or not a whole number', () => {
    expect(problems(job('      - { webhook: "https://a.example.com/", after: 0 }\n'))).toEqual(['jobs.yaml:8:53: jobs[0].notify[0].after: must be 1 or more (failed slots before this target is told)']);
    expect(problems(job('      - { webhook: "https://a.example.com/", after: 2.5 }\n'))).toEqual(['jobs.yaml:8:53: jobs[0].notify[0].after: must be a whole number of failed slots, 1 or more']);
    expect(problems(job('      - { webhook: "https://a.example.com/", after: three }\n'))).toEqual(['jobs.yaml:8:53: jobs[0].notify[0].after: must be a whole number of failed slots, 1 or more']);
  });

  it('names the entry that names no target, or both', () => {
    expect(problems(job('      - { after: 2 }\n'))).toEqual(['jobs.yaml:8:9: jobs[0].notify[0]: must name one target: webhook: <url> or slack: <url>']);
    expect(problems(job('      - { webhook: "https://a.example.com/", slack: "https://b.example.com/" }\n'))).toEqual(['jobs.yaml:8:9: jobs[0].notify[0]: must name one target: webhook or slack, not both']);
  });

  it('names an unknown key where it stands', () => {
    expect(problems(job('      - { email: "ops@example.com" }\n'))).toEqual(['jobs.yaml:8:11: jobs[0].notify[0]: Unrecognized key: "email"']);
  });

  it('names a target listed twice, at the second one', () => {
    expect(problems(job('      - webhook: https://a.example.com/\n      - webhook: https://a.example.com/\n'))).toEqual([
      'jobs.yaml:9:18: jobs[0].notify[1].webhook: webhook "https://a.example.com/" is also notify[0]',
    ]);
  });

  it('refuses more than 10 targets and a notify that is not a list', () => {
    const many = Array.from({ length: 11 }, (_, index) => `      - webhook: https://a.example.com/${index}\n`).join('');
    expect(problems(job(many))).toEqual(['jobs.yaml:8:7: jobs[0].notify: must have at most 10 targets']);
    expect(problems(job('      webhook: https://a.example.com/\n'))).toEqual(['jobs.yaml:8:7: jobs[0].notify: Invalid input: expected array, received object']);
  });
});
