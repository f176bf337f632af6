import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { analyticsConfigFromEnv } from '@tickwise/analytics';
import { gatewayConfigFromEnv } from '@tickwise/gateway';
import { notifySettingsFromEnv, plannerConfigFromEnv } from '@tickwise/planner';
import { parseSecretsKey } from '@tickwise/platform';
import { schedulerConfigFromEnv } from '@tickwise/scheduler';
import { DEFAULT_OPS_PORT, opsSettingsFromEnv } from '../../cli/ops-server.ts';
import { readSettings } from '../../cli/settings.ts';
import { parseBrokerList, resolveKafkaSourceOptions } from '@tickwise/planner';
import { documentedSettings, readByCode, REPO } from './support.ts';

// `docker compose` cannot run here (no Docker engine): the file is checked as data against the code.

interface Service {
  image?: string;
  build?: string | { context: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
}

const COMPOSE_TEXT = readFileSync(join(REPO, 'docker-compose.yml'), 'utf8');
const compose = parse(COMPOSE_TEXT, { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;
const ENV_EXAMPLE = readFileSync(join(REPO, '.env.example'), 'utf8');

/** `${NAME:-default}` → what .env gives NAME, else default; `${NAME}` → '' (what compose does without a .env). */
function interpolate(text: string, dotEnv: Record<string, string> = {}): string {
  return text.replace(/\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g, (_whole, name: string, fallback: string | undefined) => dotEnv[name] || (fallback ?? ''));
}
const env = (name: string, dotEnv: Record<string, string> = {}): Record<string, string> =>
  Object.fromEntries(Object.entries(services[name]!.environment ?? {}).map(([key, value]) => [key, interpolate(String(value), dotEnv)]));
const isTickwise = (service: Service) => service.build !== undefined;
const tickwiseServices = Object.entries(services).filter(([, service]) => isTickwise(service)).map(([name]) => name);
const ONE_SHOTS = ['create-topic', 'migrate', 'register-connector'];

/** The port a healthcheck's URL names (http://host:PORT/...). */
function healthPort(service: Service): number {
  const match = /:(\d+)\/readyz/.exec(service.healthcheck?.test.join(' ') ?? '');
  if (!match) throw new Error('no /readyz URL in the healthcheck');
  return Number(match[1]);
}

describe('docker-compose.yml', () => {
  it('runs the production shape: YugabyteDB, Kafka, Connect, the one-shots and every Tickwise service', () => {
    expect(Object.keys(services).sort()).toEqual(['analytics', 'connect', 'create-topic', 'gateway', 'kafka', 'migrate', 'planner', 'register-connector', 'scheduler-a', 'scheduler-b', 'yugabytedb']);
    for (const [name, service] of Object.entries(services)) expect(service.image ?? service.build, `${name} has an image or a build`).toBeTruthy();
    expect(tickwiseServices.sort()).toEqual(['analytics', 'gateway', 'migrate', 'planner', 'scheduler-a', 'scheduler-b']);
  });

  it('builds one image for every Tickwise service, each running a subcommand the CLI has', () => {
    const main = readFileSync(join(REPO, 'cli/main.ts'), 'utf8');
    for (const name of tickwiseServices) {
      const service = services[name]!;
      expect(service.build).toBe('.');
      expect(service.image).toBe('${TICKWISE_IMAGE:-tickwise:local}');
      const [command, ...rest] = service.command ?? [];
      expect(rest).toEqual([]);
      // A dispatch entry (`case 'x':` or `x: async ...`) and a line of the help.
      expect(main, `cli/main.ts dispatches "${command}"`).toMatch(new RegExp(`(case '${command}':|^\\s+${command}: )`, 'm'));
      expect(main, `cli/main.ts's help lists "${command}"`).toMatch(new RegExp(`^  ${command}\\s`, 'm'));
    }
    expect(services['scheduler-a']!.command).toEqual(['scheduler']);
    expect(services.analytics!.command).toEqual(['analytics']);
  });

  it('has a health check on every long-running service, and runs the one-shots once', () => {
    for (const [name, service] of Object.entries(services)) {
      if (ONE_SHOTS.includes(name)) {
        expect(service.restart, `${name} runs once`).toBe('no');
        expect(service.healthcheck).toBeUndefined();
      } else {
        expect(service.healthcheck?.test.length, `${name} has a health check`).toBeGreaterThan(0);
        expect(service.restart).toBe('unless-stopped');
      }
    }
  });

  it('comes up in order: every dependency exists and waits for health or completion, without a cycle', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [target, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(services[target], `${name} depends on ${target}, a service of the file`).toBeDefined();
        expect(condition).toBe(ONE_SHOTS.includes(target) ? 'service_completed_successfully' : 'service_healthy');
      }
    }
    const conditions = (name: string) => Object.fromEntries(Object.entries(services[name]!.depends_on ?? {}).map(([target, { condition }]) => [target, condition]));
    expect(conditions('migrate')).toEqual({ yugabytedb: 'service_healthy' });
    expect(conditions('register-connector')).toEqual({ connect: 'service_healthy', migrate: 'service_completed_successfully', 'create-topic': 'service_completed_successfully' });
    for (const name of ['scheduler-a', 'scheduler-b', 'planner', 'gateway']) expect(conditions(name).migrate).toBe('service_completed_successfully');
    expect(conditions('planner')['register-connector']).toBe('service_completed_successfully');
    expect(conditions('analytics')['create-topic']).toBe('service_completed_successfully');
    // Acyclic: a depth-first walk never meets a service on its own path.
    const visit = (name: string, path: string[]): void => {
      if (path.includes(name)) throw new Error(`dependency cycle: ${[...path, name].join(' → ')}`);
      for (const target of Object.keys(services[name]!.depends_on ?? {})) visit(target, [...path, name]);
    };
    for (const name of Object.keys(services)) visit(name, []);
  });

  it('starts yugabyted with READ COMMITTED and LISTEN/NOTIFY, on a version that has LISTEN/NOTIFY', () => {
    const yb = services.yugabytedb!;
    const tserver = yb.command?.find((part) => part.startsWith('--tserver_flags='))?.slice('--tserver_flags='.length).split(',');
    const master = yb.command?.find((part) => part.startsWith('--master_flags='))?.slice('--master_flags='.length).split(',');
    expect(yb.command?.slice(0, 2)).toEqual(['bin/yugabyted', 'start']);
    expect(yb.command).toContain('--background=false');
    expect(tserver).toEqual(expect.arrayContaining(['yb_enable_read_committed_isolation=true', 'ysql_yb_enable_listen_notify=true']));
    expect(master).toEqual(['ysql_yb_enable_listen_notify=true']);
    const version = /yugabytedb\/yugabyte:(\d+)\.(\d+)\.(\d+)/.exec(interpolate(yb.image!));
    expect(version, 'a pinned yugabytedb/yugabyte version').not.toBeNull();
    const [major, minor, patch] = version!.slice(1).map(Number) as [number, number, number];
    // LISTEN/NOTIFY exists from 2025.2.3 (../shared/notes/yugabyte.md); the flag is unknown before.
    expect(major * 10_000 + minor * 100 + patch).toBeGreaterThanOrEqual(2025_02_03);
  });

  it('runs Kafka in KRaft mode and Kafka Connect from the YugabyteDB connector image', () => {
    const kafka = env('kafka');
    expect(interpolate(services.kafka!.image!)).toMatch(/^apache\/kafka:/);
    expect(kafka.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(Object.keys(kafka).some((key) => key.includes('ZOOKEEPER'))).toBe(false);
    expect(kafka.KAFKA_ADVERTISED_LISTENERS).toContain('PLAINTEXT://kafka:9092');
    expect(interpolate(services.connect!.image!)).toMatch(/^quay\.io\/yugabyte\/ybdb-debezium:/);
    expect(env('connect').BOOTSTRAP_SERVERS).toBe('kafka:9092');
    expect(services.connect!.healthcheck!.test.join(' ')).toContain('YugabyteDBConnector');
  });

  it('registers the connector from the template kept in the repo, with a value for each of its placeholders', () => {
    const register = services['register-connector']!;
    const values = env('register-connector');
    const mount = register.volumes?.find((volume) => volume.endsWith(':/connectors:ro'));
    expect(mount).toBe('./deploy/connectors:/connectors:ro');
    expect(register.entrypoint).toEqual(['sh', '/connectors/register.sh']);
    const template = join(REPO, 'deploy/connectors', values.CONNECTOR_TEMPLATE!.replace('/connectors/', ''));
    expect(existsSync(template)).toBe(true);
    const config = JSON.parse(readFileSync(template, 'utf8')) as Record<string, string>;
    expect(config['connector.class']).toBe('io.debezium.connector.postgresql.YugabyteDBConnector');
    const placeholders = new Set([...JSON.stringify(config).matchAll(/\$\{([A-Z][A-Z0-9_]*)\}/g)].map((match) => match[1]!));
    const scriptDefaults = ['TOPIC_PREFIX', 'SLOT_NAME', 'PUBLICATION_NAME', 'TOPIC_PARTITIONS'];
    for (const name of placeholders) expect(values[name] || scriptDefaults.includes(name), `\${${name}} has a value`).toBeTruthy();
    expect(values.CONNECT_URL).toBe('http://connect:8083');
    expect(values.DB_HOSTS).toBe('yugabytedb:5433');
  });

  it('sets only settings the code reads and README.md documents, on the services that read them', () => {
    const documented = documentedSettings();
    for (const name of tickwiseServices) {
      for (const variable of Object.keys(env(name))) {
        expect(documented.has(variable), `${name}: ${variable} is in README.md's settings table`).toBe(true);
        expect(readByCode(variable), `${name}: the code reads ${variable}`).toBe(true);
      }
    }
    expect(env('scheduler-a').TICKWISE_WORKER_ID).not.toBe(env('scheduler-b').TICKWISE_WORKER_ID);
    expect(env('analytics')).not.toHaveProperty('DATABASE_URL');
    for (const name of ['migrate', 'scheduler-a', 'scheduler-b', 'planner', 'gateway']) {
      const url = new URL(env(name).DATABASE_URL!);
      expect(`${url.hostname}:${url.port}`, `${name} reaches yugabytedb on YSQL`).toBe('yugabytedb:5433');
    }
  });

  it('gives settings the code accepts, and one topic to the planner, analytics, the connector and create-topic', () => {
    for (const name of ['scheduler-a', 'scheduler-b']) {
      expect(() => schedulerConfigFromEnv(env(name))).not.toThrow();
      expect(() => readSettings(env(name))).not.toThrow();
    }
    const planner = env('planner');
    expect(() => plannerConfigFromEnv(planner)).not.toThrow();
    expect(resolveKafkaSourceOptions({ brokers: parseBrokerList(planner.KAFKA_BROKERS!), topic: planner.KAFKA_TOPIC, log: console }).brokers).toEqual(['kafka:9092']);
    // Empty OPENAI_API_KEY: the heuristic analyzer (the planner treats "" as unset).
    expect(planner.OPENAI_API_KEY).toBe('');
    const analytics = analyticsConfigFromEnv(env('analytics'));
    const topicArgument = services['create-topic']!.command![services['create-topic']!.command!.indexOf('--topic') + 1]!;
    expect(new Set([planner.KAFKA_TOPIC, analytics.topic, env('register-connector').TOPIC, interpolate(topicArgument)])).toEqual(new Set(['tickwise.run-events']));
    expect(analytics.groupId).toBe('tickwise-analytics');
  });

  it('gives the schedulers, the gateway and the planner one target policy from .env: private targets refused by default', () => {
    const targets = (name: string) => Object.fromEntries(Object.entries(env(name)).filter(([key]) => key.endsWith('_TARGETS')));
    for (const name of ['scheduler-a', 'scheduler-b', 'gateway', 'planner']) {
      expect(targets(name), name).toEqual({ TICKWISE_ALLOW_PRIVATE_TARGETS: 'false', TICKWISE_ALLOW_TARGETS: '', TICKWISE_DENY_TARGETS: '' });
      expect(services[name]!.environment?.TICKWISE_ALLOW_PRIVATE_TARGETS).toBe('${TICKWISE_ALLOW_PRIVATE_TARGETS:-false}');
    }
    expect(schedulerConfigFromEnv(env('scheduler-a')).targetPolicy).toMatchObject({ allow: null, allowPrivate: false });
    expect(gatewayConfigFromEnv(env('gateway')).targetPolicy.allowPrivate).toBe(false);
    for (const name of ['migrate', 'analytics']) expect(targets(name), name).toEqual({});
  });

  it('gives the secrets key of .env to the schedulers and the gateway only, the same one to each', () => {
    const holders = ['scheduler-a', 'scheduler-b', 'gateway'];
    for (const name of tickwiseServices) {
      const given = Object.keys(services[name]!.environment ?? {}).filter((key) => key.startsWith('TICKWISE_SECRETS_')).sort();
      expect(given, name).toEqual(holders.includes(name) ? ['TICKWISE_SECRETS_KEY', 'TICKWISE_SECRETS_OLD_KEY'] : []);
    }
    for (const name of holders) {
      expect(services[name]!.environment, name).toMatchObject({ TICKWISE_SECRETS_KEY: '${TICKWISE_SECRETS_KEY:-}', TICKWISE_SECRETS_OLD_KEY: '${TICKWISE_SECRETS_OLD_KEY:-}' });
    }
    // Without a key in .env every process still starts (empty is unset); the gateway then refuses SetSecret.
    expect(schedulerConfigFromEnv(env('scheduler-a')).secretsKeys).toEqual({ current: null, previous: null });
    expect(gatewayConfigFromEnv(env('gateway')).secretsKeys).toEqual({ current: null, previous: null });
    const current = Buffer.alloc(32, 7).toString('base64');
    const old = Buffer.alloc(32, 9).toString('base64');
    const ids = (keyring: { current: { id: string } | null; previous: { id: string } | null }) => [keyring.current?.id, keyring.previous?.id];
    const rotating = { TICKWISE_SECRETS_KEY: current, TICKWISE_SECRETS_OLD_KEY: old };
    const expected = [parseSecretsKey(current, 'current').id, parseSecretsKey(old, 'old').id];
    for (const name of ['scheduler-a', 'scheduler-b']) expect(ids(schedulerConfigFromEnv(env(name, rotating)).secretsKeys), name).toEqual(expected);
    expect(ids(gatewayConfigFromEnv(env('gateway', rotating)).secretsKeys)).toEqual(expected);
    expect(ids(gatewayConfigFromEnv(env('gateway', { TICKWISE_SECRETS_KEY: current })).secretsKeys)).toEqual([expected[0], undefined]);
  });

  it('gives the planner TICKWISE_PUBLIC_URL, the gateway as published on this host, for the links of notifications', () => {
    const planner = env('planner');
    expect(services.planner!.environment?.TICKWISE_PUBLIC_URL).toBe('${TICKWISE_PUBLIC_URL:-http://localhost:8080}');
    const url = new URL(planner.TICKWISE_PUBLIC_URL!);
    expect(url.port).toBe(interpolate(services.gateway!.ports![0]!).split(':')[0]);
    expect(notifySettingsFromEnv(planner).publicUrl).toBe('http://localhost:8080');
    expect(notifySettingsFromEnv(env('planner', { TICKWISE_PUBLIC_URL: 'https://tickwise.example.com/' })).publicUrl).toBe('https://tickwise.example.com');
    for (const name of tickwiseServices.filter((name) => name !== 'planner')) expect(env(name), name).not.toHaveProperty('TICKWISE_PUBLIC_URL');
  });

  it('publishes and health-checks the ports the code listens on', () => {
    const gateway = gatewayConfigFromEnv(env('gateway'));
    expect(gateway.port).toBe(8080);
    expect(healthPort(services.gateway!)).toBe(gateway.port);
    expect(interpolate(services.gateway!.ports![0]!)).toBe(`8080:${gateway.port}`);
    for (const name of ['scheduler-a', 'scheduler-b', 'planner', 'analytics']) {
      expect(healthPort(services[name]!), `${name} health-checks its ops port`).toBe(opsSettingsFromEnv(env(name))!.port);
    }
    expect(DEFAULT_OPS_PORT).toBe(9090);
    expect(interpolate(services.analytics!.ports![0]!)).toBe(`9090:${DEFAULT_OPS_PORT}`);
  });
});

describe('.env.example', () => {
  const example = Object.fromEntries(ENV_EXAMPLE.split('\n').filter((line) => /^[A-Z]/.test(line)).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  const used = new Map([...COMPOSE_TEXT.matchAll(/\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g)].map((match) => [match[1]!, match[2] ?? '']));

  it('lists every variable the compose file interpolates, with the default it falls back to, and nothing else', () => {
    expect(Object.keys(example).sort()).toEqual([...used.keys()].sort());
    for (const [name, fallback] of used) expect(example[name], `${name} in .env.example = the compose default`).toBe(fallback);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
  const ignored = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));

  it('builds in stages and runs the CLI as a non-root user from a runtime stage', () => {
    const stages = [...dockerfile.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((match) => match[1]);
    expect(stages).toEqual(['build', 'runtime']);
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toContain('ENTRYPOINT ["node", "bin/tickwise.mjs"]');
    expect(runtime).toContain('COPY --from=build /app /app');
    expect(dockerfile).toContain('node services/gateway/scripts/build-ui.mjs');
    expect(dockerfile).toContain('npm prune --omit=dev');
  });

  it('keeps what the runtime needs in the build context', () => {
    const workspaces = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
    for (const path of [...workspaces, 'bin', 'cli', 'package.json', 'package-lock.json', 'services/gateway/scripts', 'services/gateway/ui']) {
      expect(ignored.some((pattern) => pattern === path || pattern === `${path}/` || path.startsWith(`${pattern}/`)), `${path} is in the build context`).toBe(false);
    }
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '.git', '**/test', '.env']));
  });
});
