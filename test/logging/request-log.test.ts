// Logs for people (issue 14, point 6): one line per request, at info, written when the response
// is done, with method, route, URL (credentials redacted), status and duration; probes at debug;
// SESSIOND_LOG_FORMAT=pretty prints readable lines through pino-pretty.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createFakeProcessAdapter } from '../fakes/fake-processes.js';
import { createMemoryStore } from '../fakes/memory-store.js';
import { TEST_TOKENS, authHeader, eventually, tempDir, testConfig } from '../helper.js';

type Line = Record<string, any>;

async function loggedApp(t: Test, level = 'info') {
  const lines: Line[] = [];
  const config = await testConfig(t);
  const processes = createFakeProcessAdapter();
  const app = await buildApp({
    config,
    store: createMemoryStore(),
    processes,
    logger: { level, stream: { write: (line: string) => lines.push(JSON.parse(line) as Line) } },
    forceCloseConnections: true,
  });
  t.teardown(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`;
  return { app, lines, base, config, processes, requests: () => lines.filter((l) => l.request) };
}

t.test('one line per request, at info, with method, route, URL, status and time', async (t) => {
  const { lines, base, requests } = await loggedApp(t);
  const res = await fetch(`${base}/v1/sessions?limit=5`, { headers: authHeader('read') });
  t.equal(res.status, 200);
  const [line] = await eventually(() => (requests().length > 0 ? requests() : undefined));
  t.equal(requests().length, 1, 'one line for one request');
  t.equal(line?.level, 30, 'at info');
  t.match(line?.request, { method: 'GET', route: '/v1/sessions', url: '/v1/sessions?limit=5', status: 200 });
  t.type(line?.request.ms, 'number', 'with its duration in ms');
  t.match(line?.msg, /^GET \/v1\/sessions\?limit=5 200 [\d.]+ ms$/, 'and a message a person reads at a glance');
  t.notOk(lines.some((l) => l.msg === 'incoming request' || l.msg === 'request completed'), 'not Fastify’s own pair of lines');
});

t.test('a refused request, an unknown route and a stream are logged once each, without a token', async (t) => {
  const { base, requests, config } = await loggedApp(t);
  t.equal((await fetch(`${base}/v1/sessions`)).status, 401);
  t.equal((await fetch(`${base}/v1/nowhere`, { headers: authHeader('read') })).status, 404);
  const started = await fetch(`${base}/v1/sessions`, {
    method: 'POST',
    headers: { ...authHeader('write'), 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'logged', working_directory: config.workspaceRoots[0], command: 'bash' }),
  });
  const { id } = (await started.json()) as { id: string };
  // A stream with the token in its query; its line is written when the client goes away.
  const controller = new AbortController();
  const stream = await fetch(`${base}/v1/sessions/${id}/logs/stream?access_token=${TEST_TOKENS.read}`, { signal: controller.signal });
  t.equal(stream.status, 200);
  controller.abort();
  const all = await eventually(() => (requests().length >= 4 ? requests() : undefined));
  t.same(
    all.map((l) => [l.request.method, l.request.route, l.request.status]),
    [
      ['GET', '/v1/sessions', 401],
      ['GET', null, 404],
      ['POST', '/v1/sessions', 201],
      ['GET', '/v1/sessions/:id/logs/stream', 200],
    ],
    'each request once, in order, with its status',
  );
  t.equal(all[3]?.request.url, `/v1/sessions/${id}/logs/stream?access_token=[redacted]`, 'the stream’s token is redacted');
  t.equal(all[3]?.request.cut, true, 'a stream the client left is marked as cut');
  t.notMatch(JSON.stringify(all), new RegExp(`${TEST_TOKENS.read}|${TEST_TOKENS.write}`), 'no token in any line');
});

t.test('probes are logged at debug, so monitoring does not fill the log', async (t) => {
  const info = await loggedApp(t, 'info');
  for (const url of ['/healthz', '/readyz']) t.equal((await fetch(`${info.base}${url}`)).status, 200);
  t.equal((await fetch(`${info.base}/metrics`, { headers: authHeader('read') })).status, 200);
  await fetch(`${info.base}/v1/sessions`, { headers: authHeader('read') });
  await eventually(() => (info.requests().length > 0 ? true : undefined));
  t.same(info.requests().map((l) => l.request.route), ['/v1/sessions'], 'at info: only the API call');
  const debug = await loggedApp(t, 'debug');
  t.equal((await fetch(`${debug.base}/healthz`)).status, 200);
  const [line] = await eventually(() => (debug.requests().length > 0 ? debug.requests() : undefined));
  t.match(line, { level: 20, request: { route: '/healthz', status: 200 } }, 'at debug: there');
});

t.test('SESSIOND_LOG_FORMAT and SESSIOND_TLS take only their values', async (t) => {
  t.equal(loadConfig({}).logFormat, 'json', 'JSON lines by default');
  t.equal(loadConfig({ SESSIOND_LOG_FORMAT: 'pretty' }).logFormat, 'pretty');
  t.throws(() => loadConfig({ SESSIOND_LOG_FORMAT: 'fancy' }), ConfigError, 'a typo is an error, not silence');
  t.equal(loadConfig({}).tls, 'off', 'plain HTTP by default');
  t.equal(loadConfig({ SESSIOND_TLS: 'behind-proxy' }).tls, 'behind-proxy');
  t.throws(() => loadConfig({ SESSIOND_TLS: 'yes' }), ConfigError);
});

t.test('SESSIOND_LOG_FORMAT=pretty: the real server prints lines for people', async (t) => {
  const dataDir = await tempDir(t, 'sessiond-pretty-');
  const server = spawn(process.execPath, [fileURLToPath(new URL('../../src/server.js', import.meta.url))], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      SESSIOND_PORT: '0',
      SESSIOND_DATA_DIR: dataDir,
      SESSIOND_WORKSPACE_ROOTS: dataDir,
      SESSIOND_TOKENS: `${TEST_TOKENS.read}:read`,
      SESSIOND_LOG_FORMAT: 'pretty',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (server.exitCode === null) server.kill('SIGKILL');
  });
  let out = '';
  server.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const port = await eventually(() => /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1], 20_000);
  t.equal((await fetch(`http://127.0.0.1:${port}/v1/sessions`, { headers: authHeader('read') })).status, 200);
  const line = await eventually(() => out.split('\n').find((l) => l.includes('GET /v1/sessions 200')), 20_000);
  t.match(line, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: GET \/v1\/sessions 200 [\d.]+ ms/, 'time, level, message on one line');
  t.notOk(out.split('\n').some((l) => l.startsWith('{')), 'no JSON line');
  t.notOk(out.includes(TEST_TOKENS.read), 'no token');
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
});
