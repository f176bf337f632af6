import { createStore } from '@xstate/store';
import type { Analysis, Endpoint, Hint, Machine, MachineChange, Notification, NotifyTarget, PreviewScheduleResponse, Run, Transition } from '@tickwise/api';
import { stateName } from './format.ts';
import type { ChartStep } from './statechart.ts';

// One endpoint page's client state: the endpoint, its live machine, what the statechart shows, the
// timeline, hints and analyses. Transitions are pure; reading the API is the view's, asked for
// through the events this store emits.

/** The machine steps a read asks for, and the most the timeline keeps. */
export const TRANSITIONS = 40;
/** The runs the page reads first, and the most the timeline keeps as more finish. */
export const RUNS = 50;
/** The baseline runs the schedule preview shows. */
export const PREVIEW_RUNS = 10;

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** The preview's start as typed: '' is now; an RFC 3339 time with its offset; else why not. Pure. */
export function previewFromOf(text: string): { from: Date | null } | { error: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { from: null };
  const at = RFC3339.test(trimmed) ? new Date(trimmed.replace(' ', 'T')) : null;
  return at && !Number.isNaN(at.getTime()) ? { from: at } : { error: `"${trimmed}" is not an RFC 3339 time with its offset, such as 2026-03-29T00:00:00Z` };
}

export interface EndpointContext {
  endpointId: string;
  endpoint: Endpoint | undefined;
  jobName: string;
  /** The machine as last read, with the stream's newer state, version, next run and reason laid over it. */
  machine: Machine | undefined;
  /** What the statechart shows: a state, and the newest history step it has played. */
  chart: { state: string; seq: bigint } | null;
  /** The machine's steps, oldest first. */
  transitions: readonly Transition[];
  /** Runs, newest first. */
  runs: readonly Run[];
  hints: readonly Hint[];
  analyses: readonly Analysis[];
  /** The job's notify targets, and what they were told of this endpoint, newest first. */
  notify: readonly NotifyTarget[];
  notifications: readonly Notification[];
  error: string | null;
  /** The schedule preview: its baseline runs from `previewFrom` (null: now), or why it failed. */
  preview: PreviewScheduleResponse | undefined;
  previewFrom: Date | null;
  previewError: string | null;
}

export type EndpointEvent =
  | { type: 'endpointLoaded'; endpoint: Endpoint | undefined; jobName: string; runs: readonly Run[]; notify?: readonly NotifyTarget[] }
  | { type: 'machineRead'; machine: Machine }
  | { type: 'machineChanged'; change: MachineChange }
  | { type: 'runFinished'; run: Run }
  | { type: 'sideLoaded'; hints: readonly Hint[]; analyses: readonly Analysis[] }
  | { type: 'notificationsLoaded'; notifications: readonly Notification[] }
  | { type: 'failed'; message: string }
  | { type: 'previewFromTyped'; text: string }
  | { type: 'previewLoaded'; preview: PreviewScheduleResponse; from: Date | null }
  | { type: 'previewFailed'; message: string };

export type EndpointEmitted =
  | { type: 'chartPlaced'; state: string }
  | { type: 'chartMoved'; steps: ChartStep[] }
  /** The machine must be read again (its history fills in the steps the stream skipped). */
  | { type: 'machineStale' }
  /** Hints or analyses may have changed with the machine. */
  | { type: 'sideStale' }
  | { type: 'runAdded'; runId: string }
  /** The preview must be read (again): its start changed, or its first run has passed. */
  | { type: 'previewStale' };

export const initialEndpoint = (endpointId: string): EndpointContext => ({
  endpointId,
  endpoint: undefined,
  jobName: '',
  machine: undefined,
  chart: null,
  transitions: [],
  runs: [],
  hints: [],
  analyses: [],
  notify: [],
  notifications: [],
  error: null,
  preview: undefined,
  previewFrom: null,
  previewError: null,
});

const chartStep = (step: Transition): ChartStep => ({ from: step.from ? stateName(step.from) : null, to: stateName(step.to), event: step.event });

