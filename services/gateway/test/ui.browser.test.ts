import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DescService } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointService, HintKind, HintService, JobService, type MachineChange, MachineState, OverviewService, type Run, SigningService, WatchService } from '@tickwise/api';
import { waitFor } from '../../../test/support/wait.ts';
import { startHttpTarget } from '../../../test/support/http-target.ts';
import { resolveGatewayConfig, startGateway, type Gateway } from '../src/index.ts';
import { bearer, useGateway } from '../../../test/support/gateway.ts';
import { chromiumOrSkip, launchBrowser, seedEndpoints, signIn, startUiStack, watchConsole, watchedIds, type UiStack } from './ui-support.ts';

/** The known folder of the screenshots README shows. */
export const SCREENSHOTS = resolve(import.meta.dirname, '..', '..', '..', 'docs', 'screenshots');
const DEMO = ['health', 'echo', 'flaky', 'slow', 'every-minute-paris'];

const client = <S extends DescService>(baseUrl: string, service: S, key: string) => createClient(service, createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors: [bearer(key)] }));

// No Chromium: one line naming the package and the suites are skipped; under CI=true the file fails.
const chromiumPath = chromiumOrSkip('services/gateway/test/ui.browser.test.ts (the visualizer in Chromium)');

let browser: Browser;
beforeAll(async () => {
  if (chromiumPath) browser = await launchBrowser(chromiumPath);
});
afterAll(async () => {
  await browser?.close();
});

