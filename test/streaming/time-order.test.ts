// Time and order of log lines (the log index): stdout and stderr replayed in the order they were
// written, timestamps of writing (not of reading), since by time and by duration, follow with a
// tail and with a resume, what follow cannot honour (400), and shutdown versus end under curl.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { eventually } from '../helper.js';
import { SseClient, authHeaders, request, startBash, startRealServer, waitEnded, type RealServer } from './helper.js';

const curlAuth = (server: RealServer) => Object.entries(authHeaders(server.config)).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);

function curl(args: string[], timeoutMs = 60000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code: unknown = err ? (err as unknown as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr });
    });
  });
}

const STAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z) (.*)$/;
/** `[time, text]` of a timestamped line. */
function stamped(line: string): [number, string] {
  const m = STAMP.exec(line);
  if (!m) throw new Error(`not a timestamped line: ${JSON.stringify(line)}`);
  return [Date.parse(m[1] as string), m[2] as string];
}

/** Output events of a whole SSE replay (from the start to `end`), as `stream:text`. */
async function replay(server: RealServer, id: string, query: string): Promise<string[]> {
  const sse = await SseClient.open(`${server.url}/v1/sessions/${id}/logs/stream?${query}`);
  await sse.untilEnd(30000);
  return sse.events.filter((e) => e.event === 'stdout' || e.event === 'stderr').flatMap((e) => e.data.split('\n').map((line) => `${e.event}:${line}`));
}

// out 1, err 1, out 2, err 2...: one line every 150 ms, alternating streams.
const INTERLEAVED = 'for i in 1 2 3 4 5 6 7 8; do echo "out $i"; sleep 0.15; echo "err $i" >&2; sleep 0.15; done';

t.test('interleaved stdout and stderr: replayed in written order, with the times they were written', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, INTERLEAVED);
  // Live: a client attached while the session writes.
  const live = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream?from=start`);
  await live.untilEnd(30000);
  await waitEnded(server, session.id);
  await server.app.logIndexer.settled(session.id);
  const expected = [1, 2, 3, 4, 5, 6, 7, 8].flatMap((i) => [`stdout:out ${i}`, `stderr:err ${i}`]);
  t.same(
    live.events.filter((e) => e.event === 'stdout' || e.event === 'stderr').flatMap((e) => e.data.split('\n').map((line) => `${e.event}:${line}`)),
    expected,
    'SSE live: written order',
  );
  t.same(await replay(server, session.id, 'from=start'), expected, 'SSE replay: written order across both streams, not one block then the other');

  const timed = await replay(server, session.id, 'from=start&timestamps=true');
  const rows = timed.map((entry) => {
    const [stream, line] = [entry.slice(0, 6), entry.slice(7)];
    const [time, text] = stamped(line);
    return { stream, time, text };
  });
  t.same(rows.map((r) => `${r.stream}:${r.text}`), expected, 'timestamps=true: the same lines, each prefixed with an RFC 3339 UTC time (ms) and one space');
  const outs = rows.filter((r) => r.stream === 'stdout').map((r) => r.time);
  const gaps = outs.slice(1).map((time, i) => time - (outs[i] as number));
  t.ok(gaps.every((gap) => gap >= 150 && gap < 2000), `stdout lines about 300 ms apart: ${gaps.join(', ')} ms`);
  t.ok(rows.every((r, i) => i === 0 || r.time >= (rows[i - 1] as { time: number }).time), 'times grow in written order');
  t.ok((outs.at(-1) as number) - (outs[0] as number) >= 7 * 250, 'times of writing: a replay read in one go still spans the 2+ seconds of writing');

  // Raw routes: the same times, bytes otherwise as written.
  const raw = await request(`${server.url}/v1/sessions/${session.id}/logs/stderr?timestamps=true`);
  t.equal(raw.status, 200);
  const rawLines = raw.body.toString().split('\n').filter(Boolean).map(stamped);
  t.same(rawLines.map(([, text]) => text), [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `err ${i}`), 'raw stderr with timestamps');
  t.same(rawLines.map(([time]) => time), rows.filter((r) => r.stream === 'stderr').map((r) => r.time), 'the same times as on the SSE stream');
  const followed = await curl(['-sSN', '--fail', ...curlAuth(server), `${server.url}/v1/sessions/${session.id}/logs/stdout?follow=true&timestamps=true`]);
  t.equal(followed.code, 0);
  t.same(followed.stdout.split('\n').filter(Boolean).map((line) => stamped(line)[0]), outs, 'raw follow with timestamps (curl -N): the same times');

  // since: by time (between err 4 and out 5) and by the equivalent duration.
  const out5 = rows.find((r) => r.text === 'out 5')?.time as number;
  const since = new Date(out5 - 75).toISOString();
  const fromFive = [5, 6, 7, 8].flatMap((i) => [`stdout:out ${i}`, `stderr:err ${i}`]);
  t.same(await replay(server, session.id, `from=start&since=${since}`), fromFive, `since=${since}: from the first line written at or after it`);
  t.same(await replay(server, session.id, `since=${Date.now() - (out5 - 75)}ms`), fromFive, 'since as a duration back from now (ms)');
  t.same(await replay(server, session.id, 'since=1h'), expected, 'since=1h: everything');
  t.same(await replay(server, session.id, 'since=2026-01-01T00:00:00Z&streams=stderr'), expected.filter((e) => e.startsWith('stderr')), 'one stream, since a time before it all');
  const rawSince = await request(`${server.url}/v1/sessions/${session.id}/logs/stdout?since=${since}`);
  t.equal(rawSince.body.toString(), 'out 5\nout 6\nout 7\nout 8\n', 'raw route with since');
  const badSince = await request(`${server.url}/v1/sessions/${session.id}/logs/stdout?since=yesterday`);
  t.equal(badSince.status, 400, 'a since that is neither a time nor a duration is 400');
  const noSuchDay = await request(`${server.url}/v1/sessions/${session.id}/logs/stream?since=2026-13-01T00:00:00Z`);
  t.equal(noSuchDay.status, 400, 'a time that does not exist is 400');
  const idx = fs.statSync(path.join(server.config.dataDir, 'sessions', session.id, 'logs.idx')).size;
  t.comment(`logs.idx: ${idx} bytes for ${16 * 6} bytes of output (tiny lines: the worst case)`);
});

t.test('a line written in two pieces takes the time of its first piece', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, "printf 'first piece'; sleep 0.5; printf ' second piece\\n'; echo next");
  await waitEnded(server, session.id);
  await server.app.logIndexer.settled(session.id);
  const res = await request(`${server.url}/v1/sessions/${session.id}/logs/stdout?timestamps=true`);
  const [[first, text] = [0, ''], [next] = [0]] = res.body.toString().split('\n').filter(Boolean).map(stamped);
  t.equal(text, 'first piece second piece', 'one line, bytes as written');
  // The second piece's time would be a few ms before the next line; the first piece's is the
  // 500 ms pause earlier, less however late a loaded machine noticed the first piece (times are
  // as observed): half the pause tells the two apart.
  t.ok(next - first >= 250, `its time is the first piece's, ${next - first} ms before the next line`);
  const sse = await replay(server, session.id, 'from=start&timestamps=true');
  t.equal(stamped((sse[0] as string).slice(7))[0], first, 'the SSE stream gives it the same time');
});

