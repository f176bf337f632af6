import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { EndpointSchema, EndpointSummarySchema, MachineChangeSchema, MachineSchema, MachineState, RunPointSchema, RunSchema, RunStatus, TransitionSchema } from '@tickwise/api';
import { createEndpointStore, RUNS, TRANSITIONS, type EndpointEmitted, type EndpointStore } from '../ui/src/endpoint-store.ts';
import { countText, createOverviewStore, RECENT_RUNS, wantsPage, watchedIds, type OverviewStore } from '../ui/src/overview-store.ts';
import { bannerOf, createStreamStore } from '../ui/src/stream-store.ts';

const summary = (index: number, fields: MessageInitShape<typeof EndpointSummarySchema> = {}) =>
  create(EndpointSummarySchema, { endpointId: `id-${index}`, name: `e-${index}`, state: MachineState.IDLE, version: 1, reason: 'baseline', ...fields });
const summaries = (from: number, count: number) => Array.from({ length: count }, (_, offset) => summary(from + offset));
const change = (index: number, fields: MessageInitShape<typeof MachineChangeSchema> = {}) => create(MachineChangeSchema, { endpointId: `id-${index}`, state: MachineState.DUE, version: 2, reason: 'slot reached', ...fields });
const finished = (index: number, id: string, status = RunStatus.SUCCEEDED) => create(RunSchema, { id, endpointId: `id-${index}`, status, durationMs: 12, httpStatus: 200 });

/** A store with `count` rows loaded in one page (more to come when `more`). */
function loaded(count: number, more = false): OverviewStore {
  const store = createOverviewStore();
  store.trigger.pageLoaded({ generation: 0, summaries: summaries(0, count), totalSize: more ? count * 2 : count, nextPageToken: more ? 'next' : '' });
  return store;
}
const context = (store: OverviewStore) => store.getSnapshot().context;
const names = (store: OverviewStore) => context(store).rows.map((row) => row.name);

