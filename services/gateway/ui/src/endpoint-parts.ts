import { toJson } from '@bufbuild/protobuf';
import { ListValueSchema, timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import { type Analysis, type Endpoint, type Hint, HintKind, type ListSigningSecretsResponse, type Machine, type PreviewScheduleResponse, type Run, RunStatus, SignedBy, type Transition } from '@tickwise/api';
import { h, type Child } from './dom.ts';
import { ago, clip, clock, countdown, formatMs, stateName } from './format.ts';

// The parts of the endpoint page, drawn from API messages. Each returns fresh elements.

const date = (at: Timestamp | undefined) => (at ? timestampDate(at) : null);
const pill = (state: number) => h('span', { class: `pill state-${stateName(state)}` }, stateName(state));

export function specLine(endpoint: Endpoint): HTMLElement {
  const spec = endpoint.spec;
  const schedule = spec?.schedule?.kind;
  const every = schedule?.case === 'every' ? `every ${schedule.value}` : schedule?.case === 'cron' ? `cron "${schedule.value.expression}" (${schedule.value.timezone || 'UTC'})` : '';
  return h('p', { class: 'spec' }, h('code', {}, `${spec?.method || 'GET'} ${spec?.url ?? ''}`), ` · ${every}`, spec?.minInterval ? ` · min ${spec.minInterval}` : '', spec?.maxInterval ? ` · max ${spec.maxInterval}` : '', spec?.jitter ? ` · jitter ${spec.jitter}` : '');
}

/** Whether the endpoint's calls carry a Standard Webhooks signature, and whose secrets make it. */
export function signingLine(signing: ListSigningSecretsResponse | null, failure: string | null): HTMLElement {
  const active = signing?.signingSecrets.filter((secret) => secret.active).length ?? 0;
  const text =
    failure !== null
      ? `signing: ${failure}`
      : signing === null
        ? 'signing: …'
        : signing.signedBy === SignedBy.ENDPOINT
          ? `calls signed (Standard Webhooks) with this endpoint's own secret${active === 1 ? '' : 's'} (${active} active)`
          : signing.signedBy === SignedBy.TENANT
            ? "calls signed (Standard Webhooks) with the tenant's secrets"
            : 'calls not signed (no signing secret for this endpoint or its tenant)';
  const state = signing === null ? 'unknown' : signing.signedBy === SignedBy.ENDPOINT ? 'endpoint' : signing.signedBy === SignedBy.TENANT ? 'tenant' : 'none';
  return h('p', { class: 'spec signing', 'data-signed-by': state }, text);
}

/** When it runs next and why: the governor's reason and what decided it. */
export function nextRunCard(machine: Machine, now: number): HTMLElement {
  const next = date(machine.nextRunAt);
  return h(
    'div',
    { class: 'card next-run' },
    h('h3', {}, 'Next run'),
    h('p', { class: 'big countdown', 'data-next-run': next?.toISOString() ?? '' }, countdown(next, now)),
    h('p', { class: 'muted' }, clock(next)),
    h('p', { class: 'reason' }, machine.reason || '—'),
    h('p', { class: 'muted' }, 'decided by ', h('code', {}, machine.source || '—'), machine.hintsPending ? ' · hints changed since: re-planned once the machine is free' : ''),
  );
}

/** The machine's own facts: version, outcome streak, lease, pause. */
export function factsCard(machine: Machine, now: number): HTMLElement {
  const lease = date(machine.leaseExpiresAt);
  const rows: [string, Child][] = [
    ['state', pill(machine.state)],
    ['version', machine.version],
    ['last outcome', machine.lastOutcome || 'no run yet'],
    ['failures in a row', machine.consecutiveFailures],
    ['last slot', clock(date(machine.lastSlot))],
    ['lease', machine.leaseOwner ? `${machine.leaseOwner}, expires ${countdown(lease, now)}` : 'none'],
    ['attempt', machine.attempt || '—'],
    ['pause', machine.pause ? `${machine.pause.reason}${machine.pause.until ? ` (until ${clock(date(machine.pause.until))})` : ''}` : 'none'],
  ];
  return h('div', { class: 'card facts' }, h('h3', {}, 'Machine'), h('dl', {}, rows.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])));
}