t.test('follow with tail_bytes and with Range: bytes=N-; what it cannot honour is 400', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, 'for i in $(seq 1 100); do echo "line $i"; done');
  await waitEnded(server, session.id);
  const file = fs.readFileSync(session.log_path);
  const url = `${server.url}/v1/sessions/${session.id}/logs/stdout?follow=true`;
  const tail = await curl(['-sSN', '--fail', ...curlAuth(server), `${url}&tail_bytes=30`]);
  t.equal(tail.code, 0);
  t.equal(tail.stdout, 'line 98\nline 99\nline 100\n', 'tail_bytes=30: the last 30 bytes, from the next line start');
  const resume = await curl(['-sSN', '--fail', ...curlAuth(server), '-H', 'Range: bytes=500-', url]);
  t.equal(resume.code, 0);
  t.equal(resume.stdout, file.subarray(500).toString(), 'Range: bytes=500- resumes at byte 500 exactly');
  const suffix = await curl(['-sSN', '--fail', ...curlAuth(server), '-H', 'Range: bytes=-9', url]);
  t.equal(suffix.stdout, 'line 100\n', 'Range: bytes=-9: the last 9 bytes');
  for (const [what, args] of [
    ['a closed range', ['-H', 'Range: bytes=0-10']],
    ['several ranges', ['-H', 'Range: bytes=0-,5-']],
    ['tail_bytes with a Range', ['-H', 'Range: bytes=5-', '--url-query', 'tail_bytes=10']],
    ['since with tail_bytes', ['--url-query', 'tail_bytes=10', '--url-query', 'since=1h']],
  ] as const) {
    const res = await curl(['-sS', '-o', '/dev/null', '-w', '%{http_code}', ...curlAuth(server), ...args, url]);
    t.equal(res.stdout, '400', `follow with ${what}: 400, not ignored`);
  }
  const past = await curl(['-sS', '-o', '/dev/null', '-w', '%{http_code}', ...curlAuth(server), '-H', `Range: bytes=${file.length + 1}-`, url]);
  t.equal(past.stdout, '416', 'a resume past the end: 416');
});

t.test('shutdown: curl -N on a raw follow exits 18 (aborted); an SSE stream closes without end', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, 'echo started; echo err >&2; sleep 60');
  const pid = session.pid as number;
  t.teardown(async () => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    const exitFile = path.join(server.config.dataDir, 'sessions', session.id, 'run', 'exit.json');
    await eventually(() => (fs.existsSync(exitFile) ? true : undefined), 10_000).catch(() => undefined);
  });
  const outputs: string[] = [];
  const run = (args: string[]) => {
    const at = outputs.push('') - 1;
    return new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('curl', ['-sN', ...curlAuth(server), ...args]);
      child.stdout.on('data', (d: Buffer) => (outputs[at] += d.toString()));
      child.on('close', (code) => resolve({ code, out: outputs[at] as string }));
    });
  };
  const follow = run([`${server.url}/v1/sessions/${session.id}/logs/stdout?follow=true`]);
  const sse = run([`${server.url}/v1/sessions/${session.id}/logs/stream`]);
  await eventually(() => (outputs[0]?.includes('started') && outputs[1]?.includes('data: started') ? true : undefined), 20_000);
  await server.app.close();
  const [f, s] = await Promise.all([follow, sse]);
  t.equal(f.code, 18, 'curl -N on the follow exits 18: the transfer was cut, the session did not end');
  t.equal(f.out, 'started\n');
  t.equal(s.code, 0, 'curl on the SSE stream: a clean close');
  t.notMatch(s.out, /event: end/, 'no `end` event: the session did not end (EventSource reconnects and resumes)');
  t.match(s.out, /data: started/);
});
