import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CST, isMap, isScalar, isSeq, Lexer, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { applySizeProblems, endpointInputSchema, nameSchema, notifyListSchema } from '@tickwise/machines';
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

/**
 * The most bytes a jobs file may have. Checked before the file is read whole (a 50 MB file once
 * exhausted memory): the limits of one apply (INPUT_LIMITS) fit in far less.
 */
export const JOBS_FILE_MAX_BYTES = 10 * 1024 * 1024;
/**
 * The most values (scalars, aliases, flow collections) a file may write. A parsed YAML document
 * costs about 1.3 KB of memory per value, so 10 MiB of short values would take gigabytes: they are
 * counted by the lexer, which keeps nothing, before the document is built. A file of a full apply
 * (INPUT_LIMITS: 1,000 endpoints) writes a few tens of thousands.
 */
export const MAX_YAML_VALUES = 200_000;
/**
 * YAML aliases: the `yaml` package's own check of how far aliases of aliases expand (its default,
 * 100, refuses an anchor merely used 101 times, such as shared headers)...
 */
export const MAX_ALIAS_COUNT = 10_000;
/** ...and, whatever they are, the most values the document may stand for once every alias is expanded. */
export const MAX_EXPANDED_VALUES = 1_000_000;

const jobSchema = z.strictObject({
  name: nameSchema,
  synthetic: z.boolean().default(false),
  endpoints: z.array(endpointInputSchema),
  notify: notifyListSchema.optional(),
});

const jobsFileSchema = z
  .strictObject({ jobs: z.array(jobSchema) })
  .superRefine((file, ctx) => {
    // The API's limits of one apply (jobs, endpoints per job), so the database path refuses what the API refuses.
    for (const problem of applySizeProblems(file.jobs)) ctx.addIssue({ code: 'custom', path: ['jobs', ...problem.path], message: problem.message });
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
  let values = 0;
  for (const token of new Lexer().lex(text)) {
    if ((token === CST.SCALAR || token[0] === '*' || token === '[' || token === '{') && ++values > MAX_YAML_VALUES) {
      throw jobsFileError(file, [{ line: 0, column: 0, path: '', message: `the file writes more than ${MAX_YAML_VALUES.toLocaleString('en-US')} values; a jobs file may write at most that many (split it into several files)` }]);
    }
  }
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
  const parsed = jobsFileSchema.safeParse(expand(file, doc));
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

/**
 * The document as plain values, every alias expanded, or a jobs-file error when aliases expand past
 * the limits: an "alias bomb" (anchors of anchors, each used many times) stands for billions of
 * values in a few lines. Aliases share their objects, so the expansion itself costs little; walking
 * it (validation, JSON) is what would not end, hence the count of expanded values.
 */
function expand(file: string, doc: Document): unknown {
  const tooFar = (detail: string) =>
    jobsFileError(file, [{ line: 0, column: 0, path: '', message: `YAML aliases expand too far (${detail}): write the values out, or use fewer aliases of aliases` }]);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (error instanceof ReferenceError) throw tooFar(error.message);
    throw error;
  }
  // A stack rather than recursion: a deeply nested file must not overflow the call stack either.
  const pending: unknown[] = [value];
  for (let budget = MAX_EXPANDED_VALUES; pending.length > 0; budget--) {
    if (budget === 0) throw tooFar(`the file stands for more than ${MAX_EXPANDED_VALUES.toLocaleString('en-US')} values`);
    const node = pending.pop();
    if (Array.isArray(node)) for (const item of node) pending.push(item);
    else if (node !== null && typeof node === 'object') for (const item of Object.values(node)) pending.push(item);
  }
  return value;
}

/**
 * Reads a jobs file of at most JOBS_FILE_MAX_BYTES, checked before it is read whole (a regular
 * file by its size; a pipe or device by reading no more than the limit and one byte), then parses it.
 */
export function readJobsFile(file: string): JobInput[] {
  const cannot = (message: string) => jobsFileError(file, [{ line: 0, column: 0, path: '', message }]);
  const tooBig = (size: string) => cannot(`the file is ${size}; a jobs file may be at most ${JOBS_FILE_MAX_BYTES / 1024 / 1024} MiB (split it into several files)`);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw cannot(`cannot read the file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let text: string;
  try {
    const stat = fstatSync(fd);
    if (stat.isFile() && stat.size > JOBS_FILE_MAX_BYTES) throw tooBig(`${(stat.size / 1024 / 1024).toFixed(1)} MiB`);
    // One byte more than may be read tells a file that is (or grew) too big.
    const buffer = Buffer.alloc((stat.isFile() ? stat.size : JOBS_FILE_MAX_BYTES) + 1);
    let length = 0;
    for (let read = -1; read !== 0 && length < buffer.length; length += read) read = readSync(fd, buffer, length, buffer.length - length, null);
    if (length === buffer.length) throw stat.isFile() ? cannot('the file changed while it was read: try again') : tooBig('larger than that');
    text = buffer.toString('utf8', 0, length);
  } catch (error) {
    if (error instanceof TickwiseError) throw error;
    throw cannot(`cannot read the file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  } finally {
    closeSync(fd);
  }
  return parseJobsFile(file, text);
}
