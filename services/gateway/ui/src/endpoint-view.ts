import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { Analysis, Endpoint, Hint, Machine, Notification, NotifyTarget, Run } from '@tickwise/api';
// The machine alone (no governor, no specs): the page draws its statechart from the definition itself.
import { endpointMachine } from '@tickwise/machines/endpoint-machine';
import { describeError } from './api.ts';
import { canWrite, type App, type View } from './app.ts';
import { shallowEqual } from '@xstate/store';
import { fill, flash, h } from './dom.ts';
import { analysesCard, factsCard, hintsCard, nextRunCard, previewTable, signingLine, specLine, timelineCard } from './endpoint-parts.ts';
import { createEndpointStore, PREVIEW_RUNS, previewOutdated, RUNS, TRANSITIONS, type EndpointContext } from './endpoint-store.ts';
import { follow } from './follow.ts';
import { notificationsCard } from './notifications-card.ts';
import { Statechart } from './statechart.ts';
import { graphOf, layoutChart } from './statechart-layout.ts';

/** Hints and analyses are read again at most this often while the machine moves. */
const SIDE_REFRESH_MS = 1_000;
/** Deliveries move without the machine (a retry, a pause notice): read them this often too. */
const NOTIFICATIONS_REFRESH_MS = 5_000;
const NOTIFICATIONS_SHOWN = 20;

// Drawn once per page load: the machine definition does not change while the page is open.
const chartGraph = graphOf(endpointMachine);
const chartLayout = layoutChart(chartGraph);

