// The SSE log stream as a user sees it, over a real socket with real processes: from start to
// `end`, line ends of every kind and partial lines, ended sessions, and the errors.
import fs from 'node:fs/promises';
import t from 'tap';
import { eventually } from '../helper.js';
import { SseClient, numbered, parseId, request, startBash, startRealServer, waitEnded, type SseEvent } from './helper.js';

const bytesOf = (lines: string[]) => lines.reduce((n, line) => n + Buffer.byteLength(line) + 1, 0);

t.test('a live stream from start to end: every line once, in order, ids are byte offsets', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(
    server,
    'for i in $(seq 1 40); do echo "out $i ✓"; echo "err $i" >&2; sleep 0.01; done; sleep 0.2; echo "out last"; exit 3',
  );
  const client = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream?from=start`);
  t.equal(client.status, 200);
  t.match(client.headers['content-type'], /^text\/event-stream/);
  t.equal(client.headers['cache-control'], 'no-cache');
  t.equal(client.headers['x-accel-buffering'], 'no');

  const end = await client.untilEnd();
  await client.closed();
  t.ok(client.endedCleanly, 'the server closed the response by itself after end');

  t.same(client.items[0], { type: 'retry', ms: 2000 }, 'retry: 2000 comes first');
  const events = client.events;
  t.equal(events[0]?.event, 'status', 'then a status event');
  t.match(JSON.parse(events[0]?.data ?? '{}'), { id: session.id, status: 'running' });
  t.equal(events[events.length - 1], end, 'end is the last event');
  t.match(JSON.parse(end.data), { id: session.id, status: 'exited', exit_code: 3 }, 'end carries the final session');

  const wantOut = [...numbered('out', 40).map((l) => `${l} ✓`), 'out last'];
  const wantErr = numbered('err', 40);
  t.same(client.lines('stdout'), wantOut, 'every stdout line exactly once, in order');
  t.same(client.lines('stderr'), wantErr, 'every stderr line exactly once, in order');

  // Each output event's id says how many bytes of each stream were sent up to and with it.
  let out = 0;
  let err = 0;
  let ok = true;
  for (const event of client.output()) {
    const lines = event.data.split('\n');
    if (event.event === 'stdout') out += bytesOf(lines);
    else err += bytesOf(lines);
    const id = parseId(event.id);
    if (id.stdout !== out || id.stderr !== err) {
      ok = false;
      t.fail(`event id ${event.id} but ${out}-${err} bytes were sent`);
      break;
    }
  }
  t.ok(ok, 'every id equals the bytes sent of each stream so far');
  const [outSize, errSize] = await Promise.all([fs.stat(session.log_path), fs.stat(session.stderr_path)]);
  const lastOut = client.output('stdout').at(-1) as SseEvent;
  const lastErr = client.output('stderr').at(-1) as SseEvent;
  t.equal(parseId(lastOut.id).stdout, outSize.size, 'the last stdout id is the size of stdout.log');
  t.equal(parseId(lastErr.id).stderr, errSize.size, 'the last stderr id is the size of stderr.log');
  t.equal(parseId(client.output().at(-1)?.id).stderr, errSize.size);
  t.same(
    client.events.filter((e) => e.event === 'status').map((e) => JSON.parse(e.data).status),
    ['running', 'exited'],
    'a status event on connect, and one when the status changed',
  );
  const file = await fs.readFile(session.log_path, 'utf8');
  t.same(file.split('\n').slice(0, -1), wantOut, 'the log itself agrees');
});

t.test('\\r\\n and a lone \\r end lines; a partial line comes on its own before the end', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(
    server,
    [
      "printf 'crlf one\\r\\ncrlf two\\r\\n'",
      "printf 'progress 10%%\\rprogress 50%%\\rprogress 100%%\\r'",
      "printf '\\ndone\\n'",
      "printf 'caf\\xc3'",
      'sleep 0.5',
      "printf '\\xa9 no newline'",
      'sleep 2',
      "printf ' and the rest\\n'",
      "printf 'tail without newline'",
    ].join('; '),
  );
  const client = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream?from=start`);
  // The partial line arrives while the process is still sleeping, long before it ends.
  await client.until((c) => c.lines('stdout').join('').includes('café no newline'), 20000, 'the partial line');
  t.notOk(client.events.some((e) => e.event === 'end'), 'the partial line came before the end');
  await client.untilEnd();
  await client.closed();
  const lines = client.lines('stdout');
  t.same(lines.slice(0, 6), ['crlf one', 'crlf two', 'progress 10%', 'progress 50%', 'progress 100%', 'done']);
  t.same(lines.slice(-2), [' and the rest', 'tail without newline']);
  // "café no newline" is written in two parts half a second apart, the é split in the middle:
  // the partial flush may send "caf" first, but never half a character.
  const middle = lines.slice(6, -2);
  t.equal(middle.join(''), 'café no newline', 'the partial line, whole');
  t.ok(middle.length <= 2, 'at most one cut, where the pause was');
  t.notOk(lines.some((l) => l.includes('\uFFFD')), 'a character split by a pause is not broken');
  const partial = client.output('stdout').find((e) => e.data.endsWith('no newline'));
  t.ok(partial, 'the partial line is an event of its own');
  const partialIdx = client.events.indexOf(partial as SseEvent);
  const endIdx = client.events.findIndex((e) => e.event === 'end');
  t.ok(partialIdx >= 0 && partialIdx < endIdx, 'partial line before end');
  const file = await fs.readFile(session.log_path);
  t.equal(parseId(client.output('stdout').at(-1)?.id).stdout, file.length, 'the trailing partial line is sent before end, up to the last byte');
  t.equal(parseId(partial?.id).stdout, file.indexOf(Buffer.from(' and the rest')), 'the partial event id is just past what it sent');
});

