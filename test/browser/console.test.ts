// The web console in a real browser (Debian's Chromium through playwright-core): it lists the
// sessions, shows a new one without a reload (via /v1/events), opens one and shows its log live
// (stderr coloured), stops it with a write token, hides the write actions from a read token, and
// raises no page error (a CSP violation would be one). SESSIOND_SCREENSHOTS=<folder> saves pictures.
// Also: the list's filters (status, label) narrow it, durations are shown, a session started from
// the console's form runs and appears, an agent session's page shows its summary, and the CSP of
// /ui/ is strict (no inline script runs: checked in the header and in the browser).
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import t, { type Test } from 'tap';
import { MODEL, RESULT_TEXT, transcript } from '../agent/fixtures.js';
import { TEST_TOKENS, buildFakeApp, eventually, type FakeApp } from '../helper.js';

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

/** The ids of the rows the list shows, in order. */
const rowIds = (page: Page): Promise<string[]> => page.$$eval('#sessions tbody tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.id ?? ''));

/** Waits until the list shows exactly these sessions (in any order). */
async function waitForRows(page: Page, ids: string[]): Promise<void> {
  await page.waitForFunction(
    (wanted) => {
      const shown = [...document.querySelectorAll('#sessions tbody tr')].map((r) => (r as HTMLElement).dataset.id ?? '').sort();
      return JSON.stringify(shown) === JSON.stringify([...wanted].sort());
    },
    ids,
    { timeout: 10_000 },
  );
}

/** Sets the label filter as a user does: types it, then leaves the field (the change event). */
async function filterLabel(page: Page, label: string): Promise<void> {
  await page.fill('#filter-label', label);
  await page.locator('#filter-label').blur();
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

  t.test('the list: status and label filters narrow it; durations are shown', async (t) => {
    // The service's clock runs behind by `behind` ms while a session starts, so it looks older.
    let behind = 0;
    const ctx = await buildFakeApp(t, { clock: () => new Date(Date.now() - behind) });
    await ctx.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = ctx.app.server.address() as { port: number };
    behind = (1 * 3600 + 2 * 60 + 3) * 1000;
    const webRunning = await start(ctx, 'web server', { labels: { team: 'web' } });
    behind = (2 * 60 + 5) * 1000;
    const opsDone = await start(ctx, 'ops backup', { labels: { team: 'ops' } });
    behind = 0;
    await ctx.processes.exit(opsDone, 0);
    const opsRunning = await start(ctx, 'ops monitor', { labels: { team: 'ops', tier: 'prod' } });
    const done = (await ctx.app.inject({ url: `/v1/sessions/${opsDone}` })).json();
    t.equal(done.status, 'exited');
    t.equal(Math.round((Date.parse(done.stopped_at) - Date.parse(done.started_at)) / 1000), 125, 'the ended one ran 2m 5s by its record');

    const browser = await launch(t);
    const { page, problems } = await open(browser, `http://127.0.0.1:${port}/ui/`);
    await signIn(page, TEST_TOKENS.read);
    await waitForRows(page, [webRunning, opsDone, opsRunning]);

    t.equal(await page.textContent(`tr[data-id="${opsDone}"] td.duration`), '2m 5s', 'an ended session: how long it ran');
    t.match(await page.textContent(`tr[data-id="${webRunning}"] td.duration`), /^1h [23]m$/, 'a live one: how long it has run (hours and minutes)');
    t.match(await page.textContent(`tr[data-id="${opsRunning}"] td.duration`), /^\d+s$/, 'a young one: seconds');

    await page.selectOption('#filter-status', 'running');
    await waitForRows(page, [webRunning, opsRunning]);
    t.pass('status=running shows only the running sessions');
    await page.selectOption('#filter-status', 'exited');
    await waitForRows(page, [opsDone]);
    t.pass('status=exited shows only the ended one');
    await page.selectOption('#filter-status', 'failed');
    await waitForRows(page, []);
    t.ok(await page.isVisible('#empty'), 'none matches: the console says so');

    await page.selectOption('#filter-status', '');
    await filterLabel(page, 'team=ops');
    await waitForRows(page, [opsDone, opsRunning]);
    t.pass('label team=ops shows only that team’s sessions');
    await page.selectOption('#filter-status', 'running');
    await waitForRows(page, [opsRunning]);
    t.pass('status and label together: both must match');
    await filterLabel(page, 'tier=prod');
    await page.selectOption('#filter-status', '');
    await waitForRows(page, [opsRunning]);
    t.pass('another label');

    // Live updates respect the filters: a session of another team stays out, one of ops comes in.
    await page.waitForSelector('#live.on');
    await filterLabel(page, 'team=ops');
    await waitForRows(page, [opsDone, opsRunning]);
    const otherTeam = await start(ctx, 'web worker', { labels: { team: 'web' } });
    const sameTeam = await start(ctx, 'ops worker', { labels: { team: 'ops' } });
    await waitForRows(page, [opsDone, opsRunning, sameTeam]);
    t.notOk((await rowIds(page)).includes(otherTeam), 'a new session of another team does not show under the filter');

    await filterLabel(page, '');
    await waitForRows(page, [webRunning, opsDone, opsRunning, otherTeam, sameTeam]);
    t.pass('clearing the filters shows every session again');

    // A session's page shows its duration too.
    await page.click(`tr[data-id="${opsDone}"] a`);
    await page.waitForFunction(() => document.querySelector('#s-name')?.textContent?.startsWith('ops backup'));
    const facts = await page.$$eval('#s-facts dt', (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent])));
    t.equal(facts.duration, '2m 5s', 'the session page: its duration');
    t.same(problems, [], 'no page error');
  });

  t.test('starting a session from the console with a write token', async (t) => {
    const ctx = await buildFakeApp(t);
    await ctx.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = ctx.app.server.address() as { port: number };
    const browser = await launch(t);
    const { page, problems } = await open(browser, `http://127.0.0.1:${port}/ui/`);
    await signIn(page, TEST_TOKENS.write);
    t.equal(await page.textContent('#scope'), 'write token');
    await page.click('#show-start');
    await page.waitForSelector('#start-form:not([hidden])');

    // Refused first (outside the workspace roots): the service's reason is shown, nothing starts.
    await page.fill('#start-form [name=name]', 'nightly build');
    await page.fill('#start-form [name=working_directory]', '/');
    await page.fill('#start-form [name=command]', 'bash');
    await page.click('#start-form button[type=submit]');
    await page.waitForFunction(() => (document.querySelector('#start-error')?.textContent ?? '') !== '');
    t.match(await page.textContent('#start-error'), /\S/, 'a refused start shows why');
    t.equal((await ctx.app.inject({ url: '/v1/sessions' })).json().items.length, 0, 'and starts nothing');

    await page.fill('#start-form [name=working_directory]', ctx.root);
    await page.fill('#start-form [name=args]', '-c\necho hi');
    await page.click('#start-form button[type=submit]');
    await page.waitForSelector('#session-view:not([hidden])');
    await page.waitForFunction(() => document.querySelector('#s-name')?.textContent?.startsWith('nightly build'));
    const id = decodeURIComponent(/#\/s\/(.+)$/.exec(page.url())?.[1] ?? '');
    const listed = (await ctx.app.inject({ url: '/v1/sessions' })).json().items;
    t.equal(listed.length, 1, 'one session started');
    t.match(listed[0], { id, name: 'nightly build', command: 'bash', args: ['-c', 'echo hi'], working_directory: ctx.root, status: 'running' }, 'as the form said');
    t.ok(await page.isVisible('#s-stop'), 'its page offers stop');
    await ctx.processes.write(id, 'stdout', 'hi\n');
    await page.waitForFunction(() => document.querySelector('#s-log')?.textContent?.includes('hi'));
    t.pass('its page shows its log');

    await page.click('a[href="#/"]');
    await page.waitForSelector(`tr[data-id="${id}"]`);
    t.match(await page.textContent(`tr[data-id="${id}"]`), /running.*nightly build/s, 'and it is in the list');
    t.equal(page.url().includes(TEST_TOKENS.write), false, 'the token never went into the URL');
    t.same(problems, [], 'no page error');
  });

  t.test('an agent session’s page shows the agent summary; a plain one shows none', async (t) => {
    const ctx = await buildFakeApp(t);
    await ctx.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = ctx.app.server.address() as { port: number };
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/v1/sessions',
      payload: { name: 'agent run', working_directory: ctx.root, command: 'claude', prompt: 'fix the test', agent: { kind: 'claude' } },
    });
    t.equal(res.statusCode, 201, 'an agent session started');
    const agent = res.json().id as string;
    await ctx.processes.write(agent, 'stdout', `${transcript().map((l) => l.replaceAll('@SESSION@', '6f3b0c8e-8b1a-4a55-9a53-2b1c1d2e3f40')).join('\n')}\n`);
    const summary = await eventually(async () => {
      const got = (await ctx.app.inject({ url: `/v1/sessions/${agent}` })).json();
      return got.agent?.result ? got.agent : undefined;
    });
    t.match(summary, { model: MODEL, num_turns: 3, total_cost_usd: 0.0123 });
    const plain = await start(ctx, 'plain');

    const browser = await launch(t);
    const { page, problems } = await open(browser, `http://127.0.0.1:${port}/ui/`);
    await signIn(page, TEST_TOKENS.read);
    await page.waitForSelector(`tr[data-id="${agent}"]`);
    await page.click(`tr[data-id="${agent}"] a`);
    await page.waitForSelector('#s-agent:not([hidden])');
    const text = (await page.textContent('#s-agent')) ?? '';
    t.match(text, new RegExp(`model ${MODEL}`), 'the model');
    t.match(text, /3 turns/, 'the turns');
    t.match(text, /\$0\.0123/, 'the cost');
    t.ok(text.includes(RESULT_TEXT), 'and the final result, as written (Unicode included)');

    await page.click('a[href="#/"]');
    await page.waitForSelector(`tr[data-id="${plain}"]`);
    await page.click(`tr[data-id="${plain}"] a`);
    await page.waitForFunction(() => document.querySelector('#s-name')?.textContent?.startsWith('plain'));
    t.ok(await page.isHidden('#s-agent'), 'a plain session has no agent summary');
    t.same(problems, [], 'no page error');
  });

  t.test('the CSP of /ui/ is strict: the header, and no inline script runs', async (t) => {
    const ctx = await buildFakeApp(t);
    await ctx.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = ctx.app.server.address() as { port: number };
    const base = `http://127.0.0.1:${port}`;
    for (const file of ['/ui/', '/ui/console.js', '/ui/console.css']) {
      const res = await fetch(`${base}${file}`);
      t.equal(res.status, 200, `${file} without a token`);
      const csp = res.headers.get('content-security-policy') ?? '';
      const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
      t.same(directives['default-src'], ["'none'"], `${file}: default-src 'none'`);
      t.same(directives['script-src'], ["'self'"], `${file}: scripts only from this origin`);
      t.notOk(/unsafe-inline|unsafe-eval|unsafe-hashes|strict-dynamic|nonce-|sha256-|\*|data:|blob:/.test(csp), `${file}: no inline, eval, wildcard or data script source`);
      t.same(directives['style-src'], ["'self'"], `${file}: no inline style either`);
      t.same(directives['frame-ancestors'], ["'none'"], `${file}: not framed`);
      t.same(directives['base-uri'], ["'none'"]);
      t.equal(csp.split(',').length, 1, `${file}: one policy (no second header loosening or doubling it)`);
    }
    const html = await (await fetch(`${base}/ui/`)).text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    t.ok(scripts.length > 0, 'the page loads a script');
    for (const [, attributes, body] of scripts) {
      t.match(attributes, /\bsrc="\/ui\//, 'from a file of this origin');
      t.equal(body?.trim(), '', 'with no inline code');
    }
    t.notOk(/\son[a-z]+\s*=/i.test(html), 'no inline event handler attribute');
    t.notOk(/<style\b|\sstyle\s*=/i.test(html), 'no inline style');

    // The browser enforces it: an injected inline script does not run and is reported.
    const browser = await launch(t);
    const page = await browser.newPage();
    await page.goto(`${base}/ui/`);
    await page.waitForSelector('#login:not([hidden])');
    const outcome = await page.evaluate(
      () =>
        new Promise<{ ran: boolean; violated: string }>((resolve) => {
          const w = window as unknown as { injectedRan?: boolean };
          document.addEventListener('securitypolicyviolation', (e) => resolve({ ran: w.injectedRan === true, violated: e.effectiveDirective }), { once: true });
          const script = document.createElement('script');
          script.textContent = 'window.injectedRan = true;';
          document.body.append(script);
        }),
    );
    t.same(outcome, { ran: false, violated: 'script-src-elem' }, 'an inline script is blocked by script-src');
  });
}
