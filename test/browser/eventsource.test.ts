// A real browser's EventSource against the real server: headless Chromium (Debian's, driven by
// playwright-core) opens a page served from another origin, follows a live session's logs over
// SSE (so CORS is exercised too), and must see every line exactly once, in order, with UTF-8
// intact, a status event, and the end. Then the browser's own reconnect: the server drops every
// stream mid-session, EventSource comes back after `retry: 2000` with Last-Event-ID, and the
// lines are still exactly once each.
import { existsSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import t, { type Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../helper.js';

const CHROMIUM = '/usr/bin/chromium';
/** Sent with every request and as ?access_token= on the stream: the test keeps passing once auth is enforced. */
const TOKEN = 'browser-test-token-0123456789abcdef';
const UTF8_LINE = 'héllo ✓ — 日本語 🚀';

/** What the page hands back: every event the browser's EventSource delivered. */
interface Collected {
  stdout: string[];
  stderr: string[];
  statuses: Array<{ status: string }>;
  end: { status: string; exit_code: number | null } | null;
  /** `lastEventId` of each output event, in arrival order. */
  ids: string[];
  opens: number;
  errors: number;
  timedOut: boolean;
}

// The page: a real document from its own origin, with the collector as page script.
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>sessiond EventSource test</title></head>
<body><pre id="out"></pre>
<script>
window.progress = { stdout: 0, stderr: 0, opens: 0, errors: 0 };
window.collectLogs = (url, timeoutMs) => new Promise((resolve) => {
  const got = { stdout: [], stderr: [], statuses: [], end: null, ids: [], opens: 0, errors: 0, timedOut: false };
  const source = new EventSource(url);
  const finish = () => { clearTimeout(timer); source.close(); resolve(got); };
  const timer = setTimeout(() => { got.timedOut = true; finish(); }, timeoutMs);
  source.onopen = () => { got.opens++; window.progress.opens = got.opens; };
  // An error on a dropped connection: EventSource reconnects by itself (readyState CONNECTING).
  source.onerror = () => { got.errors++; window.progress.errors = got.errors; };
  for (const name of ['stdout', 'stderr']) {
    source.addEventListener(name, (event) => {
      // One data: field per log line; EventSource joins them with \\n.
      for (const line of event.data.split('\\n')) got[name].push(line);
      got.ids.push(event.lastEventId);
      window.progress[name] = got[name].length;
      document.getElementById('out').textContent += event.data + '\\n';
    });
  }
  source.addEventListener('status', (event) => got.statuses.push(JSON.parse(event.data)));
  source.addEventListener('end', (event) => { got.end = JSON.parse(event.data); finish(); });
});
</script></body></html>`;

/** The real server (file store, real processes) with CORS open, on a free port. */
async function startApi(t: Test) {
  const config = await testConfig(t, {
    SESSIOND_ALLOWED_COMMANDS: 'bash',
    SESSIOND_CORS_ORIGINS: '*',
    SESSIOND_TOKENS: `${TOKEN}:write`,
  });
  const app = await buildApp({ config, logger: false, forceCloseConnections: true });
  // What the browser sent on each stream request (to see Last-Event-ID on the reconnect).
  const streamRequests: Array<{ url: string; origin: string | undefined; lastEventId: string | undefined }> = [];
  app.server.on('request', (req: IncomingMessage) => {
    if (req.url?.includes('/logs/stream')) {
      streamRequests.push({
        url: req.url,
        origin: req.headers.origin,
        lastEventId: req.headers['last-event-id'] as string | undefined,
      });
    }
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const started: string[] = [];
  t.teardown(async () => {
    // Whatever is still running (a failed assertion midway) is stopped before the server goes.
    for (const id of started) {
      await fetch(`${url}/v1/sessions/${id}/stop`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ grace_ms: 0 }),
      }).catch(() => undefined);
    }
    await app.close();
  });
  const root = config.workspaceRoots[0] as string;
  return {
    app,
    url,
    streamRequests,
    async run(script: string): Promise<string> {
      const res = await fetch(`${url}/v1/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'browser', working_directory: root, command: 'bash', args: ['-c', script] }),
      });
      const body = (await res.json()) as { id: string };
      if (res.status !== 201) throw new Error(`start answered ${res.status}: ${JSON.stringify(body)}`);
      started.push(body.id);
      return body.id;
    },
  };
}