function hintValue(hint: Hint): string {
  switch (hint.kind) {
    case HintKind.INTERVAL:
      return `every ${hint.interval}`;
    case HintKind.RUN_AT:
      return `run at ${clock(date(hint.at))}`;
    case HintKind.PAUSE_UNTIL:
      return `pause until ${clock(date(hint.at))}`;
    default:
      return 'unknown';
  }
}

function analysisBlock(analysis: Analysis, now: number): HTMLElement {
  const calls = analysis.toolCalls ? (toJson(ListValueSchema, analysis.toolCalls) as unknown[]) : [];
  return h(
    'div',
    { class: 'analysis' },
    h('p', { class: 'muted' }, `${analysis.planner}${analysis.model ? ` (${analysis.model})` : ''} · ${analysis.trigger} · ${analysis.outcome}${analysis.outcomeDetail ? `: ${analysis.outcomeDetail}` : ''} · ${ago(date(analysis.createdAt), now)}`),
    analysis.reasoning ? h('blockquote', { class: 'reasoning' }, analysis.reasoning) : h('p', { class: 'muted' }, 'no reasoning recorded'),
    calls.length > 0 ? h('p', { class: 'muted tool-calls' }, 'tools: ', h('code', {}, clip(JSON.stringify(calls), 300))) : '',
  );
}

/** Hints in force, then past ones, each with the planner's reasoning when a planner wrote it. */
export function hintsCard(hints: readonly Hint[], analyses: ReadonlyMap<string, Analysis>, now: number): HTMLElement {
  const item = (hint: Hint) => {
    const status = hint.active ? 'in force' : hint.clearedAt ? `cleared ${ago(date(hint.clearedAt), now)}` : `expired ${ago(date(hint.expiresAt), now)}`;
    const analysis = hint.analysisId ? analyses.get(hint.analysisId) : undefined;
    return h(
      'li',
      { class: `hint ${hint.active ? 'active' : 'past'}`, 'data-hint-id': hint.id },
      h('p', {}, h('strong', {}, hintValue(hint)), ` · ${hint.source} · `, h('span', { class: hint.active ? 'badge' : 'muted' }, status), hint.active ? ` · expires ${countdown(date(hint.expiresAt), now)}` : ''),
      h('p', { class: 'reason' }, hint.reason),
      analysis ? analysisBlock(analysis, now) : hint.analysisId ? h('p', { class: 'muted' }, `analysis ${hint.analysisId} (older than the ones shown)`) : '',
    );
  };
  const active = hints.filter((hint) => hint.active);
  const past = hints.filter((hint) => !hint.active);
  return h(
    'div',
    { class: 'card hints-card' },
    h('h3', {}, `Hints in force (${active.length})`),
    active.length > 0 ? h('ul', { class: 'hint-list' }, active.map(item)) : h('p', { class: 'muted' }, 'none: the baseline schedule applies'),
    h('h3', {}, `Past hints (${past.length})`),
    past.length > 0 ? h('ul', { class: 'hint-list' }, past.map(item)) : h('p', { class: 'muted' }, 'none'),
  );
}

/** The planner's latest analyses, hints or not. */
export function analysesCard(analyses: readonly Analysis[], now: number): HTMLElement {
  return h('div', { class: 'card analyses-card' }, h('h3', {}, 'Planner analyses'), analyses.length > 0 ? analyses.map((analysis) => analysisBlock(analysis, now)) : h('p', { class: 'muted' }, 'the planner has not looked at this endpoint yet'));
}

type Entry = ({ kind: 'transition'; step: Transition } | { kind: 'run'; run: Run }) & { at: number; order: number };

/**
 * Transitions and runs together, newest first. Steps of one write share a time to the
 * millisecond, so ties keep the machine's own order (reversed); a run sits just below the step
 * that recorded it (FINISH). Pure.
 */
export function timelineEntries(transitions: readonly Transition[], runs: readonly Run[], max = 80): Entry[] {
  const entries: Entry[] = [
    ...transitions.map((step, index) => ({ at: date(step.at)?.getTime() ?? 0, order: 2 * index + 1, kind: 'transition' as const, step })),
    ...runs.map((run) => ({ at: date(run.finishedAt)?.getTime() ?? 0, order: 0, kind: 'run' as const, run })),
  ];
  return entries.sort((a, b) => b.at - a.at || b.order - a.order).slice(0, max);
}

