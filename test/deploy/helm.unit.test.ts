import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyticsConfigFromEnv } from '@tickwise/analytics';
import { gatewayConfigFromEnv } from '@tickwise/gateway';
import { notifySettingsFromEnv, plannerConfigFromEnv } from '@tickwise/planner';
import { schedulerConfigFromEnv } from '@tickwise/scheduler';
import { opsSettingsFromEnv } from '../../cli/ops-server.ts';
import { readSettings } from '../../cli/settings.ts';
import { parseBrokerList, resolveKafkaSourceOptions } from '@tickwise/planner';
import { component, containerOf, hook, matches, OLD_SECRETS_KEY, only, resolvedEnv, SECRETS_KEY, secretsKeyEnv, validateAll, workloads } from './chart-objects.ts';
import { CHART, documentedSettings, helmOrSkip, lintChart, readByCode, REPO, renderChart, renderFailure, type K8sObject } from './support.ts';

// No helm: one line saying how to install it and the suites are skipped; under CI=true the file fails.
const helm = helmOrSkip('test/deploy/helm.unit.test.ts (the Helm chart)');

const THREE_ZONES = ['examples/three-zones.yaml'];

describe.skipIf(!helm)('the chart, default values', () => {
  // Rendered in a hook, not while collecting: a skipped suite must not call helm.
  let objects: K8sObject[] = [];
  beforeAll(() => {
    objects = renderChart();
  });

  it('passes helm lint --strict and renders objects valid for Kubernetes 1.33', () => {
    const lint = lintChart();
    expect(lint.status, lint.output).toBe(0);
    expect(lint.output).toContain('0 chart(s) failed');
    validateAll(objects);
    expect(objects.map((object) => `${object.kind}/${object.metadata.name}`).sort()).toEqual([
      'ConfigMap/tickwise-config', 'ConfigMap/tickwise-connector',
      'Deployment/tickwise-analytics', 'Deployment/tickwise-gateway', 'Deployment/tickwise-planner', 'Deployment/tickwise-scheduler',
      'Job/tickwise-create-topic', 'Job/tickwise-migrate', 'Job/tickwise-register-connector',
      'PodDisruptionBudget/tickwise-gateway', 'PodDisruptionBudget/tickwise-scheduler',
      'Secret/tickwise-env', 'Secret/tickwise-hook-env',
      'Service/tickwise-analytics', 'Service/tickwise-gateway', 'Service/tickwise-planner', 'Service/tickwise-scheduler',
    ]);
  });

  it('spreads the schedulers over zones, then hosts, with soft anti-affinity on hosts', () => {
    const scheduler = only(workloads(objects, 'Deployment', 'scheduler'), 'scheduler Deployment');
    const { spec } = scheduler.spec.template;
    const podLabels = scheduler.spec.template.metadata.labels;
    expect(scheduler.spec.replicas).toBe(3);
    const zone = spec.topologySpreadConstraints?.find((constraint) => constraint.topologyKey === 'topology.kubernetes.io/zone');
    expect(zone).toMatchObject({ maxSkew: 1, whenUnsatisfiable: 'DoNotSchedule' });
    expect(matches(zone!.labelSelector.matchLabels, podLabels)).toBe(true);
    expect(spec.topologySpreadConstraints?.find((constraint) => constraint.topologyKey === 'kubernetes.io/hostname')).toMatchObject({ maxSkew: 1, whenUnsatisfiable: 'ScheduleAnyway' });
    const [soft] = spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    expect(soft?.podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
    expect(matches(soft!.podAffinityTerm.labelSelector.matchLabels, podLabels)).toBe(true);
    expect(spec.affinity).not.toHaveProperty('nodeAffinity');
  });

  it('has a PodDisruptionBudget over the scheduler pods, and none for a single replica', () => {
    const pdb = only(objects.filter((object) => object.kind === 'PodDisruptionBudget' && component(object) === 'scheduler'), 'scheduler PDB') as K8sObject & { spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } } };
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(matches(pdb.spec.selector.matchLabels, only(workloads(objects, 'Deployment', 'scheduler'), 'scheduler').spec.template.metadata.labels)).toBe(true);
    const single = renderChart({ set: ['scheduler.replicas=1'] });
    expect(single.filter((object) => object.kind === 'PodDisruptionBudget' && component(object) === 'scheduler')).toEqual([]);
  });

  it('migrates before anything starts (pre-install/pre-upgrade), after the hook Secret and ConfigMap, and registers the connector last', () => {
    const order = objects.filter(hook).map((object) => ({ name: `${object.kind}/${object.metadata.name}`, ...hook(object)! }));
    const migrate = order.find((entry) => entry.name === 'Job/tickwise-migrate')!;
    const topic = order.find((entry) => entry.name === 'Job/tickwise-create-topic')!;
    const register = order.find((entry) => entry.name === 'Job/tickwise-register-connector')!;
    expect(migrate.phases.sort()).toEqual(['pre-install', 'pre-upgrade']);
    expect(topic.phases.sort()).toEqual(['pre-install', 'pre-upgrade']);
    expect(migrate.weight).toBeLessThan(topic.weight);
    expect(register.phases.sort()).toEqual(['post-install', 'post-upgrade']);
    // What a pre-install Job reads must exist before it: hooks of a lower weight, never the release's own objects.
    for (const name of ['Secret/tickwise-hook-env', 'ConfigMap/tickwise-connector']) {
      const resource = order.find((entry) => entry.name === name)!;
      expect(resource.phases.sort()).toEqual(['pre-install', 'pre-upgrade']);
      expect(resource.weight).toBeLessThan(migrate.weight);
    }
    const migrateJob = only(workloads(objects, 'Job', 'migrate'), 'migrate Job');
    const secretRefs = (migrateJob.spec.template.spec.containers[0]!.env ?? []).flatMap((entry) => (entry.valueFrom?.secretKeyRef ? [entry.valueFrom.secretKeyRef.name] : []));
    expect(secretRefs).toEqual(['tickwise-hook-env']);
    // The Deployments are not hooks: Helm creates them between the two phases.
    expect(workloads(objects, 'Deployment').every((deployment) => hook(deployment) === null)).toBe(true);
  });

  it('gives every service the environment it needs, which the code\'s own readers accept', () => {
    const env = (name: string) => resolvedEnv(objects, only(workloads(objects, 'Deployment', name), name).spec.template.spec.containers[0]!);
    const scheduler = env('scheduler');
    expect(scheduler.DATABASE_URL).toMatch(/^postgres:\/\//);
    expect(() => schedulerConfigFromEnv(scheduler)).not.toThrow();
    expect(readSettings(scheduler).smartDriver).toBeUndefined();

    const planner = env('planner');
    expect(planner).toMatchObject({ KAFKA_BROKERS: 'kafka-bootstrap.kafka.svc.cluster.local:9092', KAFKA_TOPIC: 'tickwise.run-events' });
    expect(planner.DATABASE_URL).toBeDefined();
    expect(() => plannerConfigFromEnv(planner)).not.toThrow();
    expect(resolveKafkaSourceOptions({ brokers: parseBrokerList(planner.KAFKA_BROKERS!), topic: planner.KAFKA_TOPIC, log: console }).topic).toBe('tickwise.run-events');
    expect(planner).not.toHaveProperty('OPENAI_API_KEY');

    const gateway = env('gateway');
    expect(gatewayConfigFromEnv(gateway).port).toBe(8080);
    expect(gateway.DATABASE_URL).toBeDefined();

    const analytics = env('analytics');
    expect(analytics).not.toHaveProperty('DATABASE_URL');
    expect(analyticsConfigFromEnv(analytics)).toMatchObject({ topic: planner.KAFKA_TOPIC, groupId: 'tickwise-analytics', windowMs: 900_000 });

    const migrate = resolvedEnv(objects, only(workloads(objects, 'Job', 'migrate'), 'migrate').spec.template.spec.containers[0]!);
    expect(migrate.DATABASE_URL).toBe(scheduler.DATABASE_URL);

    for (const name of ['scheduler', 'planner', 'gateway', 'analytics']) {
      const container = only(workloads(objects, 'Deployment', name), name).spec.template.spec.containers[0]!;
      expect(container.args).toEqual([name]);
      for (const variable of Object.keys(env(name))) {
        expect(documentedSettings().has(variable), `${name}: ${variable} is in README.md's settings table`).toBe(true);
        expect(readByCode(variable), `${name}: the code reads ${variable}`).toBe(true);
      }
    }
  });

  it('probes /healthz (liveness) and /readyz (readiness) on the port each service listens on', () => {
    for (const name of ['scheduler', 'planner', 'analytics', 'gateway']) {
      const container = only(workloads(objects, 'Deployment', name), name).spec.template.spec.containers[0]!;
      const env = resolvedEnv(objects, container);
      const listens = name === 'gateway' ? gatewayConfigFromEnv(env).port : opsSettingsFromEnv(env)!.port;
      expect(container.livenessProbe?.httpGet.path).toBe('/healthz');
      expect(container.readinessProbe?.httpGet.path).toBe('/readyz');
      const port = container.ports?.find((entry) => entry.name === container.livenessProbe?.httpGet.port);
      expect(port?.containerPort, `${name} probes the port it listens on`).toBe(listens);
      expect(container.readinessProbe?.httpGet.port).toBe(container.livenessProbe?.httpGet.port);
    }
  });

  it('runs every Tickwise pod as a non-root user with a read-only root filesystem and a writable /tmp', () => {
    for (const workload of [...workloads(objects, 'Deployment'), ...workloads(objects, 'Job', 'migrate')]) {
      const { spec } = workload.spec.template as unknown as { spec: { securityContext: { runAsNonRoot: boolean }; containers: { securityContext: { readOnlyRootFilesystem: boolean }; volumeMounts: { mountPath: string }[] }[] } };
      expect(spec.securityContext.runAsNonRoot).toBe(true);
      expect(spec.containers[0]!.securityContext.readOnlyRootFilesystem).toBe(true);
      expect(spec.containers[0]!.volumeMounts.map((mount) => mount.mountPath)).toContain('/tmp');
    }
  });

  it('ships the connector script and templates of deploy/connectors unchanged', () => {
    for (const file of ['register.sh', 'yugabytedb-outbox.json', 'postgres-outbox.json']) {
      expect(readFileSync(join(CHART, 'files', file), 'utf8'), `deploy/helm/tickwise/files/${file} = deploy/connectors/${file}`).toBe(readFileSync(join(REPO, 'deploy/connectors', file), 'utf8'));
    }
  });
});

