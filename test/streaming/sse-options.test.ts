// What the query selects (from=tail|start, tail_bytes, streams=), keep-alive comments on a quiet
// stream, and CORS for browsers opening the stream from another origin.
import fs from 'node:fs/promises';
import http from 'node:http';
import t from 'tap';
import { eventually } from '../helper.js';
import { SseClient, authHeaders, parseId, request, startBash, startRealServer, waitEnded } from './helper.js';

t.test('from=tail (the default), tail_bytes, from=start, streams=', async (t) => {
  const server = await startRealServer(t);
  // 2000 lines of 52 bytes: 104000 bytes, more than the default tail of 65536.
  const session = await startBash(
    server,
    "for i in $(seq 1 2000); do printf 'line %05d %s\\n' $i 0123456789012345678901234567890123456789; done; echo 'err one' >&2; echo 'err two' >&2",
  );
  await waitEnded(server, session.id);
  const file = await fs.readFile(session.log_path);
  const allLines = file.toString('utf8').split('\n').slice(0, -1);
  t.equal(allLines.length, 2000);
  const L = 52;
  t.equal(file.length, 2000 * L);

  const stream = async (query: string) => {
    const client = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream${query}`);
    t.equal(client.status, 200, `${query || '(no query)'}: 200`);
    await client.untilEnd();
    await client.closed();
    return client;
  };
  /** The lines a tail of n bytes holds, starting at the first line start inside it. */
  const tailLines = (n: number) => {
    const start = Math.max(0, file.length - n);
    const lineStart = start === 0 ? 0 : Math.ceil(start / L) * L;
    return allLines.slice(lineStart / L);
  };

  const byDefault = await stream('');
  t.same(byDefault.lines('stdout'), tailLines(65536), 'the default is the last 65536 bytes, from a line start');
  t.not(byDefault.lines('stdout')[0], allLines[0], 'so not the first line');
  t.same(byDefault.lines('stderr'), ['err one', 'err two'], 'a short stream is whole in its tail');

  const tail = await stream('?from=tail&tail_bytes=120');
  t.same(tail.lines('stdout'), allLines.slice(-2), '120 bytes: the two whole lines inside them, not half of a third');
  t.same(tail.lines('stderr'), ['err one', 'err two'], 'a stream shorter than the tail is whole');

  const errTail = await stream('?from=tail&tail_bytes=10&streams=stderr');
  t.same(errTail.lines('stderr'), ['err two'], '10 bytes of stderr: from the start of the line inside them');

  const exact = await stream('?tail_bytes=104');
  t.same(exact.lines('stdout'), allLines.slice(-2), 'a tail starting exactly at a line start keeps that line');

  const zero = await stream('?from=tail&tail_bytes=0');
  t.same(zero.output(), [], 'tail_bytes=0: nothing old');
  t.equal(zero.events.at(-1)?.event, 'end');

  const start = await stream('?from=start');
  t.same(start.lines('stdout'), allLines, 'from=start: everything');
  t.same(start.lines('stderr'), ['err one', 'err two']);
  t.equal(parseId(start.output('stdout').at(-1)?.id).stdout, file.length);
  // A replay reads 256 KiB at a time (32 KiB when many stream): an event never holds more.
  t.ok(start.output('stdout').every((e) => Buffer.byteLength(e.data) <= 256 * 1024), 'no event holds more than one read of the log');

  const onlyErr = await stream('?from=start&streams=stderr');
  t.same(onlyErr.output('stdout'), [], 'streams=stderr: no stdout event');
  t.same(onlyErr.lines('stderr'), ['err one', 'err two']);
  t.match(onlyErr.output('stderr')[0]?.id, /^\d+-\d+$/, 'ids keep both offsets');

  const onlyOut = await stream('?from=start&streams=stdout');
  t.same(onlyOut.output('stderr'), [], 'streams=stdout: no stderr event');
  t.equal(onlyOut.lines('stdout').length, 2000);

  const twice = await stream('?from=start&streams=stdout,stdout');
  t.equal(twice.lines('stdout').length, 2000, 'a stream named twice is still sent once');
  t.same(twice.output('stderr'), []);

  const both = await stream('?from=start&streams=stderr,stdout');
  t.equal(both.lines('stdout').length, 2000);
  t.equal(both.lines('stderr').length, 2);
});

t.test('from=tail on a live session: the tail, then what comes next', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, 'for i in $(seq 1 50); do echo "old $i"; done; sleep 2; for i in 1 2 3; do echo "new $i"; sleep 0.05; done');
  // Connect once the old lines are all written, so the tail is of them.
  const oldBytes = Array.from({ length: 50 }, (_, i) => `old ${i + 1}\n`).join('').length;
  await eventually(async () => ((await fs.stat(session.log_path)).size >= oldBytes ? true : undefined));
  const client = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream?tail_bytes=20`);
  await client.untilEnd();
  const lines = client.lines('stdout');
  t.same(lines.slice(-3), ['new 1', 'new 2', 'new 3'], 'live lines follow the tail');
  t.same(lines, ['old 49', 'old 50', 'new 1', 'new 2', 'new 3'], 'the whole lines of the last 20 bytes, then the live lines');
});

