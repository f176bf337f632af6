import type { Analysis, Endpoint, Hint, Machine, Run } from '@tickwise/api';
// The machine alone (no governor, no specs): the page draws its statechart from the definition itself.
import { endpointMachine } from '@tickwise/machines/endpoint-machine';
import { describeError } from './api.ts';
import { canWrite, type App, type View } from './app.ts';
import { fill, flash, h } from './dom.ts';
import { analysesCard, factsCard, hintsCard, nextRunCard, specLine, timelineCard } from './endpoint-parts.ts';
import { stateName } from './format.ts';
import { Statechart, type ChartStep } from './statechart.ts';
import { graphOf, layoutChart } from './statechart-layout.ts';

const TRANSITIONS = 40;
const RUNS = 50;
/** Hints and analyses are read again at most this often while the machine moves. */
const SIDE_REFRESH_MS = 1_000;

// Drawn once per page load: the machine definition does not change while the page is open.
const chartGraph = graphOf(endpointMachine);
const chartLayout = layoutChart(chartGraph);

interface State {
  endpoint: Endpoint | undefined;
  machine: Machine | undefined;
  runs: Run[];
  hints: Hint[];
  analyses: Analysis[];
}

/** One endpoint: its statechart live, the next run and why, hints with the planner's reasoning, the timeline, and actions. */
export function endpointView(app: App, endpointId: string): View {
  const state: State = { endpoint: undefined, machine: undefined, runs: [], hints: [], analyses: [] };
  const chart = new Statechart(chartLayout, chartGraph.initial);
  const title = h('h2', {}, 'loading…');
  const spec = h('div', {});
  const error = h('div', { class: 'error', role: 'alert', hidden: true });
  const status = h('p', { class: 'action-status', role: 'status', 'aria-live': 'polite' });
  const side = h('div', { class: 'side' });
  const lower = h('div', { class: 'lower' });
  const actions = h('div', { class: 'actions' });
  const showError = (message: string) => {
    error.hidden = false;
    error.textContent = message;
  };

  let lastSeq = -1n;
  /** Steps newer than the last one drawn, from a fresh machine read. Pure but for `lastSeq`. */
  const newSteps = (machine: Machine): ChartStep[] => {
    const steps = machine.transitions.filter((step) => step.seq > lastSeq);
    if (machine.transitions.length > 0) lastSeq = machine.transitions.at(-1)!.seq;
    return steps.map((step) => ({ from: step.from ? stateName(step.from) : null, to: stateName(step.to), event: step.event }));
  };

  const render = () => {
    const { endpoint, machine } = state;
    const now = app.now();
    if (endpoint) {
      fill(title, h('a', { href: '#/', class: 'back' }, '← all endpoints'), ' ', h('span', { class: 'job' }, `${jobName} / `), endpoint.name);
      fill(spec, specLine(endpoint));
    }
    if (machine) fill(side, nextRunCard(machine, now), factsCard(machine, now));
    const analyses = new Map(state.analyses.map((analysis) => [analysis.id, analysis]));
    fill(lower, hintsCard(state.hints, analyses, now), timelineCard(machine?.transitions ?? [], state.runs, now), analysesCard(state.analyses.slice(0, 8), now));
    renderActions();
  };

  const act = async (what: string, call: () => Promise<unknown>) => {
    status.textContent = `${what}…`;
    try {
      await call();
      status.textContent = `${what}: done`;
      await loadMachine();
    } catch (failure) {
      status.textContent = `${what} failed: ${describeError(failure)}`;
    }
  };

  const pauseForm = h(
    'form',
    { class: 'pause-form', hidden: true },
    h('label', {}, 'Reason ', h('input', { name: 'reason', required: true, maxlength: 500, value: 'paused from the visualizer' })),
    h('button', { type: 'submit', class: 'danger' }, 'Pause now'),
    h('button', { type: 'button', 'data-cancel': '' }, 'Cancel'),
  );
  pauseForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const reason = (pauseForm.elements.namedItem('reason') as HTMLInputElement).value.trim();
    pauseForm.hidden = true;
    void act('pause', () => app.api.endpoints.pauseEndpoint({ endpointId, reason }));
  });
  pauseForm.querySelector('[data-cancel]')!.addEventListener('click', () => (pauseForm.hidden = true));

  const renderActions = () => {
    const writable = canWrite(app);
    const pausedByPerson = state.machine?.pause !== undefined;
    const archived = state.machine?.archived === true;
    const why = !writable ? `needs a write key; this key is ${app.role}` : archived ? 'the endpoint is archived' : '';
    const button = (label: string, name: string, disabled: string, onClick: () => void) => {
      const element = h('button', { type: 'button', 'data-action': name, disabled: disabled !== '', title: disabled || label }, label);
      element.addEventListener('click', onClick);
      return element;
    };
    fill(
      actions,
      pausedByPerson
        ? button('Resume', 'resume', why, () => void act('resume', () => app.api.endpoints.resumeEndpoint({ endpointId })))
        : button('Pause', 'pause', why, () => {
            pauseForm.hidden = false;
            (pauseForm.elements.namedItem('reason') as HTMLInputElement).focus();
          }),
      button('Trigger now', 'trigger', why || (pausedByPerson ? 'paused by a person: resume it first' : ''), () => void act('trigger', () => app.api.endpoints.triggerEndpoint({ endpointId, reason: 'triggered from the visualizer' }))),
      !writable ? h('span', { class: 'muted read-only' }, `Read-only key: pausing, resuming and triggering need a write key.`) : '',
    );
  };

  let jobName = '';
  let loadingMachine: Promise<void> | undefined;
  let again = false;
  /** Reads the machine and draws the steps it took since the last read (one read at a time). */
  const loadMachine = async (): Promise<void> => {
    if (loadingMachine) {
      again = true;
      return loadingMachine;
    }
    loadingMachine = (async () => {
      do {
        again = false;
        try {
          const { machine } = await app.api.endpoints.getMachine({ endpointId, transitionLimit: TRANSITIONS });
          if (!machine) return;
          const previous = state.machine;
          state.machine = machine;
          const steps = newSteps(machine);
          if (!previous) chart.highlight(stateName(machine.state));
          else if (steps.length > 0) void chart.animate(steps);
          // A move the history does not record (due → running is written without a history row).
          else if (previous.state !== machine.state) void chart.animate([{ from: stateName(previous.state), to: stateName(machine.state), event: '' }]);
          render();
        } catch (failure) {
          showError(describeError(failure));
        }
      } while (again);
    })().finally(() => (loadingMachine = undefined));
    return loadingMachine;
  };

  let sideTimer: ReturnType<typeof setTimeout> | undefined;
  let sideAt = 0;
  const loadSide = async () => {
    sideAt = Date.now();
    try {
      const [hints, analyses] = await Promise.all([app.api.hints.listHints({ endpointId, includePast: true, limit: 50 }), app.api.analyses.listAnalyses({ endpointId, pageSize: 30 })]);
      state.hints = hints.hints;
      state.analyses = analyses.analyses;
      render();
    } catch (failure) {
      showError(describeError(failure));
    }
  };
  const refreshSide = () => {
    if (sideTimer) return;
    sideTimer = setTimeout(() => {
      sideTimer = undefined;
      void loadSide();
    }, Math.max(0, sideAt + SIDE_REFRESH_MS - Date.now()));
  };

  const stream = app.stream({
    machine(change) {
      if (change.endpointId !== endpointId) return;
      if (!change.current || !state.machine || state.machine.version !== change.version) void loadMachine();
      refreshSide();
    },
    run(run) {
      if (run.endpointId !== endpointId || state.runs.some((each) => each.id === run.id)) return;
      state.runs = [run, ...state.runs].slice(0, RUNS);
      render();
      const row = lower.querySelector(`[data-run-id="${run.id}"]`);
      if (row) flash(row);
    },
  });
  stream.watch([endpointId]);

  void (async () => {
    try {
      const [{ endpoint }, runs] = await Promise.all([app.api.endpoints.getEndpoint({ endpointId }), app.api.runs.listRuns({ endpointId, pageSize: RUNS })]);
      state.endpoint = endpoint;
      state.runs = runs.runs;
      if (endpoint) jobName = (await app.api.jobs.getJob({ jobId: endpoint.jobId }).catch(() => ({ job: undefined }))).job?.name ?? '';
      await Promise.all([loadMachine(), loadSide()]);
    } catch (failure) {
      fill(title, h('a', { href: '#/', class: 'back' }, '← all endpoints'));
      showError(describeError(failure));
    }
  })();

  const ticker = setInterval(() => {
    if (state.machine) fill(side, nextRunCard(state.machine, app.now()), factsCard(state.machine, app.now()));
  }, 1_000);

  const element = h(
    'section',
    { class: 'endpoint', 'data-endpoint-id': endpointId },
    title,
    spec,
    error,
    h('div', { class: 'toolbar' }, actions, pauseForm, status),
    h('div', { class: 'upper' }, h('div', { class: 'card chart-card' }, h('h3', {}, 'Statechart'), chart.element), side),
    lower,
  );
  return {
    element,
    dispose() {
      clearInterval(ticker);
      clearTimeout(sideTimer);
      stream.close();
    },
  };
}
