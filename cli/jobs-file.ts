import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { endpointInputSchema, nameSchema, notifyListSchema } from '@tickwise/machines';
import type { JobInput } from '@tickwise/catalog';
import { TickwiseError } from '@tickwise/platform';

export interface FileProblem {
  /** 1-based; 0 when the place is unknown. */
  line: number;
  column: number;
  path: string;
  message: string;
}

/** Where a problem is, as editors and compilers write it: `jobs.yaml:8:28: jobs[0].name`. Pure. */
function place(file: string, problem: FileProblem): string {
  return `${file}${problem.line > 0 ? `:${problem.line}:${problem.column}` : ''}${problem.path ? `: ${problem.path}` : ''}`;
}

/**
 * A jobs file that cannot be applied: `invalid_argument` (the CLI exits with 2) whose violations
 * are every problem, each at its place (`field`), and whose message says that nothing was applied,
 * then one line per problem.
 */
export function jobsFileError(file: string, problems: readonly FileProblem[]): TickwiseError {
  const violations = problems.map((problem) => ({ field: place(file, problem), reason: problem.message }));
  const lines = violations.map((violation) => `${violation.field}: ${violation.reason}`);
  return new TickwiseError('invalid_argument', `${file} was not applied (nothing changed):\n${lines.join('\n')}`, { reason: 'invalid_jobs_file', violations });
}

const jobSchema = z.strictObject({
  name: nameSchema,
  synthetic: z.boolean().default(false),
  endpoints: z.array(endpointInputSchema).max(10_000),
  notify: notifyListSchema.optional(),
});

const jobsFileSchema = z
  .strictObject({ jobs: z.array(jobSchema).max(1_000) })
  .superRefine((file, ctx) => {
    const jobNames = new Set<string>();
    file.jobs.forEach((job, jobIndex) => {
      if (jobNames.has(job.name)) ctx.addIssue({ code: 'custom', path: ['jobs', jobIndex, 'name'], message: `job "${job.name}" appears twice` });
      jobNames.add(job.name);
      const endpointNames = new Set<string>();
      job.endpoints.forEach((endpoint, endpointIndex) => {
        if (endpointNames.has(endpoint.name)) {
          ctx.addIssue({ code: 'custom', path: ['jobs', jobIndex, 'endpoints', endpointIndex, 'name'], message: `endpoint "${endpoint.name}" appears twice in job "${job.name}"` });
        }
        endpointNames.add(endpoint.name);
      });
    });
  });

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)), '');
}

/** The line and column of the deepest node that exists along `path`, or of the key `key` in it. */
function locate(doc: Document, counter: LineCounter, path: readonly PropertyKey[], key?: string): { line: number; column: number } {
  const at = (offset: number) => {
    const { line, col } = counter.linePos(offset);
    return { line, column: col };
  };
  if (key !== undefined) {
    const parent = doc.getIn(path as (string | number)[], true);
    const pair = isMap(parent) ? parent.items.find((item) => isScalar(item.key) && item.key.value === key) : undefined;
    const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
    if (range) return at(range[0]);
  }
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth) as (string | number)[], true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return at(node.range[0]);
  }
  return { line: 0, column: 0 };
}

/** Parses and validates a jobs file. Pure apart from reading nothing: `text` is the file's content. */
export function parseJobsFile(file: string, text: string): JobInput[] {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw jobsFileError(
      file,
      doc.errors.map((error) => {
        const { line, col } = counter.linePos(error.pos[0]);
        return { line, column: col, path: '', message: `YAML: ${error.message.split('\n')[0]}` };
      }),
    );
  }
  if (!isMap(doc.contents) || !doc.has('jobs') || !isSeq(doc.get('jobs'))) {
    throw jobsFileError(file, [{ line: 1, column: 1, path: 'jobs', message: 'the file must have a top-level "jobs:" list' }]);
  }
  const parsed = jobsFileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    throw jobsFileError(
      file,
      parsed.error.issues.map((issue) => {
        // An unknown key is best shown where it stands, not where its object starts.
        const key = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
        return { ...locate(doc, counter, issue.path, key), path: formatPath(issue.path), message: issue.message };
      }),
    );
  }
  return parsed.data.jobs;
}

export function readJobsFile(file: string): JobInput[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw jobsFileError(file, [{ line: 0, column: 0, path: '', message: `cannot read the file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` }]);
  }
  return parseJobsFile(file, text);
}
