/**
 * `npm test` (README, "Run the tests"): type-checks, sets up what the suites need, runs vitest, runs
 * the PostgreSQL 11 pass when package.json has one, stops what it started, and ends with
 * `tests: N passed, N failed`.
 *   npm test                          everything
 *   npm test -- db/test/queue.test.ts arguments after `--` go to `vitest run`
 *   TICKWISE_TEST_QUICK=1 npm test    no installs, no Kafka, no PostgreSQL 11 pass: quick local runs
 * Set up: a PostgreSQL with logical WAL (DATABASE_URL as given, else the embedded one), Kafka + Kafka
 * Connect + Debezium (scripts/kafka.sh; KAFKA_BROKERS as given, else started), Chromium (apt-get as
 * root or with passwordless sudo) and helm (go install). What cannot be had is left missing: the
 * suite that needs it skips with one line naming what to install, or fails under CI=true.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { missingToolFails } from '../../test/support/tools.ts';
import { Cleanup, run, seconds, signalChildren } from './processes.ts';
import { addCounts, describeCounts, readCounts, REPORT, reportTime, type Counts } from './report.ts';
import { REPO, startKafka, startPostgres, type Provided } from './services.ts';
import { provideChromium, provideHelm } from './tools.ts';

const args = process.argv.slice(2);
const quick = /^(1|true|yes)$/i.test(process.env.TICKWISE_TEST_QUICK?.trim() ?? '');
const reportFile = join(REPO, REPORT);
const cleanup = new Cleanup();
const log = (line: string) => console.log(line);

// A Ctrl-C reaches vitest (or whatever runs) by itself, being sent to the terminal's whole process
// group: wait for it to end, then stop what this run started. A SIGTERM or SIGHUP is sent to
// `npm test` alone: pass it on. The servers run in process groups of their own, so a second Ctrl-C
// cannot stop them half-way; their clean-ups do.
const SIGNAL_CODES = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof SIGNAL_CODES;
const stopped: { by: StopSignal | null } = { by: null };
for (const signal of Object.keys(SIGNAL_CODES) as StopSignal[]) {
  process.on(signal, () => {
    if (!stopped.by) log(`[tests] ${signal}: stopping the run, then what it started`);
    stopped.by ??= signal;
    if (signal !== 'SIGINT') signalChildren(signal);
  });
}

interface Outcome {
  status: number;
  runs: { name: string; counts: Counts | null }[];
  note?: string;
}

async function main(outcome: Outcome): Promise<void> {
  const typecheck = await run('npm', ['run', 'typecheck'], { output: 'inherit' });
  if (typecheck.code !== 0 || stopped.by) {
    outcome.status = typecheck.code || 1;
    outcome.note = 'the typecheck failed or was stopped: no test ran';
    return;
  }

  const setUp = Date.now();
  log(
    `[tests] setting up what the suites need; ${missingToolFails() ? 'CI=true: a missing tool fails the run' : 'a suite whose tool is missing is skipped with one line saying what to install'}` +
      (quick ? '; TICKWISE_TEST_QUICK: no installs, no Kafka' : ''),
  );
  // PostgreSQL first: clean-ups run in reverse, and Kafka Connect must let go of the database before it stops.
  const provided: Provided[] = [await startPostgres(cleanup)];
  provided.push(...(await Promise.all([startKafka(cleanup, { quick }), provideChromium({ quick }), provideHelm({ quick })])));
  for (const { line } of provided) log(`[tests] ${line}`);
  log(`[tests] set up in ${seconds(setUp)}`);
  if (stopped.by) return;
  const env: NodeJS.ProcessEnv = { ...process.env, ...Object.assign({}, ...provided.map((step) => step.env)) };

  // A report left by an earlier run must not pass for this one's.
  rmSync(reportFile, { force: true });
  const vitest = await run(join(REPO, 'node_modules', '.bin', 'vitest'), ['run', ...args], { env, output: 'inherit' });
  if (vitest.code !== 0) outcome.status = vitest.code || 1;
  outcome.runs.push({ name: 'vitest', counts: readCounts(reportFile, REPO) });
  if (stopped.by) return;

  await postgres11(env, outcome);
}

/**
 * `npm run test:pg11`, when package.json has it: a pass of its own against PostgreSQL 11, which
 * starts and stops its own server. Not for a run of chosen files, nor a quick one. It gets the
 * tools and Kafka set up here, but no DATABASE_URL: that would be the PostgreSQL 15 of this run.
 */
async function postgres11(env: NodeJS.ProcessEnv, outcome: Outcome): Promise<void> {
  const scripts = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
  if (!scripts['test:pg11']) return;
  if (args.length > 0 || quick) {
    log(`[tests] PostgreSQL 11 pass (npm run test:pg11): not run, ${quick ? 'TICKWISE_TEST_QUICK is set' : 'vitest was given arguments'}; a full npm test runs it`);
    return;
  }
  const { DATABASE_URL: _ours, ...rest } = env;
  // test:pg11 writes a report of its own, beside the main one.
  const pg11Report = join(REPO, 'test-results/vitest-pg11.json');
  const before = reportTime(pg11Report);
  const pass = await run('npm', ['run', 'test:pg11'], { env: rest, output: 'inherit' });
  if (pass.code !== 0) outcome.status ||= pass.code || 1;
  outcome.runs.push({ name: 'PostgreSQL 11 pass (npm run test:pg11)', counts: reportTime(pg11Report) > before ? readCounts(pg11Report, REPO) : null });
}

/** The closing lines: each run's counts, the files that failed outside any test, then the plain total. */
function summarize(outcome: Outcome, began: number): void {
  let total: Counts = { passed: 0, failed: 0, skipped: 0, brokenFiles: [] };
  for (const { name, counts } of outcome.runs) {
    log(`[tests] ${name}: ${counts ? describeCounts(counts) : 'no report written'}`);
    if (counts) total = addCounts(total, counts);
  }
  for (const file of total.brokenFiles) log(`[tests] failed outside any test: ${file}`);
  log(`[tests] ${outcome.status === 0 ? 'passed' : 'FAILED'} in ${seconds(began)}${outcome.note ? ` (${outcome.note})` : ''}`);
  // A file that failed outside any test counts as one failure: it failed the run.
  log(`tests: ${total.passed} passed, ${total.failed + total.brokenFiles.length} failed`);
}

const began = Date.now();
const outcome: Outcome = { status: 0, runs: [] };
try {
  await main(outcome);
} catch (error) {
  console.error(`[tests] ${(error as Error).stack ?? error}`);
  outcome.status ||= 1;
} finally {
  await cleanup.run(log);
}
if (stopped.by) {
  outcome.status = SIGNAL_CODES[stopped.by];
  outcome.note = `stopped by ${stopped.by}`;
}
summarize(outcome, began);
process.exit(outcome.status);
