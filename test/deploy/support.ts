import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { toolMissing } from '../support/tools.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CHART = join(REPO, 'deploy/helm/tickwise');
export const KUBE_VERSION = '1.33.0';

/**
 * The variables README.md's settings table documents (its first column); an entry such as
 * `TICKWISE_PLANNER_LLM_*` documents every name with that prefix.
 */
export function documentedSettings(): { has(name: string): boolean; names: string[] } {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Settings');
  if (start < 0) throw new Error('README.md has no "## Settings" section');
  const end = readme.indexOf('\n## ', start + 5);
  const names: string[] = [];
  for (const line of readme.slice(start, end < 0 ? undefined : end).split('\n')) {
    const match = /^\| `([A-Z][A-Z0-9_]*\*?)`/.exec(line);
    if (match) names.push(match[1]!);
  }
  return {
    names,
    has: (name) => names.some((entry) => (entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : entry === name)),
  };
}

const SOURCE_ROOTS = ['cli', 'platform/src', 'machines/src', 'events/src', 'api/src', 'db/src', 'catalog/src', ...readdirSync(join(REPO, 'services')).map((name) => `services/${name}/src`)];

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'test' || name === 'node_modules' || name === 'gen') return [];
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mjs)$/.test(name) ? [path] : [];
  });
}

let sources: string | undefined;

/** Whether the code (not its tests) names the variable: the name appears as a word in a source file. */
export function readByCode(name: string): boolean {
  sources ??= SOURCE_ROOTS.flatMap((root) => sourceFiles(join(REPO, root)).map((file) => readFileSync(file, 'utf8'))).join('\n');
  return new RegExp(`\\b${name}\\b`).test(sources);
}

/**
 * helm from $HELM (alone when set, as deploy/helm/check.sh takes it), else PATH or ~/go/bin; an
 * error saying how to install it otherwise. `npm test` installs it when Go is there.
 */
export function findHelm(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.HELM?.trim();
  const candidates = given ? [given] : [...(env.PATH ?? '').split(':').filter(Boolean).map((dir) => join(dir, 'helm')), join(env.GOPATH ?? join(homedir(), 'go'), 'bin', 'helm')];
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new Error(`helm not found (${given ? `HELM=${given}` : '$HELM, PATH, ~/go/bin'}): install it with \`GOTOOLCHAIN=local go install helm.sh/helm/v3/cmd/helm@v3.21.4\` (npm test does when Go is installed)`);
  }
  return found;
}

/**
 * helm, or null after one line saying how to install it (for describe.skipIf); under CI=true a
 * missing helm fails the file instead (test/support/tools.ts).
 */
export function helmOrSkip(suite: string): string | null {
  try {
    return findHelm();
  } catch (error) {
    return toolMissing(suite, (error as Error).message) || null;
  }
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

function valueArgs(options: { values?: string[]; set?: string[] }): string[] {
  return [...(options.values ?? []).flatMap((file) => ['-f', join(CHART, file)]), ...(options.set ?? []).flatMap((pair) => ['--set', pair])];
}

/** `helm template` of the chart; the objects it renders. Throws with helm's message when it fails. */
export function renderChart(options: { values?: string[]; set?: string[] } = {}): K8sObject[] {
  const output = execFileSync(findHelm(), ['template', 'tickwise', CHART, '--kube-version', KUBE_VERSION, ...valueArgs(options)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseAllDocuments(output)
    .map((document) => {
      if (document.errors.length > 0) throw new Error(`helm rendered YAML that does not parse: ${document.errors[0]!.message}`);
      return document.toJS() as K8sObject | null;
    })
    .filter((object): object is K8sObject => object !== null);
}

/** `helm template` expected to fail: its stderr. */
export function renderFailure(options: { values?: string[]; set?: string[] }): string {
  const result = spawnSync(findHelm(), ['template', 'tickwise', CHART, '--kube-version', KUBE_VERSION, ...valueArgs(options)], { encoding: 'utf8' });
  if (result.status === 0) throw new Error(`helm template succeeded with ${JSON.stringify(options)}; expected a failure`);
  return result.stderr;
}

/** `helm lint --strict`: its exit status and output. */
export function lintChart(options: { values?: string[] } = {}): { status: number | null; output: string } {
  const result = spawnSync(findHelm(), ['lint', '--strict', '--kube-version', KUBE_VERSION, CHART, ...valueArgs(options)], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}