/** One endpoint: its statechart live, the next run and why, hints with the planner's reasoning, the timeline, and actions. */
export function endpointView(app: App, endpointId: string): View {
  const store = createEndpointStore(endpointId);
  const chart = new Statechart(chartLayout, chartGraph.initial);
  const title = h('h2', {}, 'loading…');
  const spec = h('div', {});
  const signing = h('div', {}, signingLine(null, null));
  const error = h('div', { class: 'error', role: 'alert', hidden: true });
  const status = h('p', { class: 'action-status', role: 'status', 'aria-live': 'polite' });
  const side = h('div', { class: 'side' });
  const lower = h('div', { class: 'lower' });
  const actions = h('div', { class: 'actions' });
  const previewBody = h('div', { class: 'preview-body' });
  const previewForm = h(
    'form',
    { class: 'preview-form' },
    h('label', {}, 'From ', h('input', { name: 'from', placeholder: 'now, or e.g. 2026-03-29T00:00:00Z', size: 34 })),
    h('button', { type: 'submit' }, 'Preview'),
  );
  previewForm.addEventListener('submit', (event) => {
    event.preventDefault();
    store.trigger.previewFromTyped({ text: (previewForm.elements.namedItem('from') as HTMLInputElement).value });
  });

  const drawTitle = ({ endpoint, jobName, failed }: { endpoint: Endpoint | undefined; jobName: string; failed: boolean }) => {
    if (endpoint) {
      fill(title, h('a', { href: '#/', class: 'back' }, '← all endpoints'), ' ', h('span', { class: 'job' }, `${jobName} / `), endpoint.name);
      fill(spec, specLine(endpoint));
    } else if (failed) fill(title, h('a', { href: '#/', class: 'back' }, '← all endpoints'));
  };
  const drawSide = (machine: Machine | undefined) => {
    if (machine) fill(side, nextRunCard(machine, app.now()), factsCard(machine, app.now()));
  };
  type Lower = { hints: readonly Hint[]; analyses: readonly Analysis[]; transitions: EndpointContext['transitions']; runs: readonly Run[]; notify: readonly NotifyTarget[]; notifications: readonly Notification[] };
  const drawLower = ({ hints, analyses, transitions, runs, notify, notifications }: Lower) => {
    const now = app.now();
    const byId = new Map(analyses.map((analysis) => [analysis.id, analysis]));
    fill(lower, hintsCard(hints, byId, now), timelineCard(transitions, runs, now), analysesCard(analyses.slice(0, 8), now), notificationsCard(notifications, notify, now));
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

  const drawActions = (machine: Machine | undefined) => {
    const writable = canWrite(app);
    const pausedByPerson = machine?.pause !== undefined;
    const archived = machine?.archived === true;
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

  let loadingMachine: Promise<void> | undefined;
  let again = false;
  /** Reads the machine (one read at a time; asked again meanwhile, it reads once more after). */
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
          if (machine) store.trigger.machineRead({ machine });
        } catch (failure) {
          store.trigger.failed({ message: describeError(failure) });
        }
      } while (again);
    })().finally(() => (loadingMachine = undefined));
    return loadingMachine;
  };

  let previewing = false;
  /** Reads the preview from the start last typed (one read at a time; a newer start reads again). */
  const loadPreview = async () => {
    if (previewing) return;
    previewing = true;
    try {
      for (let from = store.getSnapshot().context.previewFrom; ; ) {
        try {
          const preview = await app.api.endpoints.previewSchedule({ target: { case: 'endpointId', value: endpointId }, count: PREVIEW_RUNS, from: from ? timestampFromDate(from) : undefined });
          store.trigger.previewLoaded({ preview, from });
        } catch (failure) {
          store.trigger.previewFailed({ message: describeError(failure) });
        }
        const latest = store.getSnapshot().context.previewFrom;
        if ((latest?.getTime() ?? null) === (from?.getTime() ?? null)) break;
        from = latest;
      }
    } finally {
      previewing = false;
    }
  };

  let sideTimer: ReturnType<typeof setTimeout> | undefined;
  let sideAt = 0;
  const loadSide = async () => {
    sideAt = Date.now();
    try {
      const [hints, analyses] = await Promise.all([app.api.hints.listHints({ endpointId, includePast: true, limit: 50 }), app.api.analyses.listAnalyses({ endpointId, pageSize: 30 })]);
      store.trigger.sideLoaded({ hints: hints.hints, analyses: analyses.analyses });
    } catch (failure) {
      store.trigger.failed({ message: describeError(failure) });
    }
  };
  const loadNotifications = async () => {
    try {
      const { notifications } = await app.api.notifications.listNotifications({ endpointId, pageSize: NOTIFICATIONS_SHOWN });
      store.trigger.notificationsLoaded({ notifications });
    } catch (failure) {
      store.trigger.failed({ message: describeError(failure) });
    }
  };
  const refreshSide = () => {
    if (sideTimer) return;
    sideTimer = setTimeout(() => {
      sideTimer = undefined;
      void loadSide();
      void loadNotifications();
    }, Math.max(0, sideAt + SIDE_REFRESH_MS - Date.now()));
  };

  const subscriptions = [
    follow(store, ({ endpoint, jobName, error }) => ({ endpoint, jobName, failed: error !== null }), drawTitle, shallowEqual),
    follow(store, (context) => context.error, (message) => {
      error.hidden = message === null;
      error.textContent = message ?? '';
    }),
    store.select((context) => context.machine).subscribe(drawSide),
    store.select(({ endpoint, machine }) => ({ endpoint, machine }), shallowEqual).subscribe(({ machine }) => drawActions(machine)),
    store.select(({ hints, analyses, transitions, runs, notify, notifications }) => ({ hints, analyses, transitions, runs, notify, notifications }), shallowEqual).subscribe(drawLower),
    store.on('chartPlaced', ({ state }) => chart.highlight(state)),
    store.on('chartMoved', ({ steps }) => void chart.animate(steps)),
    store.on('machineStale', () => void loadMachine()),
    store.on('sideStale', refreshSide),
    store.on('previewStale', () => void loadPreview()),
    store.select(({ preview, previewError }) => ({ preview, previewError }), shallowEqual).subscribe(({ preview, previewError }) => fill(previewBody, previewTable(preview, previewError))),
    store.on('runAdded', ({ runId }) => {
      const row = lower.querySelector(`[data-run-id="${runId}"]`);
      if (row) flash(row);
    }),
  ];

  const stream = app.stream({
    machine: (change) => store.trigger.machineChanged({ change }),
    run: (run: Run) => store.trigger.runFinished({ run }),
  });
  stream.watch([endpointId]);

  void (async () => {
    try {
      const [{ endpoint }, runs] = await Promise.all([app.api.endpoints.getEndpoint({ endpointId }), app.api.runs.listRuns({ endpointId, pageSize: RUNS })]);
      const job = endpoint ? (await app.api.jobs.getJob({ jobId: endpoint.jobId }).catch(() => ({ job: undefined }))).job : undefined;
      store.trigger.endpointLoaded({ endpoint, jobName: job?.name ?? '', runs: runs.runs, notify: job?.notify ?? [] });
      // Whether calls are signed changes only when a person changes the secrets: read once per visit.
      const signed = app.api.signing.listSigningSecrets({ endpointId }).then(
        (response) => fill(signing, signingLine(response, null)),
        (failure: unknown) => fill(signing, signingLine(null, describeError(failure))),
      );
      await Promise.all([loadMachine(), loadSide(), loadPreview(), loadNotifications(), signed]);
    } catch (failure) {
      store.trigger.failed({ message: describeError(failure) });
    }
  })();

  // Countdowns move every second; a preview from now follows the clock once its first run passed.
  const ticker = setInterval(() => {
    drawSide(store.getSnapshot().context.machine);
    if (previewOutdated(store.getSnapshot().context, app.now())) void loadPreview();
  }, 1_000);
  const notificationsTicker = setInterval(() => void loadNotifications(), NOTIFICATIONS_REFRESH_MS);

  const element = h(
    'section',
    { class: 'endpoint', 'data-endpoint-id': endpointId },
    title,
    spec,
    signing,
    error,
    h('div', { class: 'toolbar' }, actions, pauseForm, status),
    h('div', { class: 'upper' }, h('div', { class: 'card chart-card' }, h('h3', {}, 'Statechart'), chart.element), side),
    h(
      'div',
      { class: 'card preview-card' },
      h('h3', {}, 'Next runs of the schedule'),
      h('p', { class: 'muted' }, 'The baseline schedule only: hints, failure backoff and catch-up move real runs (Next run above shows the one planned). A DST shift is marked where the UTC offset changes.'),
      previewForm,
      previewBody,
    ),
    lower,
  );
  return {
    element,
    dispose() {
      clearInterval(ticker);
      clearInterval(notificationsTicker);
      clearTimeout(sideTimer);
      for (const subscription of subscriptions) subscription.unsubscribe();
      stream.close();
    },
  };
}
