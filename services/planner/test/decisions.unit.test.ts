import { describe, expect, it } from 'vitest';
import { endpointInputSchema, toEndpointSpec, type Hint } from '@tickwise/machines';
import type { Decision, EndpointPicture, HintProposal, RecentRun } from '../src/analysis/types.ts';
import { isPlannerHint, PLANNER_SOURCES, summarisePicture, writesFor } from '../src/decisions.ts';

const NOW = new Date('2024-05-01T12:00:00.000Z');
const ENDPOINT_ID = '0190a000-0000-7000-8000-00000000e001';
const ANALYSIS_ID = '0190a000-0000-7000-8000-0000000a0001';
const SPEC = toEndpointSpec(endpointInputSchema.parse({ name: 'e', url: 'http://127.0.0.1:1/x', schedule: { every: '10s' } }));

function run(n: number, status: RecentRun['status'], durationMs: number): RecentRun {
  return {
    runId: `0190a000-0000-7000-8000-${n.toString(16).padStart(12, '0')}`,
    status,
    httpStatus: status === 'succeeded' ? 200 : 503,
    durationMs,
    latenessMs: 0,
    errorKind: status === 'succeeded' ? null : 'http_status',
    retryAfterMs: status === 'succeeded' ? null : 2_000,
    finishedAt: new Date(NOW.getTime() - (10 - n) * 1_000),
    lastAttempt: true,
  };
}

function hint(kind: Hint['kind'], source: string, value: number | Date, id = `hint-${source}-${kind}`): Hint {
  const base = { id, kind, reason: 'earlier', source, createdAt: new Date(NOW.getTime() - 60_000), expiresAt: new Date(NOW.getTime() + 600_000) };
  return typeof value === 'number' ? { ...base, intervalMs: value } : { ...base, at: value };
}

function picture(activeHints: Hint[] = [], recent: RecentRun[] = [run(1, 'succeeded', 30), run(2, 'failed', 10), run(3, 'failed', 20)]): EndpointPicture {
  return {
    endpointId: ENDPOINT_ID,
    jobId: ENDPOINT_ID,
    spec: SPEC,
    baselineIntervalMs: 10_000,
    recent,
    consecutiveFailures: 2,
    consecutiveSuccesses: 0,
    activeHints,
    trigger: 'failure_streak',
    now: NOW,
  };
}

function decision(proposals: HintProposal[], extra: Partial<Decision> = {}): Decision {
  return { planner: 'heuristic', proposals, reasoning: 'because', toolCalls: [], model: null, tokensIn: null, tokensOut: null, fallback: null, ...extra };
}

/** Hint ids handed out in order, so a test can tell which proposal got which. */
function ids() {
  let next = 0;
  return { analysisId: ANALYSIS_ID, newHintId: () => `0190a000-0000-7000-8000-0000000b000${++next}` };
}

const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs);