/** Steps kept so far and a read's (its newest, in order), without repeats, the newest TRANSITIONS. */
function mergeSteps(kept: readonly Transition[], read: readonly Transition[]): readonly Transition[] {
  const first = read[0]?.seq;
  if (first === undefined) return kept;
  return [...kept.filter((step) => step.seq < first), ...read].slice(-TRANSITIONS);
}

const sameTime = (a: Date | null, b: Date | null) => (a?.getTime() ?? null) === (b?.getTime() ?? null);

/** A preview from now whose first run has passed shows the past: read it again. Pure. */
export function previewOutdated(context: EndpointContext, now: number): boolean {
  const first = context.preview?.runs[0]?.at;
  return context.previewFrom === null && first !== undefined && Number(first.seconds) * 1_000 <= now;
}

export function createEndpointStore(endpointId: string) {
  return createStore<EndpointContext, EndpointEvent, EndpointEmitted>({
    context: initialEndpoint(endpointId),
    on: {
      endpointLoaded: (context, { endpoint, jobName, runs, notify }) => {
        // Runs the stream brought while the page was loading are newer than the ones read.
        const read = new Set(runs.map((run) => run.id));
        return { ...context, endpoint, jobName, notify: notify ?? context.notify, runs: [...context.runs.filter((run) => !read.has(run.id)), ...runs].slice(0, RUNS) };
      },
      machineRead: (context, { machine }, enqueue) => {
        // A read sent before the stream's latest change may answer with an older machine; the read
        // that change asked for follows, and brings the same steps.
        if (context.machine && machine.version < context.machine.version) return context;
        const state = stateName(machine.state);
        const transitions = mergeSteps(context.transitions, machine.transitions);
        const seq = transitions.at(-1)?.seq ?? -1n;
        if (!context.chart) enqueue.emit.chartPlaced({ state });
        else {
          const played = context.chart.seq;
          const steps = machine.transitions.filter((step) => step.seq > played).map(chartStep);
          if (steps.length > 0) enqueue.emit.chartMoved({ steps });
          // A move the history does not record (due → running is written without a history row).
          else if (context.chart.state !== state) enqueue.emit.chartMoved({ steps: [{ from: context.chart.state, to: state, event: '' }] });
        }
        return { ...context, machine, transitions, chart: { state, seq } };
      },
      machineChanged: (context, { change }, enqueue) => {
        if (change.endpointId !== context.endpointId) return context;
        const { machine } = context;
        // The first report of a (re)connected stream says where the machine is: read only if that is news.
        if (!change.current || !machine || machine.version !== change.version) enqueue.emit.machineStale();
        enqueue.emit.sideStale();
        if (!machine || change.version < machine.version) return context;
        return { ...context, machine: { ...machine, state: change.state, version: change.version, nextRunAt: change.nextRunAt, reason: change.reason, archived: change.archived } };
      },
      runFinished: (context, { run }, enqueue) => {
        if (run.endpointId !== context.endpointId || context.runs.some((each) => each.id === run.id)) return context;
        enqueue.emit.runAdded({ runId: run.id });
        return { ...context, runs: [run, ...context.runs].slice(0, RUNS) };
      },
      sideLoaded: (context, { hints, analyses }) => ({ ...context, hints, analyses }),
      notificationsLoaded: (context, { notifications }) => ({ ...context, notifications }),
      failed: (context, { message }) => ({ ...context, error: message }),
      previewFromTyped: (context, { text }, enqueue) => {
        const typed = previewFromOf(text);
        if ('error' in typed) return { ...context, previewError: typed.error };
        enqueue.emit.previewStale();
        return { ...context, previewFrom: typed.from, previewError: null };
      },
      // An answer for a start typed over since is dropped: the read of the new one follows.
      previewLoaded: (context, { preview, from }) => (sameTime(from, context.previewFrom) ? { ...context, preview, previewError: null } : context),
      previewFailed: (context, { message }) => ({ ...context, previewError: message }),
    },
  });
}

export type EndpointStore = ReturnType<typeof createEndpointStore>;