describe.skipIf(!chromiumPath)('the visualizer in Chromium, against a running stack', () => {
  let stack: UiStack;
  let page: Page;
  let problems: string[];
  const ids = new Map<string, string>();
  const api = <S extends DescService>(service: S, key: string) => client(stack.gateway.url, service, key);

  beforeAll(async () => {
    stack = await startUiStack();
    const { summaries } = await api(OverviewService, stack.keys.read).listEndpointSummaries({});
    for (const summary of summaries) ids.set(summary.name, summary.endpointId);
  });
  afterAll(async () => {
    await page?.close();
    await stack?.stop();
  });
  const fresh = async () => {
    await page?.close();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    problems = watchConsole(page);
  };

  it('shows a sign-in error for a bad key, not a blank page', async () => {
    await fresh();
    await signIn(page, stack.gateway.url, 'tw_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    const error = page.locator('.signin-error');
    await error.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await error.textContent()).toBe('Sign-in failed: the key was not accepted: invalid or revoked API key');
    await page.fill('input[name=key]', 'not-a-key');
    await page.click('form.signin button[type=submit]');
    await waitFor('the malformed-key message', async () => (await error.textContent())?.includes('malformed API key'));
    expect(await page.locator('input[name=key]').isVisible()).toBe(true);
    // The refused calls are the only complaints (the browser logs each 401).
    expect(problems.filter((problem) => !problem.includes('401'))).toEqual([]);
  });

  it('lists the demo endpoints on the overview, live', async () => {
    await fresh();
    await signIn(page, stack.gateway.url, stack.keys.read);
    await page.locator('.endpoint-row').first().waitFor({ timeout: 15_000 });
    const names = await page.locator('.endpoint-row .cell.name a').allTextContents();
    expect(names.sort()).toEqual([...DEMO].sort());
    expect(await page.locator('.filters .count').textContent()).toBe('5 endpoints');
    expect(await page.locator('[data-role]').textContent()).toBe('read');
    // The stream says it is live (the header's dot), and no banner shows.
    await page.locator('.conn.live').waitFor({ timeout: 10_000 });
    expect(await page.locator('.banner').isHidden()).toBe(true);
    // The state filter narrows the list to paused machines: none.
    await page.click('[data-filter-state=paused]');
    await waitFor('the filtered count', async () => (await page.locator('.filters .count').textContent()) === '0 endpoints');
    await page.click('[data-filter-state=paused]');
    await page.fill('input[name=name]', 'fla');
    await waitFor('the name filter', async () => (await page.locator('.endpoint-row').count()) === 1);
    expect(await page.locator('.endpoint-row .cell.name a').textContent()).toBe('flaky');
    expect(problems).toEqual([]);
  });

  it('shows a run’s state change within a second of the stream reporting it', async () => {
    await fresh();
    await signIn(page, stack.gateway.url, stack.keys.write);
    const slow = ids.get('slow')!;
    const row = `.endpoint-row[data-endpoint-id="${slow}"]`;
    await page.locator(row).waitFor({ timeout: 15_000 });
    await page.locator('.conn.live').waitFor({ timeout: 10_000 });
    // A watch of our own sees the same looks as the page's: the budget starts when it gets the event.
    const controller = new AbortController();
    const seen: { at: number; machine?: MachineChange; run?: Run }[] = [];
    const watching = (async () => {
      try {
        for await (const message of api(WatchService, stack.keys.read).watch({ endpointIds: [slow] }, { signal: controller.signal })) {
          if (message.event.case === 'machine') seen.push({ at: Date.now(), machine: message.event.value });
          if (message.event.case === 'run' && message.event.value.run) seen.push({ at: Date.now(), run: message.event.value.run });
        }
      } catch (error) {
        if (ConnectError.from(error).code !== Code.Canceled) throw error;
      }
    })();
    try {
      await waitFor('our watch live', () => stack.gateway.hub.size >= 2);
      const from = seen.length;
      await api(EndpointService, stack.keys.write).triggerEndpoint({ endpointId: slow, reason: 'browser test' });
      // Claimed: due while its 1.5 s call runs (what a watch can see of a run in flight).
      const due = await waitFor('the machine due', () => seen.slice(from).find((event) => event.machine?.state === MachineState.DUE), 20_000);
      await page.locator(`${row}[data-state=due]`).waitFor({ timeout: Math.max(1, due.at + 1_000 - Date.now()) });
      const finished = await waitFor('the run finished', () => seen.slice(from).find((event) => event.run), 20_000);
      await page.locator(`${row}[data-last-run="${finished.run!.id}"]`).waitFor({ timeout: Math.max(1, finished.at + 1_000 - Date.now()) });
      console.log(`ui: the page showed the run ${Date.now() - finished.at} ms or less after the stream reported it`);
    } finally {
      controller.abort();
      await watching;
    }
    expect(problems).toEqual([]);
  });

  it('pauses the machine from its page (checked through the API), and resumes it', async () => {
    await fresh();
    const health = ids.get('health')!;
    await signIn(page, stack.gateway.url, stack.keys.write, `#/endpoint/${health}`);
    await page.locator('svg.chart[data-current]:not([data-current=""])').waitFor({ timeout: 15_000 });
    // The statechart is drawn from the machine: every state and every transition.
    expect((await page.locator('svg.chart .node').allTextContents()).sort()).toEqual(['due', 'idle', 'paused', 'planning', 'running']);
    expect(await page.locator('svg.chart .edge').count()).toBe(12);
    await page.click('[data-action=pause]');
    await page.fill('.pause-form input[name=reason]', 'paused by the browser test');
    await page.click('.pause-form button[type=submit]');
    const endpoints = api(EndpointService, stack.keys.read);
    const paused = await waitFor('the pause, through the API', async () => {
      const { endpoint } = await endpoints.getEndpoint({ endpointId: health });
      return endpoint?.state === MachineState.PAUSED ? endpoint : null;
    });
    expect(paused.pause?.reason).toBe('paused by the browser test');
    await page.locator('svg.chart[data-current=paused]').waitFor({ timeout: 10_000 });
    // It got there along its edges (idle → planning → paused), drawn one after the other.
    expect(Number(await page.locator('svg.chart').getAttribute('data-animated'))).toBeGreaterThanOrEqual(2);
    await waitFor('the reason of the pause', async () => (await page.locator('.next-run .reason').textContent())?.includes('paused by the browser test'));
    expect(await page.locator('.timeline tr.run').first().textContent()).toMatch(/succeeded · HTTP 200 · .* late · attempt 1 · node-1/);
    await page.click('[data-action=resume]');
    await waitFor('the resume, through the API', async () => {
      const { endpoint } = await endpoints.getEndpoint({ endpointId: health });
      return endpoint?.pause === undefined && endpoint?.state !== MachineState.PAUSED;
    });
    expect(problems).toEqual([]);
  });

  it('disables the actions for a read key, and says why', async () => {
    await fresh();
    await signIn(page, stack.gateway.url, stack.keys.read, `#/endpoint/${ids.get('echo')}`);
    await page.locator('[data-action=pause]').waitFor({ timeout: 15_000 });
    for (const action of ['pause', 'trigger']) {
      const button = page.locator(`[data-action=${action}]`);
      expect(await button.isDisabled()).toBe(true);
      expect(await button.getAttribute('title')).toBe('needs a write key; this key is read');
    }
    expect(await page.locator('.read-only').textContent()).toContain('Read-only key');
  });

  it('says whether the calls are signed, and whose secrets sign them', async () => {
    await fresh();
    const slow = ids.get('slow')!;
    await signIn(page, stack.gateway.url, stack.keys.read, `#/endpoint/${slow}`);
    await page.locator('.signing[data-signed-by=none]').waitFor({ timeout: 15_000 });
    expect(await page.locator('.signing').textContent()).toBe('calls not signed (no signing secret for this endpoint or its tenant)');
    const { signingSecret } = await api(SigningService, stack.keys.admin).createSigningSecret({ endpointId: slow });
    await page.reload();
    await page.locator('.signing[data-signed-by=endpoint]').waitFor({ timeout: 15_000 });
    expect(await page.locator('.signing').textContent()).toBe("calls signed (Standard Webhooks) with this endpoint's own secret (1 active)");
    await api(SigningService, stack.keys.admin).revokeSigningSecret({ signingSecretId: signingSecret!.id });
    expect(problems).toEqual([]);
  });

  it('shows the next runs of the schedule in UTC and Paris time, marking the DST shift', async () => {
    await fresh();
    await signIn(page, stack.gateway.url, stack.keys.read, `#/endpoint/${ids.get('every-minute-paris')}`);
    const runs = page.locator('.preview-card tr.preview-run');
    await runs.first().waitFor({ timeout: 15_000 });
    expect(await runs.count()).toBe(10);
    expect(await page.locator('.preview-card th').allTextContents()).toEqual(['#', 'UTC', 'Local (Europe/Paris)', 'Offset', 'Note']);
    // From just before the 2026 spring change: 01:59 CET, then 03:00 CEST, marked as the shift.
    await page.fill('.preview-form input[name=from]', '2026-03-29T00:58:00Z');
    await page.click('.preview-form button[type=submit]');
    const shifted = page.locator('.preview-card tr.dst-shift');
    await shifted.waitFor({ timeout: 10_000 });
    expect(await shifted.count()).toBe(1);
    expect(await shifted.locator('td').allTextContents()).toEqual(['2', '2026-03-29 01:00:00Z', '2026-03-29 03:00:00', '+02:00 DST shift', 'the clocks went forward since the previous run (UTC offset +01:00 → +02:00)']);
    expect(await runs.first().locator('td').nth(2).textContent()).toBe('2026-03-29 01:59:00');
    // A start that is not RFC 3339 is refused on the page, naming what was typed.
    await page.fill('.preview-form input[name=from]', 'tomorrow');
    await page.click('.preview-form button[type=submit]');
    await waitFor('the refusal', async () => (await page.locator('.preview-card [role=alert]').textContent())?.includes('"tomorrow" is not an RFC 3339 time'));
    expect(problems).toEqual([]);
  });

  it('shows the scheduler node and the leases it holds', async () => {
    await fresh();
    await signIn(page, stack.gateway.url, stack.keys.read, '#/nodes');
    await page.locator('.node[data-worker="node-1"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('.takeovers').textContent()).toContain('Takeovers');
    expect(problems).toEqual([]);
  });

  it('lists what the job’s notify targets were told on the endpoint page: status, attempts, last error', async () => {
    const receiver = await startHttpTarget((call, response) => {
      response.statusCode = call.path === '/down' ? 500 : 200;
      response.end(call.path === '/down' ? 'receiver down' : 'ok');
    });
    const echo = ids.get('echo')!;
    const endpoints = api(EndpointService, stack.keys.write);
    const { endpoint } = await endpoints.getEndpoint({ endpointId: echo });
    const jobs = api(JobService, stack.keys.write);
    try {
      const targets = [
        { target: { case: 'webhook' as const, value: `${receiver.url}/up` }, after: 3 },
        { target: { case: 'slack' as const, value: `${receiver.url}/down` }, after: 3 },
      ];
      await jobs.updateJob({ jobId: endpoint!.jobId, notify: { targets } });
      await endpoints.pauseEndpoint({ endpointId: echo, reason: 'told by the browser test' });
      await waitFor('both targets called', () => receiver.calls.length >= 2);
      await fresh();
      await signIn(page, stack.gateway.url, stack.keys.read, `#/endpoint/${echo}`);
      const card = page.locator('.notifications-card');
      await card.locator('tr.notification.status-sent').waitFor({ timeout: 15_000 });
      const pending = await card.locator('tr.notification.status-pending').textContent({ timeout: 15_000 });
      expect(pending).toContain('paused');
      expect(pending).toContain('pending · 1 attempt');
      expect(pending).toContain('last error: HTTP 500: receiver down');
      expect(pending).toContain(`slack ${receiver.url}/down`);
      expect(pending).toContain('demo/echo was paused by a person: told by the browser test');
      expect(await card.locator('.notify-targets').textContent()).toBe(`told by the job: webhook ${receiver.url}/up (after 3) · slack ${receiver.url}/down (after 3)`);
      expect(problems).toEqual([]);
    } finally {
      await jobs.updateJob({ jobId: endpoint!.jobId, notify: { targets: [] } });
      await endpoints.resumeEndpoint({ endpointId: echo });
      await receiver.close();
    }
  });

  it('writes screenshots of the overview and of one endpoint', async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const flaky = ids.get('flaky')!;
    // A few runs first, so the sparklines and the timeline have something to show. flaky fails 30% of
    // its calls at random, and the planner may back it off towards its 1m maxInterval after a few
    // failures in a row: a run is triggered every 3 s until there are five, rather than waiting.
    let triggeredAt = 0;
    await waitFor('a few runs of flaky', async () => {
      const { summaries } = await api(OverviewService, stack.keys.read).listEndpointSummaries({ nameContains: 'flaky' });
      if ((summaries[0]?.recent.length ?? 0) >= 5) return true;
      if (Date.now() - triggeredAt > 3_000) {
        triggeredAt = Date.now();
        await api(EndpointService, stack.keys.write).triggerEndpoint({ endpointId: flaky, reason: 'browser test: runs for the screenshots' });
      }
      return false;
    }, 45_000);
    await api(HintService, stack.keys.write).addHint({ endpointId: flaky, kind: HintKind.INTERVAL, interval: '6s', reason: 'slower while the upstream recovers' }).catch(() => undefined);
    await fresh();
    await signIn(page, stack.gateway.url, stack.keys.write);
    await page.locator('.endpoint-row .spark polyline').first().waitFor({ timeout: 15_000 });
    await page.locator('.conn.live').waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(SCREENSHOTS, 'overview.png') });
    await page.goto(`${stack.gateway.url}/ui/#/endpoint/${flaky}`);
    await page.locator('svg.chart[data-current]:not([data-current=""])').waitFor({ timeout: 15_000 });
    await page.locator('.timeline tr.run').first().waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(SCREENSHOTS, 'endpoint.png'), fullPage: true });
    expect(problems).toEqual([]);
  });
});