describe('writesFor: proposals become hint rows', () => {
  it('an interval expires its ttl after now; it replaces the planner hints and is linked to the analysis', () => {
    const { change, analysis } = writesFor(decision([{ kind: 'interval', intervalMs: 40_000, ttlMs: 600_000, reason: 'slow down' }]), picture(), ids(), 12.5);
    expect(change).toEqual({
      endpointId: ENDPOINT_ID,
      add: [
        {
          id: '0190a000-0000-7000-8000-0000000b0001',
          endpointId: ENDPOINT_ID,
          kind: 'interval',
          intervalMs: 40_000,
          reason: 'slow down',
          source: 'planner:heuristic',
          expiresAt: at(600_000),
        },
      ],
      clearSources: ['planner:heuristic', 'planner:llm'],
      analysisId: ANALYSIS_ID,
    });
    expect(analysis).toMatchObject({ id: ANALYSIS_ID, outcome: 'hint', outcomeDetail: null, hintIds: ['0190a000-0000-7000-8000-0000000b0001'], durationMs: 12.5 });
  });

  it('a run_at expires its ttl after the later of its time and now', () => {
    const future = writesFor(decision([{ kind: 'run_at', at: at(5_000), ttlMs: 60_000, reason: 'soon' }]), picture(), ids(), 1);
    expect(future.change?.add[0]).toMatchObject({ kind: 'run_at', at: at(5_000), expiresAt: at(65_000) });
    const past = writesFor(decision([{ kind: 'run_at', at: at(-5_000), ttlMs: 60_000, reason: 'now' }]), picture(), ids(), 1);
    expect(past.change?.add[0]).toMatchObject({ kind: 'run_at', at: at(-5_000), expiresAt: at(60_000) });
  });

  it('a pause ends when it expires', () => {
    const { change } = writesFor(decision([{ kind: 'pause_until', at: at(120_000), reason: 'Retry-After' }]), picture(), ids(), 1);
    expect(change?.add).toEqual([
      { id: '0190a000-0000-7000-8000-0000000b0001', endpointId: ENDPOINT_ID, kind: 'pause_until', at: at(120_000), reason: 'Retry-After', source: 'planner:heuristic', expiresAt: at(120_000) },
    ]);
  });

  it('the LLM planner writes its own source; several proposals get one id each', () => {
    const { change, analysis } = writesFor(
      decision(
        [
          { kind: 'interval', intervalMs: 20_000, ttlMs: 60_000, reason: 'a' },
          { kind: 'run_at', at: at(1_000), ttlMs: 60_000, reason: 'b' },
        ],
        { planner: 'llm', model: 'm-1', tokensIn: 100, tokensOut: 20, toolCalls: [{ name: 'propose_interval', arguments: { interval: '20s' }, accepted: true }] },
      ),
      picture(),
      ids(),
      300,
    );
    expect(change?.add.map((added) => [added.id, added.source])).toEqual([
      ['0190a000-0000-7000-8000-0000000b0001', 'planner:llm'],
      ['0190a000-0000-7000-8000-0000000b0002', 'planner:llm'],
    ]);
    expect(analysis).toMatchObject({
      planner: 'llm',
      model: 'm-1',
      tokensIn: 100,
      tokensOut: 20,
      toolCalls: [{ name: 'propose_interval', arguments: { interval: '20s' }, accepted: true }],
      hintIds: change?.add.map((added) => added.id),
    });
  });
});

