import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.ts';
import { REPO } from './support.ts';

// scripts/kafka.sh start formats a fresh broker with a cluster id; an id cut from base64 began with
// '-' one time in 64 and `format -t -…` took it for an option. A stand-in `java` shows what the
// script passes, without the jars: the id as one `--cluster-id=` value, whatever it begins with.
const SCRIPT = join(REPO, 'scripts/kafka.sh');

const FAKE_JAVA = `#!/bin/sh
for arg in "$@"; do
  case "$arg" in
    random-uuid) printf '%s\\n' "$FAKE_CLUSTER_ID"; exit 0 ;;
    format) printf '%s\\n' "$@" > "$FAKE_JAVA_LOG"; exit 3 ;;
  esac
done
exit 4
`;

describe('scripts/kafka.sh start: the cluster id of a fresh broker', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function start(clusterId: string) {
    dir = mkdtempSync(join(tmpdir(), 'tickwise-kafka-script-'));
    for (const path of ['bin', 'dist/lib', 'dist/plugins/debezium-connector-postgres', 'run']) mkdirSync(join(dir, path), { recursive: true });
    writeFileSync(join(dir, 'bin/java'), FAKE_JAVA);
    chmodSync(join(dir, 'bin/java'), 0o755);
    // Free ports: a real broker of the same run may hold the default ones.
    const [broker, controller, connect] = [await freePort(), await freePort(), await freePort()];
    const result = spawnSync('bash', [SCRIPT, 'start', join(dir, 'run')], {
      encoding: 'utf8',
      env: {
        ...process.env,
        PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
        TICKWISE_KAFKA_DIST: join(dir, 'dist'),
        TICKWISE_KAFKA_PORT: String(broker),
        TICKWISE_KAFKA_CONTROLLER_PORT: String(controller),
        TICKWISE_KAFKA_CONNECT_PORT: String(connect),
        FAKE_CLUSTER_ID: clusterId,
        FAKE_JAVA_LOG: join(dir, 'format-args'),
      },
    });
    let formatArgs: string[] = [];
    try {
      formatArgs = readFileSync(join(dir, 'format-args'), 'utf8').trim().split('\n');
    } catch {
      // format was never called
    }
    return { status: result.status, stderr: result.stderr, formatArgs };
  }

  it("passes an id that begins with '-' as the value of --cluster-id=, not as an option", async () => {
    const { status, stderr, formatArgs } = await start('-AbCdEfGhIjKlMnOpQrStU');
    expect(formatArgs).toContain('--cluster-id=-AbCdEfGhIjKlMnOpQrStU');
    expect(formatArgs).not.toContain('-t');
    // The stand-in fails the format on purpose: the script stops there, naming its log.
    expect(status).toBe(1);
    expect(stderr).toContain('formatting the broker storage failed');
  });

  it('refuses what is not a cluster id rather than formatting with it', async () => {
    const { status, stderr, formatArgs } = await start('log4j:WARN something');
    expect(status).toBe(1);
    expect(stderr).toContain('not a cluster id');
    expect(formatArgs).toEqual([]);
  });
});
