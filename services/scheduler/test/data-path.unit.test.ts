import { describe, expect, it } from 'vitest';
import type { EndpointRow } from '@tickwise/db';
import { createEndpointSnapshot, endpointInputSchema, persistSnapshot, settlePlanning, step, toEndpointSpec, type EndpointSnapshot, type MachineState } from '@tickwise/machines';
import { admit, idempotencyKey, requestFor, runRecord, type CallOutcome, type HeldRow } from '@tickwise/scheduler';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const SLOT = new Date('2026-03-01T12:00:00.200Z');
const ENDPOINT = '01900000-0000-7000-8000-00000000000a';
const TENANT = '01900000-0000-7000-8000-0000000000aa';

/** A machine that has run before, planned to run at SLOT, as the database keeps it. */
function planned(): EndpointSnapshot {
  const spec = toEndpointSpec(endpointInputSchema.parse({ name: 'x', url: 'https://example.com/hook', schedule: { every: '1m' } }));
  const created = createEndpointSnapshot(NOW).snapshot;
  const { snapshot } = settlePlanning(created, { spec, now: new Date(SLOT.getTime() - 60_000), hints: [], random: () => 0 });
  return { ...snapshot, context: { ...snapshot.context, nextRunAt: SLOT.toISOString(), fresh: false } } as EndpointSnapshot;
}

/** A row as the claim statement returns it: already due (or as `state` says), the slot fixed. */
function row(overrides: Partial<HeldRow> & { state?: MachineState } = {}): HeldRow {
  const snapshot = planned();
  const state = overrides.state ?? 'due';
  return {
    id: ENDPOINT,
    tenantId: TENANT,
    jobId: '01900000-0000-7000-8000-0000000000bb',
    name: 'hook',
    spec: toEndpointSpec(endpointInputSchema.parse({ name: 'hook', url: 'https://example.com/hook', method: 'POST', headers: { 'x-team': 'ops' }, body: { n: 1 }, schedule: { every: '1m' }, catchUp: 'skip' })),
    bucket: 3,
    state,
    snapshot: { ...persistSnapshot(snapshot), value: state },
    nextRunAt: SLOT,
    reason: 'baseline every 1m',
    claimedSlot: SLOT,
    attempt: 1,
    leaseOwner: 'node-a',
    leaseExpiresAt: new Date(NOW.getTime() + 30_000),
    pausedReason: null,
    pausedUntil: null,
    version: 4,
    hintVersion: 0,
    plannedHintVersion: 0,
    archivedAt: null,
    ...overrides,
  } as HeldRow;
}

describe('admit: what a node does with a machine it now holds', () => {
  it('dispatches a claimed slot at the slot, the machine due, the claim replayed on the machine', () => {
    const admission = admit(row(), 'claimed', NOW, { catchUpGraceMs: 10_000 });
    expect(admission).toMatchObject({ kind: 'dispatch', slot: SLOT });
    expect(admission.snapshot.value).toBe('due');
    expect(admission.snapshot.context).toMatchObject({ slot: SLOT.toISOString(), attempt: 1 });
    expect(admission.transitions.map((t) => `${t.from}→${t.to} ${t.event}`)).toEqual(['idle→due CLAIM']);
  });

  it('skips a claimed slot a person paused meanwhile, and one missed past the grace under catchUp: skip', () => {
    const paused = admit(row({ pausedReason: 'maintenance', pausedUntil: null }), 'claimed', NOW, { catchUpGraceMs: 10_000 });
    expect(paused).toMatchObject({ kind: 'plan', skipped: 'paused' });
    expect(paused.snapshot.value).toBe('planning');
    expect(paused.transitions.map((t) => t.event)).toEqual(['CLAIM', 'SKIP']);
    expect(paused.transitions[1]).toMatchObject({ skipped: { count: 1, why: 'paused' }, reason: `slot ${SLOT.toISOString()} skipped: paused by a person` });
    const late = new Date(SLOT.getTime() + 10_001);
    expect(admit(row(), 'claimed', late, { catchUpGraceMs: 10_000 })).toMatchObject({ kind: 'plan', skipped: 'catch_up' });
    // The first slot of a new (or resumed, or restored) endpoint is never missed: it runs however late.
    expect(admit(row({ snapshot: { ...persistSnapshot(planned()), value: 'due', context: { ...planned().context, fresh: true } } }), 'claimed', late, { catchUpGraceMs: 10_000 })).toMatchObject({ kind: 'dispatch', slot: SLOT, at: SLOT });
    expect(admit(row(), 'claimed', new Date(SLOT.getTime() + 10_000), { catchUpGraceMs: 10_000 })).toMatchObject({ kind: 'dispatch' });
    // A pause that already ended is no pause.
    expect(admit(row({ pausedReason: 'an hour', pausedUntil: NOW }), 'claimed', NOW, { catchUpGraceMs: 10_000 })).toMatchObject({ kind: 'dispatch' });
  });

  it('runs a slot late under catchUp: once, however late', () => {
    const once = row();
    once.spec = { ...once.spec, catchUp: 'once' };
    expect(admit(once, 'claimed', new Date(SLOT.getTime() + 3_600_000), { catchUpGraceMs: 10_000 })).toMatchObject({ kind: 'dispatch', slot: SLOT });
  });

  it('runs a taken-over slot again with the attempt from the row, naming the node whose lease expired', () => {
    const admission = admit(row({ attempt: 2, previousOwner: 'node-b' }), 'takeover', NOW, { catchUpGraceMs: 10_000 });
    expect(admission).toMatchObject({ kind: 'dispatch', slot: SLOT });
    expect(admission.snapshot.context.attempt).toBe(2);
    expect(admission.transitions).toEqual([expect.objectContaining({ event: 'TAKE_OVER', reason: 'lease of node-b expired; attempt 2' })]);
  });

  it('plans a claimed pause (RESUME) as of its end, and refuses a move the machine does not allow', () => {
    const pausedMachine = step(planned(), { type: 'REPLAN', reason: 'x' }, NOW).snapshot;
    const stored = { ...persistSnapshot(step(pausedMachine, { type: 'PAUSED', until: NOW.toISOString(), reason: 'p', source: 'user' }, NOW).snapshot) };
    const resumed = admit(row({ state: 'paused', snapshot: stored, nextRunAt: new Date(NOW.getTime() - 1_000) }), 'claimed', NOW, { catchUpGraceMs: 10_000 });
    expect(resumed).toMatchObject({ kind: 'plan', skipped: null, at: NOW });
    expect(resumed.transitions.map((t) => t.event)).toEqual(['RESUME']);
    // Claimed within the claim-ahead before the pause ends: planned as of its end, when it no longer holds.
    const ends = new Date(NOW.getTime() + 150);
    expect(admit(row({ state: 'paused', snapshot: stored, nextRunAt: ends }), 'claimed', NOW, { catchUpGraceMs: 10_000 })).toMatchObject({ kind: 'plan', at: ends });
    expect(() => admit(row({ state: 'idle', snapshot: { ...persistSnapshot(planned()), value: 'planning' } }), 'takeover', NOW, { catchUpGraceMs: 10_000 })).toThrow(
      expect.objectContaining({ code: 'failed_precondition', reason: 'illegal_transition' }),
    );
  });
});