describe('the overview store', () => {
  it('loads pages in order until the rows past the screen are there, and counts what the gateway counted', () => {
    const store = createOverviewStore();
    expect(countText(context(store).total)).toBe('');
    expect(wantsPage(context(store), 0)).toBe(true);
    store.trigger.pageLoaded({ generation: 0, summaries: summaries(0, 500), totalSize: 1_200, nextPageToken: 'p2' });
    expect(countText(context(store).total)).toBe('1,200 endpoints');
    expect(wantsPage(context(store), 20)).toBe(false);
    expect(wantsPage(context(store), 460)).toBe(true);
    store.trigger.pageLoaded({ generation: 0, summaries: summaries(500, 200), totalSize: 1_200, nextPageToken: '' });
    // The last page settles the count on the rows there are.
    expect(countText(context(store).total)).toBe('700 endpoints');
    expect(context(store).index.get('id-650')).toBe(650);
    expect(wantsPage(context(store), 699)).toBe(false);
  });

  it('says "0 endpoints" when nothing matches, and "1 endpoint" for one', () => {
    expect(countText(context(loaded(0)).total)).toBe('0 endpoints');
    expect(countText(context(loaded(1)).total)).toBe('1 endpoint');
  });

  it('updates a row from a Watch event even when the row is not on screen, and flashes only real moves', () => {
    const store = loaded(10);
    store.trigger.scrolled({ visible: [0, 2] });
    const told: { index: number; flash: boolean }[] = [];
    store.on('rowChanged', ({ index, flash }) => told.push({ index, flash }));
    store.trigger.machineChanged({ change: change(7, { reason: 'slot reached', paused: false }) });
    expect(context(store).rows[7]).toMatchObject({ state: MachineState.DUE, version: 2, reason: 'slot reached' });
    // What the stream reports on (re)connecting is where the row already is: redrawn, not flashed.
    store.trigger.machineChanged({ change: change(8, { state: MachineState.IDLE, version: 1, current: true }) });
    store.trigger.machineChanged({ change: change(9, { state: MachineState.RUNNING, version: 5, current: true }) });
    expect(told).toEqual([
      { index: 7, flash: true },
      { index: 8, flash: false },
      { index: 9, flash: false },
    ]);
    // An endpoint not loaded (or of another tenant's list) changes nothing.
    const before = context(store);
    store.trigger.machineChanged({ change: change(99) });
    expect(context(store)).toBe(before);
    expect(told).toHaveLength(3);
  });

  it('adds a finished run to its row once, keeping the last 20 for the sparkline', () => {
    const store = createOverviewStore();
    const recent = Array.from({ length: RECENT_RUNS }, (_, at) => create(RunPointSchema, { runId: `old-${at}`, status: RunStatus.SUCCEEDED, durationMs: 5 }));
    store.trigger.pageLoaded({ generation: 0, summaries: [summary(0, { recent })], totalSize: 1, nextPageToken: '' });
    let flashes = 0;
    store.on('rowChanged', ({ flash }) => (flashes += flash ? 1 : 0));
    store.trigger.runFinished({ run: finished(0, 'new', RunStatus.FAILED) });
    store.trigger.runFinished({ run: finished(0, 'new', RunStatus.FAILED) });
    const row = context(store).rows[0]!;
    expect(row.lastRun?.id).toBe('new');
    expect(row.recent).toHaveLength(RECENT_RUNS);
    expect(row.recent.at(-1)).toMatchObject({ runId: 'new', status: RunStatus.FAILED, durationMs: 12, httpStatus: 200 });
    expect(row.recent[0]!.runId).toBe('old-1');
    expect(flashes).toBe(1);
  });

  it('starts over on a filter change: old rows stay until the first new page replaces them, late old pages are dropped', () => {
    const store = loaded(500, true);
    store.trigger.stateToggled({ state: MachineState.PAUSED });
    store.trigger.stateToggled({ state: MachineState.DUE });
    expect(context(store).filter.states).toEqual([MachineState.DUE, MachineState.PAUSED]);
    const { generation } = context(store);
    expect(generation).toBe(2);
    expect(names(store)).toHaveLength(500);
    expect(wantsPage(context(store), 0)).toBe(true);
    // The second page of the old filter comes back after the change: it is not this list's.
    store.trigger.pageLoaded({ generation: 0, summaries: summaries(500, 500), totalSize: 1_000, nextPageToken: '' });
    expect(names(store)).toHaveLength(500);
    store.trigger.pageLoaded({ generation, summaries: [summary(42, { state: MachineState.DUE })], totalSize: 1, nextPageToken: '' });
    expect(names(store)).toEqual(['e-42']);
    expect(countText(context(store).total)).toBe('1 endpoint');
    expect(context(store).index.get('id-0')).toBeUndefined();
    // Each toggle is a new list, even one that comes back to an earlier filter.
    store.trigger.stateToggled({ state: MachineState.DUE });
    store.trigger.stateToggled({ state: MachineState.DUE });
    expect(context(store).generation).toBe(4);
  });

  it('takes the job and the (trimmed) name as filters, and an unchanged filter reloads nothing', () => {
    const store = loaded(3);
    store.trigger.nameChanged({ nameContains: '  fla ' });
    store.trigger.jobChosen({ jobId: 'job-1' });
    expect(context(store).filter).toEqual({ jobId: 'job-1', states: [], nameContains: 'fla' });
    expect(context(store).generation).toBe(2);
    store.trigger.nameChanged({ nameContains: 'fla' });
    store.trigger.jobChosen({ jobId: 'job-1' });
    expect(context(store).generation).toBe(2);
  });

  it('shows a failed page as an error and stops loading; a new filter clears it', () => {
    const store = loaded(500, true);
    store.trigger.pageFailed({ generation: 0, message: 'unavailable: the gateway is down' });
    expect(context(store)).toMatchObject({ error: 'unavailable: the gateway is down', done: true });
    expect(wantsPage(context(store), 499)).toBe(false);
    store.trigger.nameChanged({ nameContains: 'x' });
    expect(context(store).error).toBeNull();
    // A failed first page leaves none of the old filter's rows.
    store.trigger.pageFailed({ generation: context(store).generation, message: 'deadline exceeded' });
    expect(context(store)).toMatchObject({ rows: [], total: 0, error: 'deadline exceeded' });
  });

  it('watches exactly the rows on screen', () => {
    const store = loaded(100);
    expect(watchedIds(context(store))).toEqual([]);
    store.trigger.scrolled({ visible: [10, 13] });
    expect(watchedIds(context(store))).toEqual(['id-10', 'id-11', 'id-12', 'id-13']);
    // Rows on screen not loaded yet are not watched.
    store.trigger.scrolled({ visible: [98, 104] });
    expect(watchedIds(context(store))).toEqual(['id-98', 'id-99']);
    store.trigger.scrolled({ visible: null });
    expect(watchedIds(context(store))).toEqual([]);
  });
});

