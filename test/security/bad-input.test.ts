// Bad input, clear errors (issue 9, point 7): control characters and lone surrogates in a start
// body, a 60 KB header and malformed HTTP over a real socket, and a log replaced by a directory.
// v1: a NUL in args gave a `failed` session with Node's internal message; a lone surrogate in a
// name made the list invalid JSON for jq; C1 controls were accepted; a 60 KB header got 431 as
// plain JSON; a log replaced by a directory answered 500.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { assertProblem, authHeader, buildFakeApp, testConfig } from '../helper.js';
import { createFakeProcessAdapter } from '../fakes/fake-processes.js';

t.test('control characters and lone surrogates: 400 validation_failed, nothing launched', async (t) => {
  const ctx = await buildFakeApp(t);
  const start = (body: Record<string, unknown>) =>
    ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'ok', working_directory: ctx.root, command: 'bash', args: [], ...body } });
  const refused: Array<[string, Record<string, unknown>]> = [
    ['NUL in args (v1: a failed session with Node’s message)', { args: ['-c', 'echo a\u0000b'] }],
    ['ESC in args', { args: ['\u001b[2J'] }],
    ['a lone surrogate in args', { args: ['\ud800'] }],
    ['NUL in the name', { name: 'a\u0000b' }],
    ['ESC in the name', { name: 'a\u001b[31mred' }],
    ['a line feed in the name', { name: 'two\nlines' }],
    ['DEL in the name', { name: 'a\u007fb' }],
    ['C1 NEL in the name', { name: 'a\u0085b' }],
    ['C1 CSI in the name', { name: 'a\u009b31m' }],
    ['a lone high surrogate in the name', { name: 'a\ud800' }],
    ['a lone low surrogate in the name', { name: '\udc00b' }],
    ['NUL in a tool', { allowed_tools: ['Bash\u0000'] }],
    ['C1 in a tool', { allowed_tools: ['Read\u0085'] }],
    ['a lone surrogate in a tool', { allowed_tools: ['Read\udfff'] }],
    ['NUL in the prompt', { prompt: 'hello\u0000world' }],
    ['a lone surrogate in the prompt', { prompt: 'hello \ud83d' }],
    ['NUL in executive', { executive: 'x\u0000' }],
    ['C1 in mission_id', { mission_id: 'm\u0090' }],
    ['a lone surrogate in branch', { branch: 'main\ud800' }],
  ];
  for (const [what, body] of refused) {
    const res = await start(body);
    t.test(what, async (t) => assertProblem(t, res, 400, 'validation_failed'));
  }
  t.same(ctx.processes.launched, [], 'nothing was started');

  const accepted: Array<[string, Record<string, unknown>]> = [
    ['a script with newlines, tabs and a carriage return in args', { args: ['-c', 'echo a\n\techo b\r\n'] }],
    ['letters beyond ASCII and an emoji (a surrogate pair) in the name', { name: 'Ünïcødé 😀 ✓' }],
    ['newlines and tabs in the prompt', { prompt: 'line one\n\tline two\r\n' }],
  ];
  for (const [what, body] of accepted) {
    const res = await start(body);
    t.equal(res.statusCode, 201, `${what}: 201`);
  }
  const list = await ctx.app.inject({ url: '/v1/sessions' });
  t.notMatch(list.body, /\\ud[89abcdef][0-9a-f]{2}/i, 'the list carries no escaped surrogate (what jq refuses)');
  t.equal(list.json().items.length, accepted.length);
});

/** Writes `request` on a fresh connection and reads until the server closes it. */
function exchange(port: number, request: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(request));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body });
    });
  });
}

t.test('a 60 KB header is 431 and malformed HTTP 400, both problem+json', async (t) => {
  const ctx = await buildFakeApp(t);
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (ctx.app.server.address() as net.AddressInfo).port;

  const big = await exchange(port, `GET /v1/sessions HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(60 * 1024)}\r\n\r\n`);
  t.equal(big.status, 431, '431');
  t.match(big.headers['content-type'], /^application\/problem\+json/, 'problem+json (v1: application/json)');
  t.equal(Number(big.headers['content-length']), Buffer.byteLength(big.body), 'a well-formed length');
  t.match(JSON.parse(big.body), { type: 'about:blank', status: 431, code: 'headers_too_large', title: 'Request header fields too large' });
  t.equal(big.headers.connection, 'close');

  const garbage = await exchange(port, 'NOT HTTP AT ALL\r\n\r\n');
  t.equal(garbage.status, 400, 'malformed: 400');
  t.match(garbage.headers['content-type'], /^application\/problem\+json/);
  t.match(JSON.parse(garbage.body), { status: 400, code: 'bad_request' });

  const fine = await exchange(port, `GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  t.equal(fine.status, 200, 'the server still answers');
});

t.test('a log that is no longer a regular file: 409 log_unavailable on tail, raw and SSE, not 500', async (t) => {
  const config = await testConfig(t);
  const processes = createFakeProcessAdapter();
  // The real file store (the data dir of the test config), fake processes.
  const app = await buildApp({ config, processes, logger: false, forceCloseConnections: true });
  t.teardown(() => app.close());
  const started = await app.inject({
    method: 'POST',
    url: '/v1/sessions',
    headers: authHeader('write'),
    payload: { name: 'dir', working_directory: config.workspaceRoots[0], command: 'bash', args: [] },
  });
  const session = started.json() as { id: string; log_path: string; stderr_path: string };
  await fs.writeFile(session.log_path, 'before\n');
  const get = (url: string, headers: Record<string, string> = {}) => app.inject({ url, headers: { ...authHeader('read'), ...headers } });
  const base = `/v1/sessions/${session.id}/logs`;
  t.equal((await get(base)).json().stdout, 'before\n', 'readable to begin with');

  // The session replaces its stdout log by a directory (with something in it).
  await fs.rm(session.log_path);
  await fs.mkdir(session.log_path);
  await fs.writeFile(`${session.log_path}/x`, 'x');
  for (const [what, url, headers] of [
    ['tail', base, {}],
    ['raw', `${base}/stdout`, {}],
    ['raw with a Range', `${base}/stdout`, { range: 'bytes=0-9' }],
    ['raw follow', `${base}/stdout?follow=true`, {}],
    ['SSE', `${base}/stream`, {}],
  ] as const) {
    const res = await get(url, headers);
    t.test(what, async (t) => {
      assertProblem(t, res, 409, 'log_unavailable');
      t.match(res.json().detail, /stdout log .* not a regular file/);
    });
  }
  t.equal((await get(`${base}/stderr`)).statusCode, 200, 'the other log is still served');

  // A FIFO instead: nothing may block on it (an open of a FIFO waits for a writer).
  await fs.rm(session.log_path, { recursive: true });
  execFileSync('mkfifo', [session.log_path]);
  // Refused at once, like any log that is not a regular file: nothing waits for a writer.
  assertProblem(t, await get(base), 409, 'log_unavailable');
  assertProblem(t, await get(`${base}/stdout`), 409, 'log_unavailable');
  await processes.exit(session.id, 0);
  assertProblem(t, await get(`${base}/stream`), 409, 'log_unavailable');
});