function runDetail(run: Run): Child[] {
  const failed = run.status === RunStatus.FAILED;
  const slot = date(run.slot);
  const started = date(run.startedAt);
  const late = slot && started ? started.getTime() - slot.getTime() : null;
  return [
    h('span', { class: `outcome ${failed ? 'bad' : 'good'}` }, failed ? '✗ failed' : '✓ succeeded'),
    ` · HTTP ${run.httpStatus ?? '—'} · ${formatMs(run.durationMs)}`,
    late !== null ? ` · ${late >= 0 ? `${formatMs(late)} late` : `${formatMs(-late)} early`}` : '',
    ` · attempt ${run.attempt} · ${run.worker}`,
    run.plannedSource ? ` · planned by ${run.plannedSource}` : '',
    failed && (run.errorKind || run.errorMessage) ? h('div', { class: 'error-text' }, `${run.errorKind}: ${clip(run.errorMessage, 240)}`) : '',
  ];
}

export function timelineCard(transitions: readonly Transition[], runs: readonly Run[], now: number): HTMLElement {
  const rows = timelineEntries(transitions, runs).map((entry) =>
    entry.kind === 'run'
      ? h('tr', { class: 'run', 'data-run-id': entry.run.id }, h('td', { title: new Date(entry.at).toISOString() }, clock(new Date(entry.at), now)), h('td', {}, 'run'), h('td', {}, runDetail(entry.run)))
      : h(
          'tr',
          { class: 'transition' },
          h('td', { title: new Date(entry.at).toISOString() }, clock(new Date(entry.at), now)),
          h('td', {}, h('code', {}, entry.step.event)),
          h(
            'td',
            {},
            entry.step.from ? [pill(entry.step.from), ' → '] : '',
            pill(entry.step.to),
            entry.step.skippedCount > 0 ? [' ', h('span', { class: 'skipped', title: `skipped: ${entry.step.skippedWhy}` }, `⏭ ${entry.step.skippedCount} slot${entry.step.skippedCount === 1 ? '' : 's'} skipped (${entry.step.skippedWhy})`)] : '',
            entry.step.reason ? ` ${entry.step.reason}` : '',
            entry.step.worker ? h('span', { class: 'muted' }, ` · ${entry.step.worker}`) : '',
          ),
        ),
  );
  return h('div', { class: 'card timeline' }, h('h3', {}, 'Timeline'), rows.length > 0 ? h('table', {}, h('tbody', {}, rows)) : h('p', { class: 'muted' }, 'nothing yet'));
}

/** `2026-03-29 01:00:00Z`: a run's time in UTC (milliseconds only when there are some, as in its local time). */
const utcText = (at: Timestamp | undefined) => date(at)?.toISOString().replace('T', ' ').replace('.000Z', 'Z') ?? '—';

/**
 * The schedule preview's runs: UTC, local time in the schedule's zone, offset; a run after which
 * the offset changed (DST) is marked, with what DST did to it.
 */
export function previewTable(preview: PreviewScheduleResponse | undefined, error: string | null): HTMLElement {
  if (error) return h('p', { class: 'error-text', role: 'alert' }, error);
  if (!preview) return h('p', { class: 'muted' }, 'loading…');
  if (preview.runs.length === 0) return h('p', { class: 'muted' }, 'no runs after that time');
  const rows = preview.runs.map((run, index) =>
    h(
      'tr',
      { class: run.offsetChanged ? 'preview-run dst-shift' : 'preview-run', 'data-offset-changed': run.offsetChanged ? 'true' : 'false' },
      h('td', { class: 'muted' }, index + 1),
      h('td', {}, utcText(run.at)),
      h('td', {}, run.localTime.slice(0, -6).replace('T', ' ')),
      h('td', {}, run.utcOffset, run.offsetChanged ? [' ', h('span', { class: 'badge dst', title: 'the UTC offset changed since the previous run' }, 'DST shift')] : ''),
      h('td', { class: 'muted' }, run.note),
    ),
  );
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'UTC'), h('th', {}, `Local (${preview.timezone})`), h('th', {}, 'Offset'), h('th', {}, 'Note'))),
    h('tbody', {}, rows),
  );
}