t.test('a log that ends in an unfinished character: every byte is sent before end', async (t) => {
  const server = await startRealServer(t);
  // The process dies after writing 2 of the 3 bytes of ✓ (as a stdio buffer flush can leave it).
  const session = await startBash(server, "printf 'line\\nend \\xe2\\x9c'; sleep 0.5");
  const client = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream?from=start`);
  await client.untilEnd();
  const size = (await fs.stat(session.log_path)).size;
  t.equal(size, 11);
  t.equal(parseId(client.output('stdout').at(-1)?.id).stdout, size, 'the last id is the size of the log');
  const lines = client.lines('stdout');
  t.equal(lines[0], 'line');
  // "end " may go out first as a partial line (after 200 ms); the unfinished character only at the end.
  t.equal(lines.slice(1).join(''), 'end \uFFFD', 'the unfinished character is sent, as U+FFFD, last');
  // A client resuming at the last id gets nothing more, and the end.
  const again = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream?last_event_id=${size}-0`);
  await again.untilEnd();
  t.same(again.output(), []);
});

t.test('a stream on an ended session replays and ends', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, 'echo "hello"; echo "oops" >&2; echo "bye"; exit 0');
  const ended = await waitEnded(server, session.id);
  t.equal(ended.status, 'exited');
  const client = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream?from=start`);
  t.equal(client.status, 200);
  const end = await client.untilEnd();
  await client.closed();
  t.ok(client.endedCleanly);
  t.match(JSON.parse(client.events[0]?.data ?? '{}'), { status: 'exited' }, 'the status event says exited');
  t.same(client.lines('stdout'), ['hello', 'bye']);
  t.same(client.lines('stderr'), ['oops']);
  t.match(JSON.parse(end.data), { status: 'exited', exit_code: 0 });
  t.same(
    client.events.map((e) => e.event).filter((e) => e === 'status' || e === 'end'),
    ['status', 'end'],
    'no status change on a session that had already ended',
  );
});

t.test('errors: unknown session 404, bad streams or last_event_id 400, all problem+json', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, 'echo hi');
  const expectProblem = async (url: string, status: number, code: string, headers: Record<string, string> = {}) => {
    const res = await request(`${server.url}${url}`, { headers: { accept: 'text/event-stream', ...headers } });
    t.equal(res.status, status, `${url}: ${status}`);
    t.match(res.headers['content-type'], /^application\/problem\+json/, `${url}: problem+json`);
    t.match(res.json(), { status, code, type: 'about:blank' });
  };
  await expectProblem('/v1/sessions/no-such-session-1/logs/stream', 404, 'session_not_found');
  await expectProblem('/v1/sessions/no-such-session-1/logs/stdout?follow=true', 404, 'session_not_found');
  await expectProblem(`/v1/sessions/${session.id}/logs/stream?streams=stdin`, 400, 'validation_failed');
  await expectProblem(`/v1/sessions/${session.id}/logs/stream?streams=stdout,`, 400, 'validation_failed');
  await expectProblem(`/v1/sessions/${session.id}/logs/stream?last_event_id=abc`, 400, 'validation_failed');
  await expectProblem(`/v1/sessions/${session.id}/logs/stream?last_event_id=5`, 400, 'validation_failed');
  await expectProblem(`/v1/sessions/${session.id}/logs/stream?from=middle`, 400, 'validation_failed');
  await expectProblem(`/v1/sessions/${session.id}/logs/stream?tail_bytes=-1`, 400, 'validation_failed');
  t.equal(server.app.logStreams.openStreams, 0, 'no stream was opened by a refused request');
});

t.test('stopping the session through the API: status, then end with the stopped session', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, 'echo "up"; sleep 60');
  const sse = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream`);
  const follow = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stdout?follow=true`);
  await sse.until((c) => c.lines('stdout').includes('up'), 20000, 'up');
  const stopped = await request(`${server.url}/v1/sessions/${session.id}/stop`, { method: 'POST', body: { grace_ms: 0 } });
  t.equal(stopped.status, 200);
  const end = await sse.untilEnd();
  await Promise.all([sse.closed(), follow.closed()]);
  t.ok(sse.endedCleanly && follow.endedCleanly, 'both responses end by themselves');
  t.match(JSON.parse(end.data), { status: 'stopped', exit_signal: 'SIGTERM' });
  t.same(
    sse.events.filter((e) => e.event === 'status').map((e) => JSON.parse(e.data).status),
    ['running', 'stopped'],
  );
  t.equal(Buffer.concat(follow.raw).toString(), 'up\n');
});

t.test('deleting the session (force) while streams are open: they close, nothing hangs', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, 'while true; do echo tick; sleep 0.05; done');
  const sse = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream`);
  const follow = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stdout?follow=true`);
  await sse.until((c) => c.lines('stdout').includes('tick'), 20000, 'tick');
  const deleted = await request(`${server.url}/v1/sessions/${session.id}?force=true`, { method: 'DELETE' });
  t.equal(deleted.status, 204);
  await Promise.all([sse.closed(20000), follow.closed(20000)]);
  t.pass('both responses closed');
  await eventually(() => (server.app.logStreams.openStreams === 0 && server.app.logStreams.hub.watchedLogs === 0 ? true : undefined));
  t.equal((await request(`${server.url}/v1/sessions/${session.id}`)).status, 404);
});
