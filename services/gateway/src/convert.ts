import { fromJson, type JsonObject, type JsonValue } from '@bufbuild/protobuf';
import { ListValueSchema, timestampFromDate, ValueSchema } from '@bufbuild/protobuf/wkt';
import type { Analysis, ApiKeyRow, EndpointView, HistoryStep, JobView, SkippedEntry, StoredHint, StoredRun } from '@tickwise/db';
import { maskInlineCredentials, maskUrlCredentials, restoreSnapshot, type HintKind as StoredHintKind, type MachineState as StoredState } from '@tickwise/machines';
import { formatDuration } from '@tickwise/platform';
import { HintKind, MachineState, Role, RunStatus } from '@tickwise/api';
import { notifyMessages, specMessage } from '@tickwise/api';

// Rows as the API shows them. Pure functions; none reads anything.

export const STATE_TO_ENUM: Record<StoredState, MachineState> = {
  idle: MachineState.IDLE,
  due: MachineState.DUE,
  running: MachineState.RUNNING,
  planning: MachineState.PLANNING,
  paused: MachineState.PAUSED,
};

export const ENUM_TO_STATE = Object.fromEntries(Object.entries(STATE_TO_ENUM).map(([state, value]) => [value, state])) as Record<MachineState, StoredState>;

const HINT_KIND_TO_ENUM: Record<StoredHintKind, HintKind> = { interval: HintKind.INTERVAL, run_at: HintKind.RUN_AT, pause_until: HintKind.PAUSE_UNTIL };
export const ENUM_TO_HINT_KIND = Object.fromEntries(Object.entries(HINT_KIND_TO_ENUM).map(([kind, value]) => [value, kind])) as Record<HintKind, StoredHintKind>;

export const ROLE_TO_ENUM = { read: Role.READ, write: Role.WRITE, admin: Role.ADMIN } as const;
export const ENUM_TO_ROLE = { [Role.READ]: 'read', [Role.WRITE]: 'write', [Role.ADMIN]: 'admin' } as const;

const ts = (date: Date | null | undefined) => (date ? timestampFromDate(date) : undefined);

export function jobMessage(job: JobView) {
  return {
    id: job.id,
    name: job.name,
    synthetic: job.synthetic,
    endpointCount: job.endpointCount,
    createdAt: ts(job.createdAt),
    updatedAt: ts(job.updatedAt),
    archivedAt: ts(job.archivedAt),
    notify: notifyMessages(job.notify),
  };
}

function pauseMessage(row: EndpointView) {
  return row.pausedReason === null ? undefined : { reason: row.pausedReason, until: ts(row.pausedUntil), pausedAt: ts(row.pausedAt) };
}

/**
 * An endpoint as the API shows it. `maskCredentials` (read keys): credentials written inline in its
 * headers (Authorization, Cookie, *-Key, *-Token, *-Secret) and a URL's user:pass@ are shown as
 * `***`; `{{secrets.NAME}}` references are shown as written, since they hold no value.
 */
export function endpointMessage(row: EndpointView, view: { maskCredentials?: boolean } = {}) {
  const spec = view.maskCredentials ? { ...row.spec, url: maskUrlCredentials(row.spec.url), headers: maskInlineCredentials(row.spec.headers ?? {}) } : row.spec;
  return {
    id: row.id,
    jobId: row.jobId,
    name: row.name,
    spec: specMessage(row.name, spec),
    state: STATE_TO_ENUM[row.state],
    nextRunAt: ts(row.nextRunAt),
    reason: row.reason ?? '',
    pause: pauseMessage(row),
    archivedAt: ts(row.archivedAt),
    createdAt: ts(row.createdAt),
    updatedAt: ts(row.updatedAt),
    version: row.version,
  };
}

export function hintMessage(hint: StoredHint, now: Date) {
  return {
    id: hint.id,
    endpointId: hint.endpointId,
    kind: HINT_KIND_TO_ENUM[hint.kind],
    interval: hint.intervalMs === undefined ? '' : formatDuration(hint.intervalMs),
    at: ts(hint.at),
    reason: hint.reason,
    source: hint.source,
    createdAt: ts(hint.createdAt),
    expiresAt: ts(hint.expiresAt),
    clearedAt: ts(hint.clearedAt),
    active: hint.clearedAt === null && hint.expiresAt > now,
    analysisId: hint.analysisId ?? '',
  };
}

