import './styles.css';
import { Role } from '@tickwise/api';
import { createApi, describeError, isUnauthenticated, type Api } from './api.ts';
import type { App, View } from './app.ts';
import { fill, h } from './dom.ts';
import { endpointView } from './endpoint-view.ts';
import { follow } from './follow.ts';
import { nodesView } from './nodes-view.ts';
import { overviewView } from './overview.ts';
import { LiveStream } from './stream.ts';
import { bannerOf, createStreamStore, sameBanner, type Banner } from './stream-store.ts';

// The page's shell: sign-in with an API key (kept in sessionStorage, so it goes with the tab), the
// header, the connection banner, and a hash router between the three views.

const KEY_ITEM = 'tickwise.apiKey';
const root = document.getElementById('app')!;

function signIn(message = ''): void {
  const error = h('p', { class: 'error signin-error', role: 'alert', hidden: message === '' }, message);
  const input = h('input', { type: 'password', name: 'key', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'tw_…', 'aria-label': 'API key' });
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'signin card' },
    h('h1', {}, 'Tickwise'),
    h('p', {}, 'Sign in with an API key of your tenant (', h('code', {}, 'tickwise keys create --role read --name me'), ', or the key ', h('code', {}, 'tickwise dev'), ' prints).'),
    h('label', {}, 'API key ', input),
    button,
    error,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const key = input.value.trim();
    button.disabled = true;
    error.hidden = true;
    void start(key).then((problem) => {
      button.disabled = false;
      if (problem) {
        error.hidden = false;
        error.textContent = problem;
      }
    });
  });
  fill(root, form);
  input.focus();
}

/** Checks the key with the gateway and opens the app; a problem comes back as words. */
async function start(key: string): Promise<string | null> {
  const api = createApi(key);
  try {
    const who = await api.overview.whoAmI({});
    sessionStorage.setItem(KEY_ITEM, key);
    const role = who.role === Role.ADMIN ? 'admin' : who.role === Role.WRITE ? 'write' : 'read';
    shell(api, who.tenantName, role);
    return null;
  } catch (error) {
    sessionStorage.removeItem(KEY_ITEM);
    return isUnauthenticated(error) ? `Sign-in failed: ${describeError(error)}` : `Cannot sign in: ${describeError(error)}`;
  }
}

function shell(api: Api, tenantName: string, role: App['role']): void {
  const banner = h('div', { class: 'banner', role: 'alert', hidden: true });
  const dot = h('span', { class: 'conn', title: 'stream: not connected' });
  const main = h('main', {});
  const streamStore = createStreamStore(Date.now());
  let current: { view: View; stream?: LiveStream } | undefined;
  const signOut = () => {
    current?.view.dispose();
    clearInterval(bannerTimer);
    window.removeEventListener('hashchange', route);
    sessionStorage.removeItem(KEY_ITEM);
    signIn();
  };
  // One button for the page's life: redrawing the banner each second must not swap it under a click.
  const retry = h('button', { type: 'button' }, 'Retry now');
  retry.addEventListener('click', () => current?.stream?.retryNow());
  const showBanner = (shown: Banner) => {
    banner.hidden = shown.kind === 'hidden';
    if (shown.kind === 'countdown') fill(banner, h('strong', {}, `Disconnected — reconnecting in ${shown.seconds}s`), ` (${shown.error})`, ' ', retry);
    else if (shown.kind === 'reconnecting') fill(banner, h('strong', {}, 'Disconnected — reconnecting now…'));
  };
  follow(streamStore, bannerOf, showBanner, sameBanner);
  streamStore.select((context) => context.status.kind).subscribe((kind) => {
    dot.className = `conn ${kind}`;
    dot.title = `stream: ${kind}`;
  });
  const bannerTimer = setInterval(() => streamStore.trigger.ticked({ now: Date.now() }), 1_000);
  const app: App = {
    api,
    tenantName,
    role,
    now: () => Date.now() + streamStore.getSnapshot().context.skewMs,
    stream(handlers) {
      const stream = new LiveStream(api, {
        ...handlers,
        status(next) {
          streamStore.trigger.statusChanged({ status: next, skewMs: stream.skewMs, now: Date.now() });
        },
        unauthenticated(error) {
          signOut();
          signIn(`Signed out: ${describeError(error)}`);
        },
      });
      pendingStream = stream;
      return stream;
    },
  };
  let pendingStream: LiveStream | undefined;
  const route = () => {
    current?.view.dispose();
    streamStore.trigger.statusChanged({ status: { kind: 'idle' }, now: Date.now() });
    pendingStream = undefined;
    const hash = location.hash.replace(/^#/, '') || '/';
    const endpoint = /^\/endpoint\/([0-9a-f-]{36})$/i.exec(hash);
    const view = endpoint ? endpointView(app, endpoint[1]!.toLowerCase()) : hash === '/nodes' ? nodesView(app) : overviewView(app);
    current = { view, stream: pendingStream };
    for (const link of nav.querySelectorAll('a')) link.classList.toggle('here', link.getAttribute('href') === `#${hash}` || (link.getAttribute('href') === '#/' && !endpoint && hash !== '/nodes'));
    fill(main, view.element);
  };
  const signOutButton = h('button', { type: 'button', class: 'link' }, 'Sign out');
  signOutButton.addEventListener('click', signOut);
  const nav = h('nav', {}, h('a', { href: '#/' }, 'Endpoints'), h('a', { href: '#/nodes' }, 'Nodes'));
  fill(
    root,
    h('header', {}, h('span', { class: 'brand' }, 'Tickwise'), nav, h('span', { class: 'who' }, dot, ` ${tenantName} · `, h('span', { class: `role role-${role}`, 'data-role': role }, role)), signOutButton),
    banner,
    main,
  );
  window.addEventListener('hashchange', route);
  route();
}

const stored = sessionStorage.getItem(KEY_ITEM);
if (stored) void start(stored).then((problem) => problem && signIn(problem));
else signIn();
