import { readFileSync, statSync } from 'node:fs';
import { relative } from 'node:path';

// The counts of a vitest run, from the JSON report vitest.config.ts writes, for the closing line.

export const REPORT = 'test-results/vitest.json';

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
  /** Files that failed outside any test (a suite that threw while collected, a failing hook): counted in no test. */
  brokenFiles: string[];
}

interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: { name: string; status: string; message?: string; assertionResults: { status: string }[] }[];
}

/** The report's modification time in ms, or 0 when there is none (to tell whether a run wrote one). */
export function reportTime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

export function readCounts(file: string, root: string): Counts | null {
  let report: VitestJson;
  try {
    report = JSON.parse(readFileSync(file, 'utf8')) as VitestJson;
  } catch {
    return null;
  }
  const brokenFiles = report.testResults
    .filter((result) => result.status === 'failed' && !result.assertionResults.some((test) => test.status === 'failed'))
    .map((result) => {
      const file = relative(root, result.name);
      const message = result.message?.split('\n')[0] ?? '';
      // The suites' own messages begin with their file already (test/support/tools.ts).
      return message.startsWith(file) ? message : `${file}${message ? `: ${message}` : ''}`;
    });
  return { passed: report.numPassedTests, failed: report.numFailedTests, skipped: report.numPendingTests + report.numTodoTests, brokenFiles };
}

export function addCounts(a: Counts, b: Counts): Counts {
  return { passed: a.passed + b.passed, failed: a.failed + b.failed, skipped: a.skipped + b.skipped, brokenFiles: [...a.brokenFiles, ...b.brokenFiles] };
}

/** `N passed, N failed, N skipped`, and the files that failed outside any test. */
export function describeCounts(counts: Counts): string {
  const broken = counts.brokenFiles.length > 0 ? `; ${counts.brokenFiles.length} file(s) failed outside any test` : '';
  return `${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped${broken}`;
}