describe('writesFor: idempotence', () => {
  it('proposals equal to the planner hints in force change nothing', () => {
    const inForce = [hint('interval', 'planner:heuristic', 40_000), hint('pause_until', 'planner:llm', at(60_000))];
    const proposals: HintProposal[] = [
      { kind: 'pause_until', at: at(60_400), reason: 'again' },
      { kind: 'interval', intervalMs: 40_000, ttlMs: 600_000, reason: 'again' },
    ];
    const { change, analysis } = writesFor(decision(proposals), picture(inForce), ids(), 1);
    expect(change).toBeNull();
    expect(analysis).toMatchObject({ outcome: 'no_change', outcomeDetail: 'the proposed hints are already in force', hintIds: [] });
  });

  it('a matching interval hint with less than half of the proposed ttl left is renewed, not dropped', () => {
    const expiring = (remainingMs: number) => [{ ...hint('interval', 'planner:heuristic', 40_000), expiresAt: at(remainingMs) }];
    const renewal: HintProposal[] = [{ kind: 'interval', intervalMs: 40_000, ttlMs: 600_000, reason: 'renew' }];
    // Exactly half left: still in force.
    expect(writesFor(decision(renewal), picture(expiring(300_000)), ids(), 1)).toMatchObject({
      change: null,
      analysis: { outcome: 'no_change', outcomeDetail: 'the proposed hints are already in force', hintIds: [] },
    });
    for (const remainingMs of [299_999, 1_000, 0, -1_000]) {
      const { change, analysis } = writesFor(decision(renewal), picture(expiring(remainingMs)), ids(), 1);
      expect(change).toEqual({
        endpointId: ENDPOINT_ID,
        add: [{ id: '0190a000-0000-7000-8000-0000000b0001', endpointId: ENDPOINT_ID, kind: 'interval', intervalMs: 40_000, reason: 'renew', source: 'planner:heuristic', expiresAt: at(600_000) }],
        clearSources: ['planner:heuristic', 'planner:llm'],
        analysisId: ANALYSIS_ID,
      });
      expect(analysis).toMatchObject({ outcome: 'hint', outcomeDetail: null, hintIds: ['0190a000-0000-7000-8000-0000000b0001'] });
    }
    // The half is of the proposal's ttl: a shorter proposal finds the same hint still in force.
    const shorter: HintProposal[] = [{ kind: 'interval', intervalMs: 40_000, ttlMs: 120_000, reason: 'renew' }];
    expect(writesFor(decision(shorter), picture(expiring(60_000)), ids(), 1).change).toBeNull();
    // Renewing the interval rewrites the planner's hints together, the pause still in force included.
    const withPause = [...expiring(1_000), hint('pause_until', 'planner:heuristic', at(60_000))];
    const both: HintProposal[] = [...renewal, { kind: 'pause_until', at: at(60_000), reason: 'again' }];
    expect(writesFor(decision(both), picture(withPause), ids(), 1).change?.add.map((added) => added.kind)).toEqual(['interval', 'pause_until']);
  });

  it('a different value, a different count or a different kind replaces them', () => {
    const inForce = [hint('interval', 'planner:heuristic', 40_000)];
    const cases: HintProposal[][] = [
      [{ kind: 'interval', intervalMs: 80_000, ttlMs: 1, reason: 'x' }],
      [{ kind: 'pause_until', at: at(60_000), reason: 'x' }],
      [
        { kind: 'interval', intervalMs: 40_000, ttlMs: 1, reason: 'x' },
        { kind: 'run_at', at: at(1), ttlMs: 1, reason: 'x' },
      ],
    ];
    for (const proposals of cases) expect(writesFor(decision(proposals), picture(inForce), ids(), 1).analysis.outcome).toBe('hint');
    // Two proposals of one kind are not the same as two hints of different kinds.
    const mixed = [hint('interval', 'planner:heuristic', 40_000), hint('run_at', 'planner:heuristic', at(5_000))];
    const twice: HintProposal[] = [
      { kind: 'interval', intervalMs: 40_000, ttlMs: 1, reason: 'x' },
      { kind: 'interval', intervalMs: 40_000, ttlMs: 1, reason: 'y' },
    ];
    expect(writesFor(decision(twice), picture(mixed), ids(), 1).analysis.outcome).toBe('hint');
  });

  it("a person's hint of the same value is not the planner's: the proposal is written", () => {
    const { change, analysis } = writesFor(decision([{ kind: 'interval', intervalMs: 40_000, ttlMs: 60_000, reason: 'x' }]), picture([hint('interval', 'manual:alice', 40_000)]), ids(), 1);
    expect(analysis.outcome).toBe('hint');
    expect(change?.clearSources).toEqual([...PLANNER_SOURCES]);
  });

  it('the same decision on the same picture gives the same writes (ids aside)', () => {
    const proposals: HintProposal[] = [{ kind: 'interval', intervalMs: 40_000, ttlMs: 60_000, reason: 'x' }];
    expect(writesFor(decision(proposals), picture(), ids(), 1)).toEqual(writesFor(decision(proposals), picture(), ids(), 1));
  });
});

describe('writesFor: clear', () => {
  it('clears the planner hints in force', () => {
    const { change, analysis } = writesFor(decision([{ kind: 'clear', reason: 'recovered' }]), picture([hint('interval', 'planner:llm', 40_000), hint('interval', 'manual:bob', 20_000)]), ids(), 1);
    expect(change).toEqual({ endpointId: ENDPOINT_ID, add: [], clearSources: ['planner:heuristic', 'planner:llm'], analysisId: ANALYSIS_ID });
    expect(analysis).toMatchObject({ outcome: 'clear', outcomeDetail: null, hintIds: [] });
  });

  it("changes nothing when only a person's hints are in force, or none", () => {
    for (const active of [[], [hint('interval', 'manual:bob', 20_000)]]) {
      const { change, analysis } = writesFor(decision([{ kind: 'clear', reason: 'recovered' }]), picture(active), ids(), 1);
      expect(change).toBeNull();
      expect(analysis).toMatchObject({ outcome: 'no_change', outcomeDetail: 'no planner hint to clear' });
    }
  });

  it("never reaches a person's hints: every change clears planner sources only, never by id", () => {
    const manual = [hint('interval', 'manual:bob', 20_000), hint('pause_until', 'api', at(60_000))];
    const decisions: HintProposal[][] = [
      [{ kind: 'clear', reason: 'x' }],
      [{ kind: 'interval', intervalMs: 20_000, ttlMs: 1, reason: 'x' }],
      [{ kind: 'pause_until', at: at(60_000), reason: 'x' }],
      [
        { kind: 'clear', reason: 'x' },
        { kind: 'run_at', at: at(1_000), ttlMs: 1, reason: 'x' },
      ],
    ];
    for (const proposals of decisions) {
      const { change } = writesFor(decision(proposals), picture([...manual, hint('interval', 'planner:heuristic', 1_000)]), ids(), 1);
      expect(change).not.toBeNull();
      expect(change?.clearIds).toBeUndefined();
      expect(change?.clearSources?.every((source) => source.startsWith('planner:'))).toBe(true);
      expect(change?.clearSources).not.toContain('manual:bob');
      expect(change?.clearSources).not.toContain('api');
    }
  });

  it('proposals next to a clear win: the planner hints are replaced by them', () => {
    const { change, analysis } = writesFor(
      decision([
        { kind: 'clear', reason: 'x' },
        { kind: 'interval', intervalMs: 20_000, ttlMs: 1_000, reason: 'y' },
      ]),
      picture([hint('interval', 'planner:heuristic', 40_000)]),
      ids(),
      1,
    );
    expect(analysis.outcome).toBe('hint');
    expect(change?.add).toHaveLength(1);
  });
});