describe('requestFor: the HTTP call of a run', () => {
  it('is the endpoint’s request plus the headers Tickwise sets, signed as the endpoint or else its tenant', () => {
    const request = requestFor(row(), SLOT, 'run-1', 1);
    const key = `${ENDPOINT}:${SLOT.getTime()}`;
    expect(idempotencyKey(ENDPOINT, SLOT)).toBe(key);
    expect(request).toEqual({
      url: 'https://example.com/hook',
      method: 'POST',
      body: { n: 1 },
      timeoutMs: 10_000,
      headers: { 'x-team': 'ops', 'x-tickwise-endpoint': ENDPOINT, 'x-tickwise-run': 'run-1', 'x-tickwise-scheduled-at': SLOT.toISOString(), 'x-tickwise-attempt': '1', 'idempotency-key': key },
      sign: { endpointId: ENDPOINT, tenantId: TENANT, webhookId: key },
      tenantId: TENANT,
    });
  });

  it('keeps the same Idempotency-Key and webhook id for every attempt at a slot, and a new one per slot', () => {
    const first = requestFor(row(), SLOT, 'run-1', 1);
    const again = requestFor(row({ attempt: 2 }), SLOT, 'run-2', 2);
    const next = requestFor(row(), new Date(SLOT.getTime() + 60_000), 'run-3', 1);
    expect(again.headers['x-tickwise-attempt']).toBe('2');
    expect(again.headers['idempotency-key']).toBe(first.headers['idempotency-key']);
    expect(again.sign?.webhookId).toBe(first.sign?.webhookId);
    expect(next.headers['idempotency-key']).not.toBe(first.headers['idempotency-key']);
  });
});

describe('runRecord: what a call is recorded as', () => {
  it('is the call as made plus its outcome, field for field', () => {
    const outcome: CallOutcome = { status: 'failed', httpStatus: 503, durationMs: 12.5, errorKind: 'http_status', errorMessage: 'HTTP 503', responseBody: 'busy', responseTruncated: false, retryAfterMs: 5_000 };
    const startedAt = new Date(SLOT.getTime() + 3);
    const finishedAt = new Date(SLOT.getTime() + 16);
    const target: Pick<EndpointRow, 'id' | 'jobId'> = { id: ENDPOINT, jobId: 'job-1' };
    expect(runRecord(target, { runId: 'run-1', slot: SLOT, attempt: 2, lastAttempt: false, worker: 'node-a', startedAt, finishedAt, plannedSource: 'baseline' }, outcome)).toEqual({
      id: 'run-1',
      endpointId: ENDPOINT,
      jobId: 'job-1',
      slot: SLOT,
      attempt: 2,
      lastAttempt: false,
      worker: 'node-a',
      startedAt,
      finishedAt,
      plannedSource: 'baseline',
      ...outcome,
    });
  });
});
