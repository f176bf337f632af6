import { describe, expect, it } from 'vitest';
import { gatewayConfigFromEnv } from '@tickwise/gateway';
import { notifySettingsFromEnv, plannerConfigFromEnv } from '@tickwise/planner';
import { parseSecretsKey } from '@tickwise/platform';
import { schedulerConfigFromEnv } from '@tickwise/scheduler';
import { containerOf, OLD_SECRETS_KEY, only, resolvedEnv, SECRETS_KEY, secretsKeyEnv, validateAll } from './chart-objects.ts';
import { helmOrSkip, renderChart, type K8sObject } from './support.ts';

// No helm: one line saying how to install it and the suites are skipped; under CI=true the file fails.
const helm = helmOrSkip('test/deploy/helm-secrets-key.unit.test.ts (the Helm chart\'s secrets key and public URL)');

const keyId = (text: string) => parseSecretsKey(text, 'test').id;
const keyIds = (keyring: { current: { id: string } | null; previous: { id: string } | null }) => [keyring.current?.id, keyring.previous?.id];

describe.skipIf(!helm)('the chart, the secrets key and the public URL', () => {
  it('has no secrets key unless given: every process starts, and the gateway refuses SetSecret', () => {
    const objects = renderChart();
    expect(secretsKeyEnv(objects)).toEqual({});
    expect(gatewayConfigFromEnv(resolvedEnv(objects, containerOf(objects, 'gateway'))).secretsKeys).toEqual({ current: null, previous: null });
  });

  it('puts secretsKey.value in the chart\'s Secret, read by the schedulers and the gateway only, never through a ConfigMap', () => {
    const objects = renderChart({ set: [`secretsKey.value=${SECRETS_KEY}`] });
    validateAll(objects);
    const fromChart = [{ name: 'TICKWISE_SECRETS_KEY', valueFrom: { secretKeyRef: { name: 'tickwise-env', key: 'TICKWISE_SECRETS_KEY' } } }];
    expect(secretsKeyEnv(objects)).toEqual({ 'tickwise-scheduler/scheduler': fromChart, 'tickwise-gateway/gateway': fromChart });
    // The key's text is in the one Secret, not in the hook Secret, a ConfigMap or a pod spec.
    expect(objects.filter((object) => JSON.stringify(object).includes(SECRETS_KEY)).map((object) => `${object.kind}/${object.metadata.name}`)).toEqual(['Secret/tickwise-env']);
    expect(objects.filter((object) => object.kind === 'ConfigMap' && JSON.stringify(object).includes('TICKWISE_SECRETS_'))).toEqual([]);
    expect(keyIds(schedulerConfigFromEnv(resolvedEnv(objects, containerOf(objects, 'scheduler'))).secretsKeys)).toEqual([keyId(SECRETS_KEY), undefined]);
    expect(keyIds(gatewayConfigFromEnv(resolvedEnv(objects, containerOf(objects, 'gateway'))).secretsKeys)).toEqual([keyId(SECRETS_KEY), undefined]);
  });

  it('adds secretsKey.oldValue during a rotation: the schedulers and the gateway hold both keys, the new one current', () => {
    const objects = renderChart({ set: [`secretsKey.value=${SECRETS_KEY}`, `secretsKey.oldValue=${OLD_SECRETS_KEY}`] });
    validateAll(objects);
    expect(Object.keys(secretsKeyEnv(objects)).sort()).toEqual(['tickwise-gateway/gateway', 'tickwise-scheduler/scheduler']);
    for (const name of ['scheduler', 'gateway']) {
      const env = resolvedEnv(objects, containerOf(objects, name));
      expect({ current: env.TICKWISE_SECRETS_KEY, old: env.TICKWISE_SECRETS_OLD_KEY }, name).toEqual({ current: SECRETS_KEY, old: OLD_SECRETS_KEY });
      const keyring = name === 'scheduler' ? schedulerConfigFromEnv(env).secretsKeys : gatewayConfigFromEnv(env).secretsKeys;
      expect(keyIds(keyring), name).toEqual([keyId(SECRETS_KEY), keyId(OLD_SECRETS_KEY)]);
    }
    expect(objects.filter((object) => JSON.stringify(object).includes(OLD_SECRETS_KEY)).map((object) => `${object.kind}/${object.metadata.name}`)).toEqual(['Secret/tickwise-env']);
  });

  it('reads the key from secretsKey.existingSecret instead, the old key there optional, and renders none', () => {
    const objects = renderChart({ set: ['secretsKey.existingSecret=tickwise-keys'] });
    validateAll(objects);
    const fromExisting = [
      { name: 'TICKWISE_SECRETS_KEY', valueFrom: { secretKeyRef: { name: 'tickwise-keys', key: 'TICKWISE_SECRETS_KEY' } } },
      { name: 'TICKWISE_SECRETS_OLD_KEY', valueFrom: { secretKeyRef: { name: 'tickwise-keys', key: 'TICKWISE_SECRETS_OLD_KEY', optional: true } } },
    ];
    expect(secretsKeyEnv(objects)).toEqual({ 'tickwise-scheduler/scheduler': fromExisting, 'tickwise-gateway/gateway': fromExisting });
    expect(objects.filter((object) => (object.kind === 'Secret' || object.kind === 'ConfigMap') && JSON.stringify(object).includes('TICKWISE_SECRETS_'))).toEqual([]);
    expect(() => schedulerConfigFromEnv(resolvedEnv(objects, containerOf(objects, 'scheduler'), ['tickwise-keys']))).not.toThrow();
  });

  it('gives the planner alone TICKWISE_PUBLIC_URL, from publicUrl through the ConfigMap', () => {
    const defaults = renderChart();
    expect(resolvedEnv(defaults, containerOf(defaults, 'planner'))).not.toHaveProperty('TICKWISE_PUBLIC_URL');
    const objects = renderChart({ set: ['publicUrl=https://tickwise.example.com/'] });
    validateAll(objects);
    const config = only(objects.filter((object) => object.kind === 'ConfigMap' && object.metadata.name === 'tickwise-config'), 'ConfigMap') as K8sObject & { data: Record<string, string> };
    expect(config.data.TICKWISE_PUBLIC_URL).toBe('https://tickwise.example.com/');
    const planner = resolvedEnv(objects, containerOf(objects, 'planner'));
    expect(() => plannerConfigFromEnv(planner)).not.toThrow();
    expect(notifySettingsFromEnv(planner).publicUrl).toBe('https://tickwise.example.com');
    for (const name of ['scheduler', 'gateway', 'analytics']) expect(resolvedEnv(objects, containerOf(objects, name)), name).not.toHaveProperty('TICKWISE_PUBLIC_URL');
  });

  it('takes TICKWISE_PUBLIC_URL from the Ingress when it has one plain host, and leaves it unset when it cannot tell', () => {
    const publicUrl = (set: string[]) => {
      const objects = renderChart({ set: ['gateway.ingress.enabled=true', ...set] });
      return resolvedEnv(objects, containerOf(objects, 'planner')).TICKWISE_PUBLIC_URL;
    };
    expect(publicUrl(['gateway.ingress.hosts[0].host=tw.example.com'])).toBe('http://tw.example.com');
    expect(publicUrl(['gateway.ingress.hosts[0].host=tw.example.com', 'gateway.ingress.tls[0].hosts[0]=tw.example.com', 'gateway.ingress.tls[0].secretName=tw-tls'])).toBe('https://tw.example.com');
    expect(publicUrl(['gateway.ingress.hosts[0].host=tw.example.com', 'publicUrl=https://tickwise.example.org'])).toBe('https://tickwise.example.org');
    expect(publicUrl(['gateway.ingress.hosts[0].host=*.example.com'])).toBeUndefined();
    expect(publicUrl(['gateway.ingress.hosts[0].host=tw.example.com', 'gateway.ingress.hosts[1].host=tickwise.example.com'])).toBeUndefined();
    expect(publicUrl(['gateway.ingress.hosts[0].host=tw.example.com', 'gateway.ingress.hosts[0].paths[0].path=/tickwise'])).toBeUndefined();
    expect(publicUrl([])).toBeUndefined();
  });
});
