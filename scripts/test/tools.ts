import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isExecutable, lastLine, onPath, run, seconds, tail } from './processes.ts';
import type { Provided } from './services.ts';

// The tools from outside npm that two suites drive: Chromium (the visualizer's browser tests) and
// helm (the chart tests). Found where they are, installed when this machine lets us, else left
// missing: the suite then skips with one line naming what to install (fails under CI=true).

const HELM_MODULE = 'helm.sh/helm/v3/cmd/helm@v3.21.4';

/** Whether apt-get may install packages here: as root, or through sudo without a password. */
async function aptGet(): Promise<string[] | null> {
  if (!onPath('apt-get')) return null;
  if (process.getuid?.() === 0) return ['apt-get'];
  if (!onPath('sudo')) return null;
  const probe = await run('sudo', ['-n', 'true']);
  return probe.code === 0 ? ['sudo', '-n', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get'] : null;
}

/**
 * TICKWISE_CHROMIUM when set (never swapped for another binary, even a missing one), else Debian's
 * chromium on PATH, else `apt-get install chromium` when allowed. The path found goes to the suite
 * as TICKWISE_CHROMIUM.
 */
export async function provideChromium(options: { quick: boolean }): Promise<Provided> {
  const given = process.env.TICKWISE_CHROMIUM?.trim();
  if (given) return { env: {}, line: isExecutable(given) ? `Chromium: ${given} (TICKWISE_CHROMIUM)` : `Chromium: TICKWISE_CHROMIUM=${given} is not an executable` };
  const find = () => ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(isExecutable) ?? onPath('chromium') ?? onPath('chromium-browser');
  const found = find();
  if (found) return { env: { TICKWISE_CHROMIUM: found }, line: `Chromium: ${found}` };
  if (options.quick) return { env: {}, line: 'Chromium: not installed (TICKWISE_TEST_QUICK is set: no install)' };
  const apt = await aptGet();
  if (!apt) return { env: {}, line: 'Chromium: not installed, and this user cannot install it (no apt-get, or not root and no passwordless sudo)' };

  const began = Date.now();
  console.log('[tests] Chromium: installing Debian\'s chromium package for the browser tests');
  // The lock timeout: another apt-get on the machine (unattended upgrades) waits rather than fails us.
  const [command, ...prefix] = apt as [string, ...string[]];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  const update = await run(command, [...prefix, ...lock, 'update', '-qq'], { env });
  const install = update.code === 0 ? await run(command, [...prefix, ...lock, 'install', '-y', '-qq', 'chromium'], { env }) : update;
  const installed = find();
  if (!installed) {
    console.error(`[tests] apt-get could not install chromium:\n${tail(install.stdout + install.stderr)}`);
    return { env: {}, line: `Chromium: apt-get install chromium failed: ${lastLine(install.stderr) || `exit ${install.code}`}` };
  }
  return { env: { TICKWISE_CHROMIUM: installed }, line: `Chromium: ${installed}, installed with apt-get (${seconds(began)})` };
}

/** Where `go install` puts helm: `go env GOBIN` when set, else the first GOPATH's bin folder. */
async function goBin(): Promise<string> {
  const gobin = lastLine((await run('go', ['env', 'GOBIN'])).stdout);
  if (gobin) return gobin;
  const gopath = process.env.GOPATH?.split(':')[0] || lastLine((await run('go', ['env', 'GOPATH'])).stdout) || join(homedir(), 'go');
  return join(gopath, 'bin');
}

/**
 * HELM when set (taken as it is, like deploy/helm/check.sh does), else helm on PATH or in Go's bin
 * folder, else `go install` of the version the chart is checked with, when Go is here (~90 s the
 * first time, from the Go module proxy). The path goes to the suite as HELM.
 */
export async function provideHelm(options: { quick: boolean }): Promise<Provided> {
  const given = process.env.HELM?.trim();
  if (given) return { env: {}, line: isExecutable(given) ? `helm: ${given} (HELM)` : `helm: HELM=${given} is not an executable` };
  const hasGo = onPath('go') !== null;
  const inGoBin = async () => {
    const file = join(hasGo ? await goBin() : join(process.env.GOPATH ?? join(homedir(), 'go'), 'bin'), 'helm');
    return existsSync(file) && isExecutable(file) ? file : null;
  };
  const found = onPath('helm') ?? (await inGoBin());
  if (found) return { env: { HELM: found }, line: `helm: ${found}` };
  if (options.quick) return { env: {}, line: 'helm: not installed (TICKWISE_TEST_QUICK is set: no install)' };
  if (!hasGo) return { env: {}, line: 'helm: not installed, and no Go to install it with' };

  const began = Date.now();
  console.log(`[tests] helm: installing it with go install ${HELM_MODULE} (about 90 s the first time)`);
  // GOTOOLCHAIN=local: build with the Go that is here rather than download another.
  const installed = await run('go', ['install', HELM_MODULE], { env: { ...process.env, GOTOOLCHAIN: 'local' } });
  const helm = await inGoBin();
  if (installed.code !== 0 || !helm) {
    console.error(`[tests] go install ${HELM_MODULE} failed:\n${tail(installed.stderr)}`);
    return { env: {}, line: `helm: go install ${HELM_MODULE} failed: ${lastLine(installed.stderr) || `exit ${installed.code}`}` };
  }
  return { env: { HELM: helm }, line: `helm: ${helm}, installed with go install (${seconds(began)})` };
}
