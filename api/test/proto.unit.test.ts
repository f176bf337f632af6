import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(REPO, 'api/scripts/proto-check.sh');

function check(cwd: string, env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync('bash', [SCRIPT], { cwd, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], { cwd, stdio: 'pipe' });

// Each test runs buf through a shell script, up to three times: seconds, not a unit test's
// milliseconds, and more on a loaded 2-core machine (8.5 s seen with Kafka beside it).
describe('npm run proto:check', { timeout: 60_000 }, () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** A scratch repository holding a copy of the module, with main committed as `setup` leaves it. */
  function scratch(setup: (path: string) => void): string {
    dir = mkdtempSync(join(tmpdir(), 'tickwise-proto-'));
    git(dir, 'init', '-q', '-b', 'main');
    setup(dir);
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '--allow-empty', '-m', 'main');
    return dir;
  }
  const copyModule = (path: string) => {
    for (const file of ['api/buf.yaml', 'api/buf.gen.yaml', 'api/proto', 'api/src/gen']) cpSync(join(REPO, file), join(path, file), { recursive: true });
  };

  it('passes on this repository: lint, breaking against main (or skipped before main has proto/), generated code up to date', () => {
    const { code, output } = check(REPO);
    expect(output).toContain('proto:check: buf lint passed');
    expect(output).toContain('proto:check: generated code is up to date');
    expect(code, output).toBe(0);
  });

  it('does not fail while main has no proto/ yet', () => {
    const path = scratch((root) => writeFileSync(join(root, 'README.md'), 'before the API\n'));
    copyModule(path);
    const { code, output } = check(path);
    expect(output).toContain('main has no proto/ yet');
    expect(code, output).toBe(0);
  });

  it('fails on a breaking change against main, and on generated code that is out of date', () => {
    const path = scratch(copyModule);
    expect(check(path).code).toBe(0);
    const file = join(path, 'api/proto/tickwise/v1/job_service.proto');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('string job_id = 1;\n}\n\nmessage GetJobResponse', 'string job_id = 9;\n}\n\nmessage GetJobResponse'));
    const broken = check(path);
    expect(broken.code).not.toBe(0);
    expect(broken.output).toMatch(/GetJobRequest|job_id/);
    writeFileSync(file, original.replace('message GetJobResponse {', 'message GetJobResponse {\n  // an added comment changes the generated code\n'));
    const stale = check(path);
    expect(stale.code).not.toBe(0);
    expect(stale.output).toContain('is not what buf generate makes');
  });
});
