import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import type { ListLeasesResponse } from '@tickwise/api';
import { describeError } from './api.ts';
import type { App, View } from './app.ts';
import { fill, h } from './dom.ts';
import { ago, clock, countdown, stateName } from './format.ts';

/** Leases move with every run: the view reads them again this often rather than streaming them. */
const REFRESH_MS = 2_000;

const date = (at: Timestamp | undefined) => (at ? timestampDate(at) : null);

function render(body: HTMLElement, data: ListLeasesResponse, skew: number): void {
  const now = Date.now() + skew;
  const nodes = data.nodes.map((node) =>
    h(
      'div',
      { class: 'card node', 'data-worker': node.worker },
      h('h3', {}, node.worker),
      h('p', { class: 'muted' }, `${node.leaseCount} lease${node.leaseCount === 1 ? '' : 's'} held`, node.expiredLeaseCount > 0 ? h('span', { class: 'bad' }, ` (${node.expiredLeaseCount} expired)`) : '', ` · last run of ${node.lastRuns} endpoint${node.lastRuns === 1 ? '' : 's'}`, node.lastRunAt ? ` · latest ${ago(date(node.lastRunAt), now)}` : ''),
      node.leases.length > 0
        ? h(
            'table',
            {},
            h('thead', {}, h('tr', {}, ['endpoint', 'state', 'lease expires', 'slot', 'attempt'].map((title) => h('th', {}, title)))),
            h(
              'tbody',
              {},
              node.leases.map((lease) =>
                h(
                  'tr',
                  { class: lease.expired ? 'expired' : '' },
                  h('td', {}, h('a', { href: `#/endpoint/${lease.endpointId}` }, lease.name)),
                  h('td', {}, h('span', { class: `pill state-${stateName(lease.state)}` }, stateName(lease.state))),
                  h('td', { class: lease.expired ? 'bad' : '' }, lease.expired ? `expired ${ago(date(lease.expiresAt), now)}` : countdown(date(lease.expiresAt), now)),
                  h('td', {}, clock(date(lease.claimedSlot))),
                  h('td', {}, lease.attempt),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'holds no lease of this tenant right now'),
    ),
  );
  const takeovers = data.takeovers.map((takeover) =>
    h(
      'tr',
      {},
      h('td', {}, clock(date(takeover.at), now)),
      h('td', {}, h('a', { href: `#/endpoint/${takeover.endpointId}` }, takeover.name)),
      h('td', {}, `${takeover.previousWorker || '?'} → ${takeover.worker}`),
      h('td', {}, takeover.attempt || '—'),
      h('td', {}, takeover.reason),
    ),
  );
  fill(
    body,
    h('div', { class: 'nodes' }, nodes.length > 0 ? nodes : h('p', { class: 'muted' }, 'No scheduler node holds a lease of this tenant or has run its endpoints.')),
    h(
      'div',
      { class: 'card takeovers' },
      h('h3', {}, 'Takeovers (last 24 h)'),
      takeovers.length > 0
        ? h('table', {}, h('thead', {}, h('tr', {}, ['when', 'endpoint', 'from → to', 'attempt', 'reason'].map((title) => h('th', {}, title)))), h('tbody', {}, takeovers))
        : h('p', { class: 'muted' }, 'none: no node has had to take over another one’s machines'),
    ),
  );
}

/** Which node holds which of the tenant's leases, when they run out, and takeovers. */
export function nodesView(app: App): View {
  const body = h('div', {}, h('p', { class: 'muted' }, 'loading…'));
  const error = h('div', { class: 'error', role: 'alert', hidden: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;
  const load = async () => {
    try {
      const data = await app.api.nodes.listLeases({});
      if (disposed) return;
      error.hidden = true;
      // Expiries are judged by the database's clock: shown relative to it.
      render(body, data, data.at ? timestampDate(data.at).getTime() - Date.now() : 0);
    } catch (failure) {
      error.hidden = false;
      error.textContent = `${describeError(failure)} (trying again)`;
    }
    if (!disposed) timer = setTimeout(() => void load(), REFRESH_MS);
  };
  void load();
  return {
    element: h('section', { class: 'nodes-view' }, h('h2', {}, 'Scheduler nodes'), h('p', { class: 'muted' }, `Read every ${REFRESH_MS / 1_000} s. Only this tenant’s machines are counted.`), error, body),
    dispose() {
      disposed = true;
      clearTimeout(timer);
    },
  };
}
