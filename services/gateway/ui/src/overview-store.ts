import { create } from '@bufbuild/protobuf';
import { createStore } from '@xstate/store';
import { type EndpointSummary, type MachineChange, type Run, RunPointSchema } from '@tickwise/api';

// The overview's client state: the filters, the rows loaded so far (a page at a time), and what is
// on screen. Every transition is pure; loading pages and talking to the stream are the view's.

/** The sparkline's length: the runs the list asks for, and the most a row keeps as runs finish. */
export const RECENT_RUNS = 20;
/** Pages are loaded until this many rows past the last one on screen are there. */
const READ_AHEAD = 50;

export interface Filter {
  jobId: string;
  /** MachineState numbers, ascending. */
  states: readonly number[];
  nameContains: string;
}

export interface OverviewContext {
  filter: Filter;
  /** Counts filter changes: a page asked for under an older filter is dropped when it comes. */
  generation: number;
  /** Rows in list order; stale ones (an older filter's) stay on screen until the new first page comes. */
  rows: readonly EndpointSummary[];
  /** Each endpoint's place in `rows`: a new map only when rows are added or replaced, not updated. */
  index: ReadonlyMap<string, number>;
  /** The matches the gateway counted; null until it first answers. */
  total: number | null;
  stale: boolean;
  pageToken: string;
  done: boolean;
  error: string | null;
  /** The rows on screen, [first, last] inclusive, as the list reports them. */
  visible: readonly [number, number] | null;
}

export type OverviewEvent =
  | { type: 'jobChosen'; jobId: string }
  | { type: 'stateToggled'; state: number }
  | { type: 'nameChanged'; nameContains: string }
  | { type: 'pageLoaded'; generation: number; summaries: readonly EndpointSummary[]; totalSize: number; nextPageToken: string }
  | { type: 'pageFailed'; generation: number; message: string }
  | { type: 'scrolled'; visible: readonly [number, number] | null }
  | { type: 'machineChanged'; change: MachineChange }
  | { type: 'runFinished'; run: Run };

/** A row changed in place: the view redraws it if on screen, and flashes it when `flash`. */
export type OverviewEmitted = { type: 'rowChanged'; index: number; endpointId: string; flash: boolean };

export const initialOverview = (): OverviewContext => ({
  filter: { jobId: '', states: [], nameContains: '' },
  generation: 0,
  rows: [],
  index: new Map(),
  total: null,
  stale: false,
  pageToken: '',
  done: false,
  error: null,
  visible: null,
});

function withFilter(context: OverviewContext, filter: Filter): OverviewContext {
  if (filter.jobId === context.filter.jobId && filter.nameContains === context.filter.nameContains && filter.states.join() === context.filter.states.join()) return context;
  return { ...context, filter, generation: context.generation + 1, stale: true, pageToken: '', done: false, error: null };
}

function replaceAt<T>(items: readonly T[], at: number, item: T): T[] {
  const copy = items.slice();
  copy[at] = item;
  return copy;
}

function rowOf(context: OverviewContext, endpointId: string): [number, EndpointSummary] | null {
  const at = context.index.get(endpointId);
  const row = at === undefined ? undefined : context.rows[at];
  return at === undefined || !row ? null : [at, row];
}

export function createOverviewStore(context: OverviewContext = initialOverview()) {
  return createStore<OverviewContext, OverviewEvent, OverviewEmitted>({
    context,
    on: {
      jobChosen: (context, { jobId }) => withFilter(context, { ...context.filter, jobId }),
      nameChanged: (context, { nameContains }) => withFilter(context, { ...context.filter, nameContains: nameContains.trim() }),
      stateToggled: (context, { state }) => {
        const states = context.filter.states.includes(state) ? context.filter.states.filter((each) => each !== state) : [...context.filter.states, state].sort((a, b) => a - b);
        return withFilter(context, { ...context.filter, states });
      },
      pageLoaded: (context, event) => {
        if (event.generation !== context.generation || context.done) return context;
        const before = context.stale ? [] : context.rows;
        const rows = [...before, ...event.summaries];
        const index = new Map(context.stale ? [] : context.index);
        event.summaries.forEach((summary, offset) => index.set(summary.endpointId, before.length + offset));
        const done = event.nextPageToken === '';
        return { ...context, rows, index, stale: false, pageToken: event.nextPageToken, done, total: done ? rows.length : Math.max(event.totalSize, rows.length) };
      },
      pageFailed: (context, { generation, message }) => {
        if (generation !== context.generation) return context;
        // A failed first page leaves no rows of the old filter behind, as if nothing matched.
        const cleared = context.stale ? { rows: [], index: new Map<string, number>(), total: 0, stale: false } : {};
        return { ...context, ...cleared, done: true, error: message };
      },
      scrolled: (context, { visible }) => (visible?.[0] === context.visible?.[0] && visible?.[1] === context.visible?.[1] ? context : { ...context, visible }),
      machineChanged: (context, { change }, enqueue) => {
        const found = rowOf(context, change.endpointId);
        if (!found) return context;
        const [at, row] = found;
        const moved = row.state !== change.state || row.version !== change.version;
        const next = { ...row, state: change.state, nextRunAt: change.nextRunAt, reason: change.reason, version: change.version, archived: change.archived, paused: change.paused };
        // What the stream sends first (current) is where the row already was when it loaded: no flash.
        enqueue.emit.rowChanged({ index: at, endpointId: change.endpointId, flash: moved && !change.current });
        return { ...context, rows: replaceAt(context.rows, at, next) };
      },
      runFinished: (context, { run }, enqueue) => {
        const found = rowOf(context, run.endpointId);
        if (!found || found[1].recent.some((point) => point.runId === run.id)) return context;
        const [at, row] = found;
        const point = create(RunPointSchema, { runId: run.id, status: run.status, durationMs: run.durationMs, httpStatus: run.httpStatus, finishedAt: run.finishedAt });
        const next = { ...row, lastRun: run, recent: [...row.recent, point].slice(-RECENT_RUNS) };
        enqueue.emit.rowChanged({ index: at, endpointId: run.endpointId, flash: true });
        return { ...context, rows: replaceAt(context.rows, at, next) };
      },
    },
  });
}

export type OverviewStore = ReturnType<typeof createOverviewStore>;

/** Whether rows up to `through` (and a screenful past it) are still to be loaded. */
export const wantsPage = (context: OverviewContext, through: number): boolean => !context.done && (context.stale || context.rows.length <= through + READ_AHEAD);

/** The endpoints on screen: what the stream watches (none: it closes). */
export function watchedIds(context: OverviewContext): string[] {
  const ids: string[] = [];
  const [first, last] = context.visible ?? [0, -1];
  for (let at = first; at <= last; at++) {
    const id = context.rows[at]?.endpointId;
    if (id) ids.push(id);
  }
  return ids;
}

export const sameIds = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((id, at) => id === b[at]);

export const countText = (total: number | null): string => (total === null ? '' : `${total.toLocaleString('en')} endpoint${total === 1 ? '' : 's'}`);