describe('the stream status store', () => {
  const banner = (store: ReturnType<typeof createStreamStore>) => bannerOf(store.getSnapshot().context);

  it('shows nothing while live, counts down to the next try when disconnected, and clears once back', () => {
    const store = createStreamStore(0);
    store.trigger.statusChanged({ status: { kind: 'connecting', attempt: 0 }, now: 0 });
    expect(banner(store)).toEqual({ kind: 'hidden' });
    store.trigger.statusChanged({ status: { kind: 'live' }, skewMs: 250, now: 100 });
    expect(banner(store)).toEqual({ kind: 'hidden' });

    store.trigger.statusChanged({ status: { kind: 'retrying', at: 4_000, attempt: 1, error: 'the gateway ended the stream' }, now: 1_000 });
    expect(banner(store)).toEqual({ kind: 'countdown', seconds: 3, error: 'the gateway ended the stream' });
    store.trigger.ticked({ now: 2_000 });
    expect(banner(store)).toMatchObject({ seconds: 2 });
    store.trigger.ticked({ now: 3_500 });
    expect(banner(store)).toMatchObject({ seconds: 1 });
    store.trigger.ticked({ now: 9_000 });
    expect(banner(store)).toMatchObject({ seconds: 0 });

    store.trigger.statusChanged({ status: { kind: 'connecting', attempt: 1 }, now: 9_000 });
    expect(banner(store)).toEqual({ kind: 'reconnecting' });
    store.trigger.statusChanged({ status: { kind: 'live' }, skewMs: -40, now: 9_200 });
    expect(banner(store)).toEqual({ kind: 'hidden' });
    expect(store.getSnapshot().context.skewMs).toBe(-40);
  });

  it('keeps the gateway clock skew when a status comes without one', () => {
    const store = createStreamStore(0);
    store.trigger.statusChanged({ status: { kind: 'live' }, skewMs: 1_500, now: 0 });
    store.trigger.statusChanged({ status: { kind: 'idle' }, now: 10 });
    expect(store.getSnapshot().context).toMatchObject({ status: { kind: 'idle' }, skewMs: 1_500 });
  });

  it('tells a subscriber to the banner only when what it says changes', () => {
    const store = createStreamStore(0);
    const seen: string[] = [];
    store.select(bannerOf, (a, b) => JSON.stringify(a) === JSON.stringify(b)).subscribe((shown) => seen.push(shown.kind === 'countdown' ? `${shown.seconds}s` : shown.kind));
    store.trigger.ticked({ now: 1_000 });
    store.trigger.statusChanged({ status: { kind: 'retrying', at: 3_000, attempt: 1, error: 'down' }, now: 1_000 });
    store.trigger.ticked({ now: 1_200 });
    store.trigger.ticked({ now: 2_100 });
    store.trigger.statusChanged({ status: { kind: 'live' }, now: 3_000 });
    expect(seen).toEqual(['2s', '1s', 'hidden']);
  });
});