/** A second origin that serves the page (another port is another origin: the stream is cross-origin). */
async function startPageServer(t: Test): Promise<string> {
  const server = http.createServer((req, res) => {
    if (req.url === '/' || req.url === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

async function openPage(t: Test, browser: Browser, pageUrl: string): Promise<Page> {
  const context = await browser.newContext();
  t.teardown(() => context.close());
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(String(err)));
  t.teardown(() => {
    if (problems.length > 0) t.fail(`errors in the page: ${problems.join('; ')}`);
  });
  await page.goto(pageUrl);
  return page;
}

/**
 * A bash script: `count` numbered stdout lines, every fifth one also a numbered stderr line, the
 * UTF-8 line in the middle, a short sleep between lines.
 */
function script(count: number, sleep: string): string {
  return (
    `for i in $(seq 1 ${count}); do echo "line $i"; ` +
    `if [ $((i % 5)) -eq 0 ]; then echo "err $i" >&2; fi; ` +
    `if [ $i -eq ${Math.floor(count / 2)} ]; then echo '${UTF8_LINE}'; fi; ` +
    `sleep ${sleep}; done`
  );
}

function expected(count: number) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  for (let i = 1; i <= count; i++) {
    stdout.push(`line ${i}`);
    if (i % 5 === 0) stderr.push(`err ${i}`);
    if (i === Math.floor(count / 2)) stdout.push(UTF8_LINE);
  }
  return { stdout, stderr };
}

/** Offsets in event ids never go back and never repeat: each event carries new bytes. */
function assertIdsIncrease(t: Test, ids: string[]) {
  let last = [-1, -1];
  let ok = true;
  for (const id of ids) {
    const [out = NaN, err = NaN] = id.split('-').map(Number);
    const prev = last;
    if (!(out >= (prev[0] ?? 0) && err >= (prev[1] ?? 0) && (out > (prev[0] ?? 0) || err > (prev[1] ?? 0)))) ok = false;
    last = [out, err];
  }
  t.ok(ok, `event ids move forward: ${ids.slice(0, 3).join(', ')} ... ${ids.slice(-2).join(', ')}`);
}

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && !process.env.CI) {
  t.plan(0, `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the browser test`);
} else {
  t.test('a browser EventSource follows a live session', async (t) => {
    if (!haveChromium) {
      t.fail(`${CHROMIUM} is missing, and CI must run the browser test (.ci/run installs chromium)`);
      return;
    }
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    });
    t.teardown(() => browser.close());
    const pageUrl = await startPageServer(t);

    t.test('every line exactly once, in order, UTF-8 intact, status and end', async (t) => {
      const api = await startApi(t);
      const page = await openPage(t, browser, pageUrl);
      const id = await api.run(script(50, '0.01'));
      const streamUrl = `${api.url}/v1/sessions/${id}/logs/stream?from=start&access_token=${TOKEN}`;
      const got = await page.evaluate(([url, ms]) => (window as any).collectLogs(url, ms) as Promise<Collected>, [streamUrl, 30_000] as const);

      t.notOk(got.timedOut, 'the end event came');
      const want = expected(50);
      t.same(got.stdout, want.stdout, 'every stdout line exactly once, in order');
      t.same(got.stderr, want.stderr, 'every stderr line exactly once, in order');
      t.ok(got.stdout.includes(UTF8_LINE), 'the UTF-8 line arrived intact');
      t.ok(got.statuses.length >= 1, 'at least one status event');
      t.match(got.statuses[0], { status: /^(starting|running|exited)$/ }, 'the first status is the session');
      t.match(got.end, { status: 'exited', exit_code: 0 }, 'end carries the final session: exited, code 0');
      t.equal(got.opens, 1, 'one connection, no reconnect');
      assertIdsIncrease(t, got.ids);
      t.equal(api.streamRequests.length, 1, 'the browser opened the stream once');
      t.equal(api.streamRequests[0]?.origin, new URL(pageUrl).origin, 'a cross-origin request (CORS)');
    });

    t.test('EventSource reconnects with Last-Event-ID when the server drops the stream', async (t) => {
      const api = await startApi(t);
      const page = await openPage(t, browser, pageUrl);
      // About 3.5 s of output: the drop comes early, the reconnect (2 s later) while it is still running.
      const id = await api.run(script(100, '0.03'));
      const streamUrl = `${api.url}/v1/sessions/${id}/logs/stream?from=start&access_token=${TOKEN}`;
      const collecting = page.evaluate(([url, ms]) => (window as any).collectLogs(url, ms) as Promise<Collected>, [streamUrl, 30_000] as const);

      await page.waitForFunction(() => (window as any).progress.stdout >= 15, undefined, { timeout: 15_000 });
      t.equal(api.app.logStreams.openStreams, 1, 'one stream open on the server');
      api.app.logStreams.closeAll();
      const got = await collecting;

      t.notOk(got.timedOut, 'the end event came');
      const want = expected(100);
      t.same(got.stdout, want.stdout, 'every stdout line exactly once, in order, across the reconnect');
      t.same(got.stderr, want.stderr, 'every stderr line exactly once, in order, across the reconnect');
      t.ok(got.stdout.includes(UTF8_LINE), 'the UTF-8 line arrived intact');
      t.match(got.end, { status: 'exited', exit_code: 0 }, 'end carries the final session');
      t.ok(got.errors >= 1, 'the browser saw the drop');
      t.equal(got.opens, 2, 'the browser connected again by itself, once');
      assertIdsIncrease(t, got.ids);
      t.equal(api.streamRequests.length, 2, 'two stream requests');
      const resumedFrom = api.streamRequests[1]?.lastEventId;
      t.match(resumedFrom, /^\d+-\d+$/, `the reconnect sent Last-Event-ID (${resumedFrom})`);
      t.ok(got.ids.includes(resumedFrom as string), 'the Last-Event-ID is an id the browser had received');
      t.equal(api.streamRequests[0]?.lastEventId, undefined, 'the first request had none');
    });
  });
}