describe('writesFor: the analysis row', () => {
  it('records a fallback to the heuristic in outcome_detail, with what else happened', () => {
    const fell = decision([], { fallback: 'timeout after 30s' });
    expect(writesFor(fell, picture(), ids(), 1).analysis).toMatchObject({ outcome: 'no_change', outcomeDetail: 'fallback to the heuristic: timeout after 30s' });
    const inForce = decision([{ kind: 'interval', intervalMs: 40_000, ttlMs: 1, reason: 'x' }], { fallback: 'HTTP 500' });
    expect(writesFor(inForce, picture([hint('interval', 'planner:heuristic', 40_000)]), ids(), 1).analysis.outcomeDetail).toBe(
      'fallback to the heuristic: HTTP 500; the proposed hints are already in force',
    );
    const cleared = decision([{ kind: 'clear', reason: 'x' }], { fallback: 'bad tool call' });
    expect(writesFor(cleared, picture(), ids(), 1).analysis.outcomeDetail).toBe('fallback to the heuristic: bad tool call; no planner hint to clear');
    const hinted = decision([{ kind: 'interval', intervalMs: 40_000, ttlMs: 1, reason: 'x' }], { fallback: 'HTTP 500' });
    expect(writesFor(hinted, picture(), ids(), 1).analysis).toMatchObject({ outcome: 'hint', outcomeDetail: 'fallback to the heuristic: HTTP 500' });
  });

  it('an empty decision changes nothing and says nothing more', () => {
    const { change, analysis } = writesFor(decision([]), picture(), ids(), 1);
    expect(change).toBeNull();
    expect(analysis).toMatchObject({
      endpointId: ENDPOINT_ID,
      planner: 'heuristic',
      trigger: 'failure_streak',
      reasoning: 'because',
      outcome: 'no_change',
      outcomeDetail: null,
      hintIds: [],
    });
  });

  it('stores a bounded summary of the picture', () => {
    const active = [hint('interval', 'manual:bob', 20_000)];
    expect(summarisePicture(picture(active))).toEqual({
      trigger: 'failure_streak',
      baseline_interval_ms: 10_000,
      runs: 3,
      failure_rate: 2 / 3,
      p50_duration_ms: 20,
      consecutive_failures: 2,
      consecutive_successes: 0,
      last_run: { status: 'failed', http_status: 503, error_kind: 'http_status', retry_after_ms: 2_000, finished_at: '2024-05-01T11:59:53.000Z' },
      active_hints: [{ kind: 'interval', interval_ms: 20_000, at: null, source: 'manual:bob', expires_at: '2024-05-01T12:10:00.000Z' }],
    });
    expect(summarisePicture(picture([], []))).toMatchObject({ runs: 0, failure_rate: 0, p50_duration_ms: null, last_run: null, active_hints: [] });
  });
});

describe('isPlannerHint', () => {
  it('is true for the planner sources only', () => {
    expect(isPlannerHint({ source: 'planner:heuristic' })).toBe(true);
    expect(isPlannerHint({ source: 'planner:llm' })).toBe(true);
    expect(isPlannerHint({ source: 'manual:alice' })).toBe(false);
    expect(isPlannerHint({ source: 'planner' })).toBe(false);
  });
});
