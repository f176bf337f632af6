import { timestampDate } from '@bufbuild/protobuf/wkt';
import { RunStatus, type EndpointSummary, type Run } from '@tickwise/api';
import { describeError } from './api.ts';
import type { App, View } from './app.ts';
import { fill, flash, h } from './dom.ts';
import { follow } from './follow.ts';
import { ago, clip, clock, countdown, formatMs, percent, stateName, STATES } from './format.ts';
import { countText, createOverviewStore, RECENT_RUNS, sameIds, wantsPage, watchedIds, type OverviewContext } from './overview-store.ts';
import { sparkline } from './sparkline.ts';
import { VirtualList } from './virtual-list.ts';

const PAGE_SIZE = 500;
const ROW_HEIGHT = 44;

function stateCell(summary: EndpointSummary): HTMLElement {
  const name = stateName(summary.state);
  return h('span', { class: `cell state` }, h('span', { class: `pill state-${name}`, title: summary.paused ? 'paused by a person' : name }, name, summary.paused ? ' ⏸' : ''));
}

function lastRunCell(summary: EndpointSummary, now: number): HTMLElement {
  const run = summary.lastRun;
  if (!run) return h('span', { class: 'cell last muted' }, 'no run yet');
  const failed = run.status === RunStatus.FAILED;
  const code = run.httpStatus ?? run.errorKind ?? '';
  const finished = run.finishedAt ? timestampDate(run.finishedAt) : null;
  return h(
    'span',
    { class: `cell last ${failed ? 'bad' : 'good'}`, title: failed && run.errorMessage ? clip(run.errorMessage, 200) : `finished ${clock(finished)}` },
    h('span', { class: 'outcome' }, failed ? '✗' : '✓'),
    ` ${code} · ${formatMs(run.durationMs)} · ${ago(finished, now)}`,
  );
}

function renderRow(row: HTMLElement, summary: EndpointSummary | undefined, now: number): void {
  if (!summary) {
    row.className = 'vrow loading';
    delete row.dataset.endpointId;
    fill(row, h('span', { class: 'cell muted' }, 'loading…'));
    return;
  }
  const succeeded = summary.recent.filter((point) => point.status === RunStatus.SUCCEEDED).length;
  const next = summary.nextRunAt ? timestampDate(summary.nextRunAt) : null;
  row.className = `vrow endpoint-row state-${stateName(summary.state)}`;
  row.dataset.endpointId = summary.endpointId;
  row.dataset.state = stateName(summary.state);
  row.dataset.lastRun = summary.lastRun?.id ?? '';
  fill(
    row,
    stateCell(summary),
    h('span', { class: 'cell name' }, h('span', { class: 'job' }, summary.jobName, ' / '), h('a', { href: `#/endpoint/${summary.endpointId}` }, summary.name)),
    h('span', { class: 'cell next', title: `${clock(next)} — ${summary.reason}` }, h('span', { class: 'countdown' }, countdown(next, now)), h('span', { class: 'reason' }, clip(summary.reason, 60))),
    lastRunCell(summary, now),
    h('span', { class: 'cell rate', title: `${succeeded} of the last ${summary.recent.length} runs succeeded` }, percent(succeeded, summary.recent.length)),
    h('span', { class: 'cell spark-cell' }, sparkline(summary.recent.map((point) => ({ durationMs: point.durationMs, failed: point.status === RunStatus.FAILED })))),
    h('span', { class: 'cell hints' }, summary.activeHints > 0 ? h('span', { class: 'badge', title: 'hints in force' }, `${summary.activeHints} hint${summary.activeHints === 1 ? '' : 's'}`) : ''),
  );
}

/**
 * The tenant's endpoints, loaded a page (500) at a time as the list is scrolled towards them, in a
 * list that draws only the rows on screen. Pages are keyed (each starts after the last id of the
 * one before), so they load in order.
 */