describe.skipIf(!helm)('the chart, three zones (examples/three-zones.yaml)', () => {
  let objects: K8sObject[] = [];
  beforeAll(() => {
    objects = renderChart({ values: THREE_ZONES });
  });

  it('passes helm lint --strict and renders valid objects', () => {
    const lint = lintChart({ values: THREE_ZONES });
    expect(lint.status, lint.output).toBe(0);
    validateAll(objects);
  });

  it('runs one scheduler Deployment per zone, pinned to it, whose driver prefers its own zone', () => {
    const schedulers = workloads(objects, 'Deployment', 'scheduler');
    expect(schedulers.map((deployment) => deployment.metadata.name)).toEqual(['tickwise-scheduler-eu-west-1a', 'tickwise-scheduler-eu-west-1b', 'tickwise-scheduler-eu-west-1c']);
    for (const deployment of schedulers) {
      const zone = deployment.metadata.name.replace('tickwise-scheduler-', '');
      expect(deployment.spec.replicas).toBe(2);
      const [term] = deployment.spec.template.spec.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
      expect(term!.matchExpressions).toEqual([{ key: 'topology.kubernetes.io/zone', operator: 'In', values: [zone] }]);
      const env = resolvedEnv(objects, deployment.spec.template.spec.containers[0]!, ['tickwise-db', 'tickwise-secrets-key']);
      expect(env.TICKWISE_YB_LOAD_BALANCE).toBe('true');
      expect(env.TICKWISE_YB_TOPOLOGY_KEYS).toBe(`aws.eu-west-1.${zone}:1,aws.eu-west-1.*:2`);
      // The CLI accepts them as they are (it refuses a malformed key list at start).
      expect(readSettings(env).smartDriver).toEqual({ loadBalance: 'true', topologyKeys: `aws.eu-west-1.${zone}:1,aws.eu-west-1.*:2` });
      // Selectors of the zones' Deployments do not overlap: each owns its own pods.
      const others = schedulers.filter((other) => other !== deployment);
      expect(others.some((other) => matches(deployment.spec.selector!.matchLabels, other.spec.template.metadata.labels))).toBe(false);
    }
  });

  it('has one PodDisruptionBudget over the schedulers of every zone', () => {
    const pdb = only(objects.filter((object) => object.kind === 'PodDisruptionBudget' && component(object) === 'scheduler'), 'scheduler PDB') as K8sObject & { spec: { selector: { matchLabels: Record<string, string> } } };
    for (const deployment of workloads(objects, 'Deployment', 'scheduler')) expect(matches(pdb.spec.selector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
  });

  it('reads DATABASE_URL and the connector password from the existing Secret, not from a rendered one', () => {
    expect(objects.filter((object) => object.kind === 'Secret')).toEqual([]);
    const migrate = only(workloads(objects, 'Job', 'migrate'), 'migrate').spec.template.spec.containers[0]!;
    expect(migrate.env?.find((entry) => entry.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'tickwise-db', key: 'DATABASE_URL' });
    const register = only(workloads(objects, 'Job', 'register-connector'), 'register').spec.template.spec.containers[0]!;
    expect(register.env?.find((entry) => entry.name === 'DB_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({ name: 'tickwise-db', key: 'DB_PASSWORD' });
    const planner = only(workloads(objects, 'Deployment', 'planner'), 'planner').spec.template.spec.containers[0]!;
    expect(planner.env?.find((entry) => entry.name === 'OPENAI_API_KEY')?.valueFrom?.secretKeyRef).toEqual({ name: 'tickwise-openai', key: 'OPENAI_API_KEY' });
    // The OpenAI settings that are not secret come from the chart's ConfigMap.
    expect(resolvedEnv(objects, planner, ['tickwise-db', 'tickwise-openai'])).toMatchObject({ TICKWISE_MODEL: 'gpt-4o-mini', KAFKA_TOPIC: 'tickwise.run-events' });
  });

  it('gives every zone\'s schedulers and the gateway the secrets key from its own Secret, and the planner the Ingress\'s address', () => {
    const fromSecret = [
      { name: 'TICKWISE_SECRETS_KEY', valueFrom: { secretKeyRef: { name: 'tickwise-secrets-key', key: 'TICKWISE_SECRETS_KEY' } } },
      { name: 'TICKWISE_SECRETS_OLD_KEY', valueFrom: { secretKeyRef: { name: 'tickwise-secrets-key', key: 'TICKWISE_SECRETS_OLD_KEY', optional: true } } },
    ];
    expect(secretsKeyEnv(objects)).toEqual({
      'tickwise-scheduler-eu-west-1a/scheduler': fromSecret, 'tickwise-scheduler-eu-west-1b/scheduler': fromSecret, 'tickwise-scheduler-eu-west-1c/scheduler': fromSecret,
      'tickwise-gateway/gateway': fromSecret,
    });
    const planner = resolvedEnv(objects, containerOf(objects, 'planner'), ['tickwise-db', 'tickwise-openai']);
    expect(notifySettingsFromEnv(planner).publicUrl).toBe('https://tickwise.example.com');
  });

  it('scrapes every /metrics with a ServiceMonitor, and routes the gateway through the Ingress', () => {
    const monitor = only(objects.filter((object) => object.kind === 'ServiceMonitor'), 'ServiceMonitor') as K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] } };
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.metadata.labels?.release).toBe('prometheus');
    expect(monitor.spec.endpoints.map((endpoint) => `${endpoint.port} ${endpoint.path}`)).toEqual(['ops /metrics', 'http /metrics']);
    const scraped = objects.filter((object) => object.kind === 'Service' && matches(monitor.spec.selector.matchLabels, object.metadata.labels ?? {})) as (K8sObject & { spec: { ports: { name: string }[] } })[];
    expect(scraped.map(component).sort()).toEqual(['analytics', 'gateway', 'planner', 'scheduler']);
    for (const service of scraped) expect(service.spec.ports.some((port) => port.name === 'ops' || port.name === 'http')).toBe(true);
    expect(renderChart().some((object) => object.kind === 'ServiceMonitor')).toBe(false);
    const ingress = only(objects.filter((object) => object.kind === 'Ingress'), 'Ingress') as K8sObject & { spec: { rules: { host: string; http: { paths: { backend: { service: { name: string; port: { name: string } } } }[] } }[] } };
    expect(ingress.spec.rules[0]!.host).toBe('tickwise.example.com');
    expect(ingress.spec.rules[0]!.http.paths[0]!.backend.service).toEqual({ name: 'tickwise-gateway', port: { name: 'http' } });
  });
});

