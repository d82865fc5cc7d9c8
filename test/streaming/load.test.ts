// Many clients: a hundred on one chatty session each get every line and the end; fifty that
// connect and go away leave no descriptor, watcher or stream behind.
import fs from 'node:fs';
import t from 'tap';
import { eventually } from '../helper.js';
import { SseClient, numbered, request, sleep, startBash, startRealServer, waitEnded } from './helper.js';

const openFds = () => fs.readdirSync('/proc/self/fd').length;

t.test('100 concurrent SSE clients on one chatty session: each gets every line and the end', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(
    server,
    'for i in $(seq 1 300); do echo "line $i"; if [ $((i % 50)) = 0 ]; then echo "err $i" >&2; fi; sleep 0.005; done',
  );
  const url = `${server.url}/v1/sessions/${session.id}/logs/stream?from=start`;
  const clients = await Promise.all(Array.from({ length: 100 }, () => SseClient.open(url)));
  t.ok(clients.every((c) => c.status === 200), 'all 100 connected');
  await Promise.all(clients.map((c) => c.untilEnd(90000)));
  await Promise.all(clients.map((c) => c.closed()));

  const wantOut = numbered('line', 300);
  const wantErr = [50, 100, 150, 200, 250, 300].map((i) => `err ${i}`);
  const badOut = clients.filter((c) => JSON.stringify(c.lines('stdout')) !== JSON.stringify(wantOut)).length;
  const badErr = clients.filter((c) => JSON.stringify(c.lines('stderr')) !== JSON.stringify(wantErr)).length;
  t.equal(badOut, 0, 'every client got all 300 stdout lines, once, in order');
  t.equal(badErr, 0, 'every client got every stderr line');
  t.ok(
    clients.every((c) => c.endedCleanly && c.events.at(-1)?.event === 'end'),
    'every client got end, then the server closed the response',
  );
  t.ok(
    clients.every((c) => JSON.parse(c.events.at(-1)?.data ?? '{}').status === 'exited'),
    'every end carries the exited session',
  );
  await eventually(() => (server.app.logStreams.openStreams === 0 ? true : undefined));
  t.equal(server.app.logStreams.hub.watchedLogs, 0, 'no log is watched any more');
});

t.test('50 clients connect and go away: descriptors, watchers and streams are all released', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.05; done');
  // Let the server settle (keeper, first reads) before measuring.
  const warm = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream`);
  await warm.until((c) => c.lines('stdout').length > 0, 20000, 'a first tick');
  warm.abort();
  await eventually(() => (server.app.logStreams.openStreams === 0 && server.app.logStreams.hub.watchedLogs === 0 ? true : undefined));
  await sleep(200);
  const before = openFds();

  const sse = await Promise.all(
    Array.from({ length: 40 }, () => SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream`)),
  );
  const follow = await Promise.all(
    Array.from({ length: 10 }, () => SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stdout?follow=true`)),
  );
  const clients = [...sse, ...follow];
  // Every client is really being streamed to before it goes away.
  await Promise.all(sse.map((c) => c.until((x) => x.lines('stdout').length > 0, 30000, 'output')));
  await Promise.all(follow.map((c) => c.until((x) => x.raw.length > 0, 30000, 'bytes')));
  t.equal(server.app.logStreams.openStreams, 50, '50 streams open');
  t.equal(server.app.logStreams.hub.watchedLogs, 2, 'one watcher per log, however many clients');
  const during = openFds();
  t.ok(during >= before + 50, `descriptors went up while connected (${before} -> ${during})`);

  for (const client of clients) client.abort();
  await Promise.all(clients.map((c) => c.closed()));

  await eventually(() => (server.app.logStreams.openStreams === 0 ? true : undefined), 20000);
  await eventually(() => (server.app.logStreams.hub.watchedLogs === 0 ? true : undefined), 20000);
  const after = await eventually(() => {
    const n = openFds();
    return n <= before + 5 ? n : undefined;
  }, 20000).catch(() => openFds());
  t.ok(after <= before + 5, `descriptors back to about where they were (${before} -> ${during} -> ${after})`);
  const status = (await request(`${server.url}/v1/sessions/${session.id}`)).json().status;
  t.equal(status, 'running', 'the session itself is untouched');
});

t.test('a client that stops reading: the server holds a bounded amount for it, then catches up', async (t) => {
  const server = await startRealServer(t);
  // 100000 lines of 99 characters (the last without a newline): 10 MB, written as fast as the disk takes it.
  const session = await startBash(server, "head -c 9900000 /dev/zero | tr '\\0' 'x' | fold -w 99");
  const client = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream?from=start`);
  await client.until((c) => c.output().length > 0, 20000, 'first output');
  client.res.pause();
  // The whole log is on disk (the session has ended) while the client reads nothing.
  const ended = await waitEnded(server, session.id);
  t.equal(ended.status, 'exited');
  await sleep(500);
  // White-box: the server side of the stream (LogStreams keeps its open responses in `open`).
  const open = (server.app.logStreams as unknown as { open: Set<import('node:http').ServerResponse> }).open;
  const buffered = [...open].map((res) => res.writableLength);
  t.equal(buffered.length, 1);
  t.ok((buffered[0] ?? 0) < 1024 * 1024, `the server buffers ${buffered[0]} bytes for a paused client, not the 10 MB log`);
  // While it catches up the stream waits for the socket to drain many times: no listener may
  // be left behind by those waits.
  let maxListeners = 0;
  const sampler = setInterval(() => {
    for (const res of open) maxListeners = Math.max(maxListeners, res.listenerCount('close') + res.listenerCount('drain'));
  }, 5);
  client.res.resume();
  await client.untilEnd(120000);
  clearInterval(sampler);
  t.ok(maxListeners < 10, `listeners on the response stay few (at most ${maxListeners})`);
  const lines = client.lines('stdout');
  t.equal(lines.length, 100000, 'then every line arrives');
  t.ok(lines.every((l) => l.length === 99), 'whole lines');
});
