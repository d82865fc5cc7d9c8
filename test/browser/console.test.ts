// The web console in a real browser (Debian's Chromium through playwright-core): it lists the
// sessions, shows a new one without a reload (via /v1/events), opens one and shows its log live
// (stderr coloured), stops it with a write token, hides the write actions from a read token, and
// raises no page error (a CSP violation would be one). SESSIOND_SCREENSHOTS=<folder> saves pictures.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import t, { type Test } from 'tap';
import { TEST_TOKENS, buildFakeApp, type FakeApp } from '../helper.js';

const CHROMIUM = '/usr/bin/chromium';

async function launch(t: Test): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  t.teardown(() => browser.close());
  return browser;
}

/** A page that records every page error and console error. */
async function open(browser: Browser, url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    // The console tells a write token from a read one by an empty POST /v1/sessions: 400 for a
    // write token, 403 for a read one. The browser logs that answer; it is the probe, not a fault.
    const probe = /status of 40[03]/.test(message.text()) && message.location().url.endsWith('/v1/sessions');
    if (!probe) problems.push(`console: ${message.text()} ${message.location().url}`);
  });
  await page.goto(url);
  return { page, problems };
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.fill('#token', token);
  await page.click('#token-form button');
  await page.waitForSelector('#list-view:not([hidden])');
}

async function start(ctx: FakeApp, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name, working_directory: ctx.root, command: 'bash', args: [], ...extra } });
  return res.json().id as string;
}

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && !process.env.CI) {
  t.plan(0, `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the browser test`);
} else {
  t.test('the console: list, live updates, a live log, stop; no page error', async (t) => {
    const ctx = await buildFakeApp(t);
    await ctx.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = ctx.app.server.address() as { port: number };
    const base = `http://127.0.0.1:${port}`;
    const first = await start(ctx, 'fix flaky test', { labels: { team: 'web' } });
    const done = await start(ctx, 'write the changelog');
    await ctx.processes.write(done, 'stdout', 'all done\n');
    await ctx.processes.exit(done, 0);

    const browser = await launch(t);
    const { page, problems } = await open(browser, `${base}/ui/`);
    await page.waitForSelector('#login:not([hidden])');
    t.notOk(page.url().includes(TEST_TOKENS.write), 'no token in the URL');
    await signIn(page, TEST_TOKENS.write);
    await page.waitForSelector(`tr[data-id="${first}"]`);
    t.match(await page.textContent(`tr[data-id="${first}"]`), /running.*fix flaky test.*team=web/s);
    t.match(await page.textContent(`tr[data-id="${done}"]`), /exited/);
    t.equal(await page.evaluate(() => location.href.includes('token')), false, 'still no token in the URL');
    t.ok(await page.evaluate(() => sessionStorage.getItem('sessiond.token') !== null), 'kept in sessionStorage');
    t.ok(await page.isHidden('#start-form'), 'the start form waits for its button');
    t.ok(await page.isVisible('#show-start'), 'which a write token is offered');

    // A session started elsewhere appears without a reload.
    await page.waitForSelector('#live.on');
    const later = await start(ctx, 'a new one');
    await page.waitForSelector(`tr[data-id="${later}"]`, { timeout: 10_000 });
    t.pass('a new session appeared without a reload');
    await ctx.processes.exit(first, 0).catch(() => undefined);
    await page.waitForSelector(`tr[data-id="${first}"] .badge.exited`, { timeout: 10_000 });
    t.pass('its end showed up live');
    if (process.env.SESSIOND_SCREENSHOTS) await page.screenshot({ path: `${process.env.SESSIOND_SCREENSHOTS}/console-list.png` });

    // Open one: its log, live, stderr coloured; then stop it.
    await ctx.processes.write(later, 'stdout', 'step 1\n');
    await page.click(`tr[data-id="${later}"] a`);
    await page.waitForSelector('#session-view:not([hidden])');
    await page.waitForFunction(() => document.querySelector('#s-log')?.textContent?.includes('step 1'));
    await ctx.processes.write(later, 'stderr', 'warning: careful\n');
    await ctx.processes.write(later, 'stdout', 'step 2\n');
    await page.waitForFunction(() => document.querySelector('#s-log')?.textContent?.includes('step 2'), undefined, { timeout: 10_000 });
    t.equal(await page.textContent('#s-log .stderr'), 'warning: careful', 'stderr is marked (and coloured)');
    // Timestamps on demand: the log again, each line with the time it was written.
    await page.check('#s-timestamps');
    await page.waitForFunction(() => (document.querySelector('#s-log')?.querySelectorAll('.ts').length ?? 0) >= 3, undefined, { timeout: 10_000 });
    t.match(await page.textContent('#s-log .ts'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z $/, 'lines carry their time');
    t.same(
      await page.$$eval('#s-log > span', (spans) => spans.map((s) => s.textContent?.replace(/^\S+Z /, ''))),
      ['step 1', 'warning: careful', 'step 2'],
      'stdout and stderr in the order they were written',
    );
    if (process.env.SESSIOND_SCREENSHOTS) await page.screenshot({ path: `${process.env.SESSIOND_SCREENSHOTS}/console-session.png` });
    await page.click('#s-stop');
    await page.waitForSelector('#s-name .badge.stopped', { timeout: 10_000 });
    t.pass('stopped from the console');
    t.same(problems, [], 'no page error, no console error (CSP included)');
  });

  t.test('a read token sees everything and is offered no write action', async (t) => {
    const ctx = await buildFakeApp(t);
    await ctx.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = ctx.app.server.address() as { port: number };
    const id = await start(ctx, 'watched');
    await ctx.processes.write(id, 'stdout', 'hello from a read token\n');
    const browser = await launch(t);
    const { page, problems } = await open(browser, `http://127.0.0.1:${port}/ui/`);
    await signIn(page, TEST_TOKENS.read);
    t.equal(await page.textContent('#scope'), 'read token');
    t.ok(await page.isHidden('#show-start'), 'no start form');
    await page.waitForSelector(`tr[data-id="${id}"]`);
    await page.click(`tr[data-id="${id}"] a`);
    await page.waitForFunction(() => document.querySelector('#s-log')?.textContent?.includes('hello from a read token'));
    t.ok(await page.isHidden('#s-stop'), 'no stop button');
    const badToken = await open(browser, `http://127.0.0.1:${port}/ui/`);
    await badToken.page.evaluate(() => sessionStorage.clear());
    await badToken.page.reload();
    await badToken.page.fill('#token', 'not-a-valid-token-0123456789');
    await badToken.page.click('#token-form button');
    await badToken.page.waitForSelector('#login-error:not([hidden])');
    t.match(await badToken.page.textContent('#login-error'), /not valid/);
    t.same(problems, [], 'no page error');
  });
}