export function overviewView(app: App): View {
  const store = createOverviewStore();
  const rows = () => store.getSnapshot().context.rows;
  const count = h('span', { class: 'count', 'aria-live': 'polite' }, '');
  const error = h('div', { class: 'error', role: 'alert', hidden: true });
  const jobSelect = h('select', { name: 'job', 'aria-label': 'job' }, h('option', { value: '' }, 'all jobs'));
  const nameInput = h('input', { type: 'search', name: 'name', placeholder: 'part of a name', 'aria-label': 'name', maxlength: 63, autocomplete: 'off' });
  const chips = STATES.map((state, index) => {
    const chip = h('button', { type: 'button', class: `chip state-${state}`, 'aria-pressed': 'false', 'data-filter-state': state }, state);
    chip.addEventListener('click', () => store.trigger.stateToggled({ state: index + 1 }));
    return chip;
  });
  const list = new VirtualList({
    rowHeight: ROW_HEIGHT,
    overscan: 6,
    render: (index, row) => renderRow(row, rows()[index], app.now()),
    onRange: (visible) => store.trigger.scrolled({ visible }),
  });
  list.element.addEventListener('click', (event) => {
    const row = (event.target as HTMLElement).closest<HTMLElement>('.endpoint-row');
    if (row?.dataset.endpointId && !(event.target as HTMLElement).closest('a')) location.hash = `#/endpoint/${row.dataset.endpointId}`;
  });

  // One page in flight at a time; a filter change starts its first page at once, whatever is in flight.
  let loading: { generation: number; done: Promise<void> } | undefined;
  const loadPage = async ({ generation, filter, pageToken }: OverviewContext): Promise<void> => {
    try {
      const response = await app.api.overview.listEndpointSummaries({ pageSize: PAGE_SIZE, pageToken, jobId: filter.jobId, states: [...filter.states], nameContains: filter.nameContains, recentRuns: RECENT_RUNS });
      store.trigger.pageLoaded({ generation, summaries: response.summaries, totalSize: response.totalSize, nextPageToken: response.nextPageToken });
    } catch (failure) {
      store.trigger.pageFailed({ generation, message: describeError(failure) });
    }
  };
  /** Loads pages until the row at `through` (and a screenful past it) is there, or the list ends. */
  const ensure = async (through: number): Promise<void> => {
    for (let context = store.getSnapshot().context; wantsPage(context, through); context = store.getSnapshot().context) {
      if (loading?.generation !== context.generation) {
        const { generation } = context;
        loading = { generation, done: loadPage(context).finally(() => loading?.generation === generation && (loading = undefined)) };
      }
      await loading.done;
    }
  };

  const stream = app.stream({
    machine: (change) => store.trigger.machineChanged({ change }),
    run: (run: Run) => store.trigger.runFinished({ run }),
  });
  const subscriptions = [
    follow(store, (context) => context.total, (total) => {
      count.textContent = countText(total);
      list.setCount(total ?? 0);
    }),
    // New rows (a page came, or the first page of new filters replaced the old ones).
    store.select((context) => context.index).subscribe(() => list.refresh()),
    follow(store, (context) => context.error, (message) => {
      error.hidden = message === null;
      error.textContent = message ?? '';
    }),
    follow(store, (context) => context.filter.states, (states) => chips.forEach((chip, index) => chip.setAttribute('aria-pressed', String(states.includes(index + 1))))),
    store.select((context) => context.generation).subscribe(() => {
      list.scrollToTop();
      void ensure(0);
    }),
    store.select((context) => context.visible).subscribe((visible) => visible && void ensure(visible[1])),
    // The stream follows exactly the endpoints on screen.
    follow(store, watchedIds, (ids) => stream.watch(ids), sameIds),
    store.on('rowChanged', ({ index, endpointId, flash: changed }) => {
      list.refresh(index);
      if (changed) flashRow(endpointId);
    }),
  ];
  const flashRow = (id: string) => {
    const row = list.element.querySelector<HTMLElement>(`[data-endpoint-id="${id}"]`);
    if (row) flash(row);
  };
  let typing: ReturnType<typeof setTimeout> | undefined;
  jobSelect.addEventListener('change', () => store.trigger.jobChosen({ jobId: jobSelect.value }));
  nameInput.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => store.trigger.nameChanged({ nameContains: nameInput.value }), 250);
  });
  // Countdowns and "ago" move every second; only rows on screen are redrawn.
  const ticker = setInterval(() => list.refresh(), 1_000);
  void loadJobs(app, jobSelect);
  void ensure(0);
  const element = h(
    'section',
    { class: 'overview' },
    h('div', { class: 'filters' }, h('label', {}, 'Job ', jobSelect), h('div', { class: 'chips', role: 'group', 'aria-label': 'states' }, chips), h('label', {}, 'Name ', nameInput), count),
    error,
    h('div', { class: 'table-head', 'aria-hidden': 'true' }, ['State', 'Endpoint', 'Next run', 'Last run', 'Success', 'Latency', 'Hints'].map((title) => h('span', { class: 'cell' }, title))),
    list.element,
  );
  return {
    element,
    dispose() {
      clearInterval(ticker);
      clearTimeout(typing);
      for (const subscription of subscriptions) subscription.unsubscribe();
      list.dispose();
      stream.close();
    },
  };
}

/** Fills the job filter with every job of the tenant (pages of 500, at most 20 of them). */
async function loadJobs(app: App, select: HTMLSelectElement): Promise<void> {
  let token = '';
  for (let page = 0; page < 20; page++) {
    try {
      const response = await app.api.jobs.listJobs({ pageSize: 500, pageToken: token });
      for (const job of response.jobs) select.appendChild(h('option', { value: job.id }, `${job.name} (${job.endpointCount})`));
      token = response.nextPageToken;
      if (!token) return;
    } catch {
      // The list still works without the job filter; the endpoints call reports errors itself.
      return;
    }
  }
}
