// No vitest import here: test/support/kafka.ts uses this, and scripts reuse that file.

/**
 * Whether a missing tool (Chromium, helm, a Kafka broker) fails the run rather than skipping the
 * suite that needs it: under CI=true a skipped suite would pass unnoticed, so it must not skip.
 */
export function missingToolFails(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(true|1)$/i.test(env.CI?.trim() ?? '');
}

/**
 * What a suite does when a tool it needs is missing. Outside CI: one line
 * `[tests] <suite>: skipped: <reason>` and `false`, for `describe.skipIf`. Under CI=true: an Error
 * naming the tool, thrown while the file is collected, so the file fails and the run with it.
 * `reason` says what is missing and how to install it, in one line.
 */
export function toolMissing(suite: string, reason: string, env: NodeJS.ProcessEnv = process.env): false {
  if (missingToolFails(env)) throw new Error(`${suite}: ${reason} (CI=true: a missing tool fails the run instead of skipping)`);
  console.warn(`[tests] ${suite}: skipped: ${reason}`);
  return false;
}
