import { create } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { type EndpointSummary, type Run, RunPointSchema, RunStatus } from '@tickwise/api';
import { describeError } from './api.ts';
import type { App, View } from './app.ts';
import { fill, flash, h } from './dom.ts';
import { ago, clip, clock, countdown, formatMs, percent, stateName, STATES } from './format.ts';
import { sparkline } from './sparkline.ts';
import { VirtualList } from './virtual-list.ts';

const PAGE_SIZE = 500;
const RECENT_RUNS = 20;
const ROW_HEIGHT = 44;

interface Filter {
  jobId: string;
  states: number[];
  nameContains: string;
}

/**
 * The tenant's endpoints, loaded a page (500) at a time as the list is scrolled towards them, in a
 * list that draws only the rows on screen. Pages are keyed (each starts after the last id of the
 * one before), so they load in order.
 */
class SummaryStore {
  items: EndpointSummary[] = [];
  total = 0;
  private token = '';
  private done = false;
  private loading: Promise<void> | undefined;
  private generation = 0;
  readonly byId = new Map<string, number>();

  constructor(
    private readonly app: App,
    private readonly changed: () => void,
    private readonly failed: (message: string) => void,
  ) {}

  filter: Filter = { jobId: '', states: [], nameContains: '' };

  reset(filter: Filter): Promise<void> {
    this.generation++;
    this.filter = filter;
    this.items = [];
    this.byId.clear();
    this.total = 0;
    this.token = '';
    this.done = false;
    this.loading = undefined;
    return this.ensure(0);
  }

  /** Loads pages until the item at `index` (and a screenful past it) is there, or the list ends. */
  async ensure(index: number): Promise<void> {
    while (!this.done && this.items.length <= index + 50) {
      this.loading ??= this.loadPage(this.generation).finally(() => (this.loading = undefined));
      await this.loading;
    }
  }

  private async loadPage(generation: number): Promise<void> {
    try {
      const response = await this.app.api.overview.listEndpointSummaries({
        pageSize: PAGE_SIZE,
        pageToken: this.token,
        jobId: this.filter.jobId,
        states: this.filter.states,
        nameContains: this.filter.nameContains,
        recentRuns: RECENT_RUNS,
      });
      if (generation !== this.generation) return;
      for (const summary of response.summaries) {
        this.byId.set(summary.endpointId, this.items.length);
        this.items.push(summary);
      }
      this.total = Math.max(response.totalSize, this.items.length);
      this.token = response.nextPageToken;
      this.done = this.token === '';
      if (this.done) this.total = this.items.length;
      this.changed();
    } catch (error) {
      if (generation !== this.generation) return;
      this.done = true;
      this.failed(describeError(error));
    }
  }
}

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

export function overviewView(app: App): View {
  const count = h('span', { class: 'count', 'aria-live': 'polite' }, '');
  const error = h('div', { class: 'error', role: 'alert', hidden: true });
  const jobSelect = h('select', { name: 'job', 'aria-label': 'job' }, h('option', { value: '' }, 'all jobs'));
  const nameInput = h('input', { type: 'search', name: 'name', placeholder: 'part of a name', 'aria-label': 'name', maxlength: 63, autocomplete: 'off' });
  const chosen = new Set<number>();
  const chips = STATES.map((state, index) => {
    const chip = h('button', { type: 'button', class: `chip state-${state}`, 'aria-pressed': 'false', 'data-filter-state': state }, state);
    chip.addEventListener('click', () => {
      const value = index + 1;
      if (chosen.has(value)) chosen.delete(value);
      else chosen.add(value);
      chip.setAttribute('aria-pressed', String(chosen.has(value)));
      apply();
    });
    return chip;
  });
  const store = new SummaryStore(
    app,
    () => {
      count.textContent = `${store.total.toLocaleString('en')} endpoint${store.total === 1 ? '' : 's'}`;
      list.setCount(store.total);
      list.refresh();
      watchVisible();
    },
    (message) => {
      error.hidden = false;
      error.textContent = message;
    },
  );
  const list = new VirtualList({
    rowHeight: ROW_HEIGHT,
    overscan: 6,
    render: (index, row) => renderRow(row, store.items[index], app.now()),
    onRange: (range) => {
      visible = range;
      if (range) void store.ensure(range[1]);
      watchVisible();
    },
  });
  let visible: [number, number] | null = null;
  /** The stream follows exactly the endpoints on screen (none: it closes). */
  const watchVisible = () => {
    const ids: string[] = [];
    for (let index = visible?.[0] ?? 0; visible && index <= visible[1]; index++) {
      const id = store.items[index]?.endpointId;
      if (id) ids.push(id);
    }
    stream.watch(ids);
  };
  list.element.addEventListener('click', (event) => {
    const row = (event.target as HTMLElement).closest<HTMLElement>('.endpoint-row');
    if (row?.dataset.endpointId && !(event.target as HTMLElement).closest('a')) location.hash = `#/endpoint/${row.dataset.endpointId}`;
  });
  const stream = app.stream({
    machine(change) {
      const index = store.byId.get(change.endpointId);
      const summary = index === undefined ? undefined : store.items[index];
      if (!summary || index === undefined) return;
      const moved = summary.state !== change.state || summary.version !== change.version;
      summary.state = change.state;
      summary.nextRunAt = change.nextRunAt;
      summary.reason = change.reason;
      summary.version = change.version;
      summary.archived = change.archived;
      list.refresh(index);
      if (moved && !change.current) flashRow(change.endpointId);
    },
    run(run: Run) {
      const index = store.byId.get(run.endpointId);
      const summary = index === undefined ? undefined : store.items[index];
      if (!summary || index === undefined || summary.recent.some((point) => point.runId === run.id)) return;
      summary.lastRun = run;
      summary.recent.push(create(RunPointSchema, { runId: run.id, status: run.status, durationMs: run.durationMs, httpStatus: run.httpStatus, finishedAt: run.finishedAt }));
      if (summary.recent.length > RECENT_RUNS) summary.recent.shift();
      list.refresh(index);
      flashRow(run.endpointId);
    },
  });
  const flashRow = (id: string) => {
    const row = list.element.querySelector<HTMLElement>(`[data-endpoint-id="${id}"]`);
    if (row) flash(row);
  };
  let typing: ReturnType<typeof setTimeout> | undefined;
  const apply = () => {
    error.hidden = true;
    list.scrollToTop();
    void store.reset({ jobId: jobSelect.value, states: [...chosen].sort(), nameContains: nameInput.value.trim() });
  };
  jobSelect.addEventListener('change', apply);
  nameInput.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(apply, 250);
  });
  // Countdowns and "ago" move every second; only rows on screen are redrawn.
  const ticker = setInterval(() => list.refresh(), 1_000);
  void loadJobs(app, jobSelect);
  apply();
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