t.test('keep-alive comments on a quiet stream', async (t) => {
  const server = await startRealServer(t, { SESSIOND_SSE_KEEPALIVE_MS: '100' });
  const session = await startBash(server, 'sleep 30');
  const client = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream`);
  await client.until((c) => c.comments.filter((x) => x === 'keep-alive').length >= 3, 20000, 'three keep-alives');
  t.ok(client.text().includes('\n: keep-alive\n\n'), 'sent as `: keep-alive` comments');
  t.same(client.output(), [], 'no output from a quiet session');
  client.abort();
  await client.closed();
});

t.test('CORS: preflight and the stream carry allow-origin for a listed origin only', async (t) => {
  const server = await startRealServer(t, { SESSIOND_CORS_ORIGINS: 'http://example.test' });
  const session = await startBash(server, 'echo hello; sleep 30');
  const path = `/v1/sessions/${session.id}/logs/stream`;
  const preflight = (origin: string) =>
    request(`${server.url}${path}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'last-event-id' },
    });

  const allowed = await preflight('http://example.test');
  t.ok(allowed.status === 204 || allowed.status === 200, `preflight answered ${allowed.status}`);
  t.equal(allowed.headers['access-control-allow-origin'], 'http://example.test');
  t.match(String(allowed.headers['access-control-allow-methods']), /GET/);
  t.match(String(allowed.headers['access-control-allow-headers']).toLowerCase(), /last-event-id/);

  const client = await SseClient.open(`${server.url}${path}?from=start`, { headers: { origin: 'http://example.test' } });
  t.equal(client.status, 200);
  t.equal(client.headers['access-control-allow-origin'], 'http://example.test', 'the SSE response itself allows the origin');
  t.match(client.headers['content-type'], /^text\/event-stream/);
  await client.until((c) => c.lines('stdout').includes('hello'), 20000, 'hello');
  client.abort();

  const follow = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stdout?follow=true`, {
    headers: { origin: 'http://example.test' },
  });
  t.equal(follow.headers['access-control-allow-origin'], 'http://example.test', 'so does the raw follow');
  follow.abort();

  const other = await preflight('http://evil.test');
  t.equal(other.headers['access-control-allow-origin'], undefined, 'another origin gets no allow-origin on preflight');
  const otherStream = await SseClient.open(`${server.url}${path}`, { headers: { origin: 'http://evil.test' } });
  t.equal(otherStream.headers['access-control-allow-origin'], undefined, 'nor on the stream');
  otherStream.abort();
  await Promise.all([client.closed(), follow.closed(), otherStream.closed()]);
});

t.test('HEAD on the live routes: the headers, and no stream left running', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, 'echo hello; sleep 30');
  // A keep-alive connection, as browsers and HTTP libraries keep them: it stays open after HEAD.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const head = (path: string) =>
    new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(`${server.url}${path}`, { method: 'HEAD', agent, headers: authHeaders(server.config) }, (res) => {
        res.resume();
        res.on('end', () => resolve(res));
      });
      req.on('error', reject);
      req.end();
    });
  const sse = await head(`/v1/sessions/${session.id}/logs/stream`);
  t.equal(sse.statusCode, 200);
  t.match(sse.headers['content-type'], /^text\/event-stream/);
  t.equal(sse.headers['cache-control'], 'no-cache');
  const follow = await head(`/v1/sessions/${session.id}/logs/stdout?follow=true`);
  t.equal(follow.statusCode, 200);
  t.equal(follow.headers['x-accel-buffering'], 'no');
  await eventually(() => (server.app.logStreams.openStreams === 0 ? true : undefined), 5000);
  t.equal(server.app.logStreams.openStreams, 0, 'no stream runs for a HEAD');
  // The same connection still serves the next request.
  const next = await new Promise<number>((resolve, reject) => {
    const req = http.get(`${server.url}/v1/sessions/${session.id}`, { agent, headers: authHeaders(server.config) }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
  t.equal(next, 200);
});

t.test('EventSource-style auth: a read token in ?access_token= opens the streams; no token is 401', async (t) => {
  const server = await startRealServer(t);
  const read = server.config.tokens.find((entry) => entry.scope === 'read');
  if (!read) {
    t.pass('no read token configured: nothing to check');
    return;
  }
  const session = await startBash(server, 'echo "for browsers"; sleep 30');
  const base = `${server.url}/v1/sessions/${session.id}`;
  const sse = await SseClient.open(`${base}/logs/stream?from=start&access_token=${read.token}`, { noAuth: true });
  t.equal(sse.status, 200);
  await sse.until((c) => c.lines('stdout').includes('for browsers'), 20000, 'output');
  sse.abort();
  const follow = await SseClient.open(`${base}/logs/stdout?follow=true&access_token=${read.token}`, { noAuth: true });
  t.equal(follow.status, 200);
  await follow.until((c) => c.text().includes('for browsers\n'), 20000, 'bytes');
  follow.abort();
  const none = await request(`${base}/logs/stream`, { noAuth: true });
  t.equal(none.status, 401);
  t.match(none.headers['content-type'], /^application\/problem\+json/);
  t.match(String(none.headers['www-authenticate']), /^Bearer/);
  const wrong = await request(`${base}/logs/stream?access_token=not-a-valid-token-at-all`, { noAuth: true });
  t.equal(wrong.status, 401);
  await Promise.all([sse.closed(), follow.closed()]);
  await eventually(() => (server.app.logStreams.openStreams === 0 ? true : undefined));
});