// What deploy/helm/check.sh runs, so that `npm test` covers it: lint and render every example.
describe.skipIf(!helm)('the chart with every values file of examples/', () => {
  const examples = readdirSync(join(CHART, 'examples')).filter((name) => name.endsWith('.yaml'));

  it.each(examples)('examples/%s passes helm lint --strict and renders valid objects', (name) => {
    const values = [`examples/${name}`];
    const lint = lintChart({ values });
    expect(lint.status, lint.output).toBe(0);
    expect(lint.output).toContain('0 chart(s) failed');
    validateAll(renderChart({ values }));
  });
});

describe.skipIf(!helm)('the chart refuses values it cannot run', () => {
  it.each([
    [['analytics.enabled=true', 'kafka.brokers='], 'analytics.enabled needs kafka.brokers'],
    [['scheduler.perZone.enabled=true'], 'scheduler.perZone.enabled needs scheduler.perZone.zones'],
    [['scheduler.perZone.enabled=true', 'scheduler.perZone.zones[0].name=eu-west-1a'], 'scheduler.perZone.zones[0] needs a name (the topology.kubernetes.io/zone label) and a placement'],
    [['connector.template=mysql'], 'connector.template must be yugabytedb or postgres, got "mysql"'],
    [['database.url='], 'database.url (DATABASE_URL) or database.existingSecret is required'],
    [['targets.allowPrivate=yes'], 'targets.allowPrivate must be true or false, got yes'],
    [['secretsKey.value=c2hvcnQ='], 'secretsKey.value must be the base64 of 32 random bytes (44 characters, the last one =); make one with: openssl rand -base64 32'],
    [[`secretsKey.value=${SECRETS_KEY}`, 'secretsKey.oldValue=c2hvcnQ='], 'secretsKey.oldValue must be the base64 of 32 random bytes'],
    [[`secretsKey.value=${SECRETS_KEY}`, 'secretsKey.existingSecret=tickwise-keys'], 'secretsKey.value and secretsKey.existingSecret are both set: set one of them'],
    [[`secretsKey.oldValue=${OLD_SECRETS_KEY}`], 'secretsKey.oldValue is set without secretsKey.value: during a rotation give both, the new key as secretsKey.value'],
    [[`secretsKey.oldValue=${OLD_SECRETS_KEY}`, 'secretsKey.existingSecret=tickwise-keys'], 'secretsKey.oldValue is set with secretsKey.existingSecret: put the old key in that Secret as TICKWISE_SECRETS_OLD_KEY'],
    [['publicUrl=tickwise.example.com'], 'publicUrl must be the http(s) address people open Tickwise at, such as https://tickwise.example.com (no query, fragment or credentials), got "tickwise.example.com"'],
    [['publicUrl=https://tickwise.example.com/?x=1'], 'publicUrl must be the http(s) address people open Tickwise at'],
  ])('%j fails with a message naming the value', (set, message) => {
    expect(renderFailure({ set })).toContain(message);
  });

  it('never repeats a mistyped secrets key in its message', () => {
    const mistyped = 'bm90IHRoZSBrZXkgYnV0IHN0aWxsIGEgc2VjcmV0';
    const message = renderFailure({ set: [`secretsKey.value=${mistyped}`] });
    expect(message).toContain('secretsKey.value must be the base64 of 32 random bytes');
    expect(message).not.toContain(mistyped);
  });

  it('gives the schedulers, the gateway and the planner one target policy: private targets refused unless targets.allowPrivate', () => {
    const targetEnv = (objects: K8sObject[], name: string) => Object.fromEntries(Object.entries(resolvedEnv(objects, only(workloads(objects, 'Deployment', name), name).spec.template.spec.containers[0]!)).filter(([key]) => key.includes('_TARGETS')));
    const callers = ['scheduler', 'gateway', 'planner'];
    const defaults = renderChart();
    for (const name of callers) {
      expect(targetEnv(defaults, name), name).toEqual({ TICKWISE_ALLOW_PRIVATE_TARGETS: 'false' });
      expect(schedulerConfigFromEnv(targetEnv(defaults, name)).targetPolicy.allowPrivate).toBe(false);
    }
    for (const name of ['analytics']) expect(targetEnv(defaults, name)).toEqual({});
    const opened = renderChart({ set: ['targets.allowPrivate=true', 'targets.allow=*.svc.cluster.local\\,10.0.0.0/8', 'targets.deny=10.9.0.0/16'] });
    validateAll(opened);
    for (const name of callers) {
      expect(targetEnv(opened, name), name).toEqual({ TICKWISE_ALLOW_PRIVATE_TARGETS: 'true', TICKWISE_ALLOW_TARGETS: '*.svc.cluster.local,10.0.0.0/8', TICKWISE_DENY_TARGETS: '10.9.0.0/16' });
      expect(gatewayConfigFromEnv(targetEnv(opened, name)).targetPolicy).toMatchObject({ allowPrivate: true });
    }
  });

  it('runs the planner on the database path when there is no Kafka', () => {
    const objects = renderChart({ set: ['kafka.brokers=', 'analytics.enabled=false', 'connector.register=false'] });
    validateAll(objects);
    const planner = resolvedEnv(objects, only(workloads(objects, 'Deployment', 'planner'), 'planner').spec.template.spec.containers[0]!);
    expect(planner).not.toHaveProperty('KAFKA_BROKERS');
    expect(objects.some((object) => component(object) === 'create-topic' || component(object) === 'register-connector')).toBe(false);
  });
});