describe('the endpoint page store', () => {
  const ID = 'id-1';
  const step = (seq: number, from: MachineState, to: MachineState, event: string) => create(TransitionSchema, { seq: BigInt(seq), from, to, event });
  const machine = (version: number, state: MachineState, transitions: ReturnType<typeof step>[], fields: MessageInitShape<typeof MachineSchema> = {}) =>
    create(MachineSchema, { endpointId: ID, version, state, transitions, reason: 'baseline', ...fields });
  const run = (id: string, endpointId = ID) => create(RunSchema, { id, endpointId, status: RunStatus.SUCCEEDED });
  /** The store, and everything it has told the view so far. */
  function opened(): { store: EndpointStore; told: EndpointEmitted[] } {
    const store = createEndpointStore(ID);
    const told: EndpointEmitted[] = [];
    store.on('*', (event) => told.push(event));
    return { store, told };
  }
  const { IDLE, DUE, RUNNING, PLANNING, PAUSED } = MachineState;

  it('places the chart on the first read, then plays the steps each later read adds, in order', () => {
    const { store, told } = opened();
    store.trigger.machineRead({ machine: machine(3, IDLE, [step(1, 0, PLANNING, 'CREATE'), step(2, PLANNING, IDLE, 'PLANNED')]) });
    store.trigger.machineRead({ machine: machine(5, IDLE, [step(1, 0, PLANNING, 'CREATE'), step(2, PLANNING, IDLE, 'PLANNED'), step(3, IDLE, DUE, 'CLAIM'), step(4, DUE, RUNNING, 'DISPATCH'), step(5, RUNNING, IDLE, 'FINISH')]) });
    expect(told).toEqual([
      { type: 'chartPlaced', state: 'idle' },
      {
        type: 'chartMoved',
        steps: [
          { from: 'idle', to: 'due', event: 'CLAIM' },
          { from: 'due', to: 'running', event: 'DISPATCH' },
          { from: 'running', to: 'idle', event: 'FINISH' },
        ],
      },
    ]);
    expect(store.getSnapshot().context.chart).toEqual({ state: 'idle', seq: 5n });
  });

  it('plays a move the history does not record as one edge, and nothing when nothing moved', () => {
    const { store, told } = opened();
    const history = [step(1, IDLE, DUE, 'CLAIM')];
    store.trigger.machineRead({ machine: machine(2, DUE, history) });
    store.trigger.machineRead({ machine: machine(2, RUNNING, history) });
    store.trigger.machineRead({ machine: machine(2, RUNNING, history) });
    expect(told.slice(1)).toEqual([{ type: 'chartMoved', steps: [{ from: 'due', to: 'running', event: '' }] }]);
  });

  it('lays the stream’s change over the machine at once, and asks for a read to fill in the steps', () => {
    const { store, told } = opened();
    store.trigger.machineRead({ machine: machine(4, IDLE, [], { leaseOwner: '' }) });
    told.length = 0;
    store.trigger.machineChanged({ change: change(1, { state: DUE, version: 5, reason: 'slot reached' }) });
    expect(store.getSnapshot().context.machine).toMatchObject({ state: DUE, version: 5, reason: 'slot reached' });
    expect(told.map((event) => event.type)).toEqual(['machineStale', 'sideStale']);
    // A read that left before that change answers with the older machine: it is not taken.
    store.trigger.machineRead({ machine: machine(4, IDLE, []) });
    expect(store.getSnapshot().context.machine?.version).toBe(5);
    // The stream's first report after (re)connecting, already known: no read, hints may still have moved.
    told.length = 0;
    store.trigger.machineChanged({ change: change(1, { state: DUE, version: 5, current: true }) });
    expect(told.map((event) => event.type)).toEqual(['sideStale']);
    // Another endpoint's change is not this page's.
    told.length = 0;
    store.trigger.machineChanged({ change: change(2, { version: 9 }) });
    expect(told).toEqual([]);
    expect(store.getSnapshot().context.machine?.version).toBe(5);
  });

  it('asks for a read when the stream reports before the first read came', () => {
    const { store, told } = opened();
    store.trigger.machineChanged({ change: change(1, { state: PAUSED, version: 2, current: true }) });
    expect(told.map((event) => event.type)).toEqual(['machineStale', 'sideStale']);
    expect(store.getSnapshot().context.machine).toBeUndefined();
  });

  it('keeps the newest 50 runs, newest first, each once, and the stream’s runs ahead of those read', () => {
    const { store, told } = opened();
    store.trigger.runFinished({ run: run('streamed') });
    store.trigger.endpointLoaded({ endpoint: create(EndpointSchema, { id: ID, name: 'health' }), jobName: 'demo', runs: Array.from({ length: RUNS }, (_, at) => run(`read-${at}`)) });
    let runs = store.getSnapshot().context.runs.map((each) => each.id);
    expect(runs).toHaveLength(RUNS);
    expect(runs.slice(0, 2)).toEqual(['streamed', 'read-0']);
    store.trigger.runFinished({ run: run('new') });
    store.trigger.runFinished({ run: run('new') });
    store.trigger.runFinished({ run: run('elsewhere', 'id-2') });
    runs = store.getSnapshot().context.runs.map((each) => each.id);
    expect(runs).toHaveLength(RUNS);
    expect(runs.slice(0, 3)).toEqual(['new', 'streamed', 'read-0']);
    expect(runs).not.toContain('read-48');
    expect(told.filter((event) => event.type === 'runAdded')).toEqual([
      { type: 'runAdded', runId: 'streamed' },
      { type: 'runAdded', runId: 'new' },
    ]);
  });

  it('keeps the newest 40 steps for the timeline, each once, across reads', () => {
    const { store } = opened();
    const steps = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, at) => step(from + at, IDLE, DUE, `S${from + at}`));
    store.trigger.machineRead({ machine: machine(30, IDLE, steps(1, 30)) });
    store.trigger.machineRead({ machine: machine(50, IDLE, steps(11, 50)) });
    const seqs = store.getSnapshot().context.transitions.map((each) => Number(each.seq));
    expect(seqs).toHaveLength(TRANSITIONS);
    expect(seqs[0]).toBe(11);
    expect(seqs.at(-1)).toBe(50);
    expect(new Set(seqs).size).toBe(TRANSITIONS);
  });

  it('keeps the last error to show', () => {
    const { store } = opened();
    store.trigger.failed({ message: 'not found: endpoint' });
    expect(store.getSnapshot().context.error).toBe('not found: endpoint');
  });
});