describe.skipIf(!chromiumPath)('the visualizer with 10,000 endpoints', () => {
  const fx = useGateway();
  const COUNT = 10_000;

  beforeAll(async () => {
    const started = Date.now();
    await seedEndpoints(
      fx.db,
      async (name, endpointName) => {
        const cron = { kind: { case: 'cron' as const, value: { expression: '0 0 1 1 *', timezone: 'UTC' } } };
        const { job } = await client(fx.gateway.url, JobService, fx.a.keys.write).createJob({ name, endpoints: [{ name: endpointName, url: 'http://127.0.0.1:9/never', schedule: cron }] });
        return (await client(fx.gateway.url, OverviewService, fx.a.keys.read).listEndpointSummaries({ jobId: job!.id })).summaries[0]!.endpointId;
      },
      COUNT,
    );
    console.log(`ui: ${COUNT} endpoints made in ${Date.now() - started} ms`);
  });

  it('renders, scrolls to the end and filters, with a handful of rows in the DOM and the stream on what is on screen', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const problems = watchConsole(page);
    const watches: string[][] = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/tickwise.v1.WatchService/Watch')) watches.push(watchedIds(request.postDataBuffer()));
    });
    try {
      const opened = Date.now();
      await signIn(page, fx.gateway.url, fx.a.keys.read);
      await waitFor('the count', async () => (await page.locator('.filters .count').textContent()) === '10,000 endpoints', 30_000);
      await page.locator('.endpoint-row').first().waitFor();
      console.log(`ui: first screen of ${COUNT} endpoints in ${Date.now() - opened} ms`);
      const rows = () => page.locator('.vrow').count();
      expect(await rows()).toBeLessThan(60);
      expect(await page.locator('.endpoint-row .cell.name a').first().textContent()).toBe('e-00000');
      const firstWatch = await waitFor('a watch of the rows on screen', () => watches.find((ids) => ids.length > 0));
      expect(firstWatch.length).toBeLessThanOrEqual(40);

      const scrolled = Date.now();
      await page.locator('.vlist').evaluate((element) => element.scrollTo({ top: element.scrollHeight }));
      await page.locator('.endpoint-row .cell.name a', { hasText: 'e-09999' }).waitFor({ timeout: 60_000 });
      console.log(`ui: scrolled to the last of ${COUNT} endpoints in ${Date.now() - scrolled} ms`);
      expect(await rows()).toBeLessThan(60);
      const last = (await client(fx.gateway.url, OverviewService, fx.a.keys.read).listEndpointSummaries({ nameContains: 'e-09999' })).summaries[0]!.endpointId;
      const lastWatch = await waitFor('a watch of the last rows', () => watches.find((ids) => ids.includes(last)));
      expect(lastWatch.length).toBeLessThanOrEqual(40);

      await page.fill('input[name=name]', 'e-0999');
      await waitFor('the name filter', async () => (await page.locator('.filters .count').textContent()) === '10 endpoints', 15_000);
      expect(await page.locator('.endpoint-row').count()).toBe(10);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('says plainly when the stream is down, counts down to the next try, and reconnects', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    const problems = watchConsole(page);
    let restarted: Gateway | undefined;
    try {
      await signIn(page, fx.gateway.url, fx.a.keys.read);
      await page.locator('.conn.live').waitFor({ timeout: 15_000 });
      const port = fx.gateway.port;
      await fx.gateway.close();
      const banner = page.locator('.banner');
      await banner.waitFor({ state: 'visible', timeout: 15_000 });
      await waitFor('the countdown', async () => /^Disconnected — reconnecting in \d+s \(.+\)/.test((await banner.textContent()) ?? ''), 15_000);
      expect(await page.locator('.conn.retrying').count()).toBe(1);
      // The same gateway comes back on the same port: the page finds it again by itself.
      restarted = await startGateway({ pool: fx.db.pool, connectionString: fx.db.url, config: resolveGatewayConfig({ host: '127.0.0.1', port }), log: fx.log });
      await page.locator('.conn.live').waitFor({ timeout: 40_000 });
      expect(await banner.isHidden()).toBe(true);
      // Only the refused connections while it was down may complain.
      expect(problems.filter((problem) => !/ERR_CONNECTION_REFUSED|Failed to fetch|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET/.test(problem))).toEqual([]);
    } finally {
      await page.close();
      await restarted?.close();
    }
  });
});