const iso = (text: string | null) => (text ? ts(new Date(text)) : undefined);

export function machineMessage(row: EndpointView, history: readonly HistoryStep[], hints: readonly StoredHint[], now: Date) {
  const { snapshot } = restoreSnapshot(row.snapshot, row);
  const context = snapshot.context;
  const stored = row.snapshot;
  return {
    endpointId: row.id,
    state: STATE_TO_ENUM[row.state],
    version: row.version,
    nextRunAt: ts(row.nextRunAt),
    reason: row.reason ?? '',
    source: context.source ?? '',
    consecutiveFailures: context.consecutiveFailures,
    lastOutcome: context.lastOutcome ?? '',
    lastSlot: iso(context.lastSlot),
    claimedSlot: ts(row.claimedSlot),
    attempt: row.attempt,
    leaseOwner: row.leaseOwner ?? '',
    leaseExpiresAt: ts(row.leaseExpiresAt),
    pause: pauseMessage(row),
    hintsPending: row.hintVersion > row.plannedHintVersion,
    snapshot: stored && typeof stored === 'object' && !Array.isArray(stored) ? (stored as JsonObject) : undefined,
    transitions: history.map((step) => ({
      seq: BigInt(step.seq),
      from: step.from ? STATE_TO_ENUM[step.from] : MachineState.UNSPECIFIED,
      to: STATE_TO_ENUM[step.to],
      event: step.event,
      at: ts(step.at),
      reason: step.reason ?? '',
      nextRunAt: ts(step.nextRunAt),
      runId: step.runId ?? '',
      worker: step.worker ?? '',
      skippedCount: step.skipped?.count ?? 0,
      skippedWhy: step.skipped?.why ?? '',
    })),
    activeHints: hints.map((hint) => hintMessage(hint, now)),
    archived: row.archivedAt !== null,
  };
}

export function runMessage(run: StoredRun) {
  return {
    id: run.id,
    endpointId: run.endpointId,
    jobId: run.jobId,
    slot: ts(run.slot),
    attempt: run.attempt,
    worker: run.worker,
    status: run.status === 'succeeded' ? RunStatus.SUCCEEDED : RunStatus.FAILED,
    httpStatus: run.httpStatus ?? undefined,
    durationMs: run.durationMs,
    startedAt: ts(run.startedAt),
    finishedAt: ts(run.finishedAt),
    errorKind: run.errorKind ?? '',
    errorMessage: run.errorMessage ?? '',
    responseBody: run.responseBody ?? undefined,
    responseTruncated: run.responseTruncated,
    plannedSource: run.plannedSource ?? '',
    retryAfterMs: run.retryAfterMs === null ? undefined : BigInt(run.retryAfterMs),
    lastAttempt: run.lastAttempt,
  };
}

export function skippedMessage(entry: SkippedEntry) {
  return { at: ts(entry.at), count: entry.count, why: entry.why, reason: entry.reason ?? '' };
}

export function analysisMessage(analysis: Analysis) {
  return {
    id: analysis.id,
    endpointId: analysis.endpointId,
    planner: analysis.planner,
    trigger: analysis.trigger,
    inputs: analysis.inputs === undefined ? undefined : fromJson(ValueSchema, analysis.inputs as JsonValue),
    toolCalls: fromJson(ListValueSchema, (Array.isArray(analysis.toolCalls) ? analysis.toolCalls : []) as JsonValue),
    reasoning: analysis.reasoning ?? '',
    model: analysis.model ?? '',
    tokensIn: analysis.tokensIn ?? undefined,
    tokensOut: analysis.tokensOut ?? undefined,
    durationMs: analysis.durationMs,
    outcome: analysis.outcome,
    outcomeDetail: analysis.outcomeDetail ?? '',
    hintIds: analysis.hintIds,
    createdAt: ts(analysis.createdAt),
  };
}

export function apiKeyMessage(row: ApiKeyRow) {
  return {
    id: row.id,
    name: row.name,
    role: ROLE_TO_ENUM[row.role],
    prefix: row.prefix,
    createdAt: ts(row.createdAt),
    lastUsedAt: ts(row.lastUsedAt),
    revokedAt: ts(row.revokedAt),
  };
}
