import * as appsV1 from 'kubernetes-models/apps/v1';
import * as batchV1 from 'kubernetes-models/batch/v1';
import * as networkingV1 from 'kubernetes-models/networking.k8s.io/v1';
import * as policyV1 from 'kubernetes-models/policy/v1';
import * as coreV1 from 'kubernetes-models/v1';
import type { K8sObject } from './support.ts';

/** Reading the chart's rendered objects: workloads, containers, their environment resolved, validation. */
export const MODELS: Record<string, Record<string, unknown>> = { v1: coreV1, 'apps/v1': appsV1, 'batch/v1': batchV1, 'policy/v1': policyV1, 'networking.k8s.io/v1': networkingV1 };

export interface Container {
  name: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; configMapKeyRef?: { name: string; key: string } } }[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: { httpGet: { path: string; port: string } };
  readinessProbe?: { httpGet: { path: string; port: string } };
}
export interface PodSpec {
  containers: Container[];
  topologySpreadConstraints?: { topologyKey: string; maxSkew: number; whenUnsatisfiable: string; labelSelector: { matchLabels: Record<string, string> } }[];
  affinity?: {
    nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: { matchExpressions: { key: string; operator: string; values: string[] }[] }[] } };
    podAntiAffinity?: { preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; podAffinityTerm: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } } }[] };
  };
}
export type Workload = K8sObject & { spec: { replicas?: number; selector?: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } };

export const component = (object: K8sObject) => object.metadata.labels?.['app.kubernetes.io/component'];
export const workloads = (objects: K8sObject[], kind: 'Deployment' | 'Job', name?: string) =>
  objects.filter((object) => object.kind === kind && (!name || component(object) === name)) as Workload[];
export const only = <T>(items: T[], what: string): T => {
  if (items.length !== 1) throw new Error(`expected one ${what}, found ${items.length}`);
  return items[0]!;
};
export const containerOf = (objects: K8sObject[], name: string) => only(workloads(objects, 'Deployment', name), name).spec.template.spec.containers[0]!;
export const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([key, value]) => labels[key] === value);

/** A container's environment with Secret and ConfigMap references resolved from the rendered objects (external Secrets stay unresolved). */
export function resolvedEnv(objects: K8sObject[], container: Container, external: string[] = []): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined) {
      env[entry.name] = entry.value;
      continue;
    }
    const ref = entry.valueFrom?.secretKeyRef ?? entry.valueFrom?.configMapKeyRef;
    const kind = entry.valueFrom?.secretKeyRef ? 'Secret' : 'ConfigMap';
    if (!ref) throw new Error(`${container.name}: env ${entry.name} has neither a value nor a Secret/ConfigMap reference`);
    if (kind === 'Secret' && external.includes(ref.name)) continue;
    const source = objects.find((object) => object.kind === kind && object.metadata.name === ref.name) as (K8sObject & { stringData?: Record<string, string>; data?: Record<string, string> }) | undefined;
    const value = kind === 'Secret' ? source?.stringData?.[ref.key] : source?.data?.[ref.key];
    if (value === undefined) throw new Error(`${container.name}: env ${entry.name} refers to ${kind} ${ref.name} key ${ref.key}, which the chart does not render`);
    env[entry.name] = value;
  }
  return env;
}

/** The TICKWISE_SECRETS_* entries of every container of every workload, by component. */
export function secretsKeyEnv(objects: K8sObject[]): Record<string, Container['env']> {
  const found: Record<string, Container['env']> = {};
  for (const workload of [...workloads(objects, 'Deployment'), ...workloads(objects, 'Job')]) {
    for (const container of workload.spec.template.spec.containers) {
      const entries = (container.env ?? []).filter((entry) => entry.name.startsWith('TICKWISE_SECRETS_'));
      if (entries.length > 0) found[`${workload.metadata.name}/${container.name}`] = entries;
    }
  }
  return found;
}

export function validateAll(objects: K8sObject[]): void {
  for (const object of objects) {
    if (object.apiVersion === 'monitoring.coreos.com/v1') continue; // no model for the operator's CRDs: checked by hand below
    const Model = MODELS[object.apiVersion]?.[object.kind] as (new (data: unknown) => { validate(): void }) | undefined;
    if (!Model) throw new Error(`no Kubernetes model for ${object.apiVersion} ${object.kind} (${object.metadata.name})`);
    try {
      new Model(object).validate();
    } catch (error) {
      throw new Error(`${object.kind} ${object.metadata.name} is not valid for Kubernetes ${'1.33'}: ${(error as Error).message}`);
    }
  }
}

export function hook(object: K8sObject) {
  const annotations = object.metadata.annotations ?? {};
  if (!annotations['helm.sh/hook']) return null;
  return { phases: annotations['helm.sh/hook'].split(','), weight: Number(annotations['helm.sh/hook-weight'] ?? 0) };
}

/** Two well-formed secrets keys (base64 of 32 bytes), the current one and the one a rotation retires. */
export const SECRETS_KEY = Buffer.alloc(32, 7).toString('base64');
export const OLD_SECRETS_KEY = Buffer.alloc(32, 9).toString('base64');
