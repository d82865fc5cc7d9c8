// SESSIOND_MAX_LOG_BYTES with real processes: a 300 KB log under a 64 KiB cap keeps at most about
// twice the cap on disk, offsets stay absolute, every reader is told where the window starts
// (tail fields, 416, SSE `truncated`) and gets the exact bytes the session wrote at each offset.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import t from 'tap';
import { authHeaders, SseClient, parseId, request, startBash, startRealServer, waitEnded, type RealServer } from './helper.js';

const CAP = 64 * 1024;
const LINES = 3000;
/** One line of the writer: 100 bytes, its number in it, so any byte at any offset is known. */
const line = (i: number) => `L${String(i).padStart(6, '0')} ${'abcdefghij'.repeat(9)}a\n`;
const expected = Array.from({ length: LINES }, (_, i) => line(i + 1)).join('');
const SCRIPT = `seq -f 'L%06g ${'abcdefghij'.repeat(9)}a' 1 ${LINES}`;

const eventually = async (what: string, check: () => Promise<boolean>, timeoutMs = 20000) => {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

function curl(server: RealServer, args: string[]): Promise<{ code: number; out: string }> {
  const auth = authHeaders(server.config).authorization ?? '';
  return new Promise((resolve) => {
    execFile('curl', ['-s', '-H', `Authorization: ${auth}`, ...args], { timeout: 20000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout });
    });
  });
}

t.test('a 300 KB log under a 64 KiB cap', async (t) => {
  t.equal(expected.length, LINES * 100);
  const server = await startRealServer(t, { SESSIOND_MAX_LOG_BYTES: String(CAP) });
  const session = await startBash(server, SCRIPT);
  await waitEnded(server, session.id);
  const base = `${server.url}/v1/sessions/${session.id}`;
  let tail: Record<string, number | string> = {};
  await eventually('the cap to drop the oldest bytes', async () => {
    tail = (await request(`${base}/logs?tail_bytes=1048576`)).json();
    return (tail.stdout_retained_from as number) > 0;
  });

  const retained = tail.stdout_retained_from as number;
  const size = tail.stdout_bytes as number;
  t.equal(size, expected.length, 'the log keeps its size: offsets are absolute');
  t.equal(tail.stderr_retained_from, 0, 'stderr had nothing dropped');
  t.ok(size - retained <= 2 * CAP, `at most twice the cap retained (${size - retained} bytes)`);
  t.ok(size - retained >= CAP - 100, 'about the cap is kept');
  t.equal(retained % 100, 0, 'the window starts at a line start');
  t.equal(tail.stdout, expected.slice(retained), 'the tail reaching before the window is the window, exact');

  const stat = await fs.stat(session.log_path);
  t.equal(stat.size, expected.length, 'the file keeps its size');
  t.ok(stat.blocks * 512 <= 2 * CAP + 8192, `disk blocks ${stat.blocks * 512} bytes: at most about twice the cap`);

  // Offsets are absolute: a range inside the window is exactly those bytes.
  const at = retained + 1234;
  const part = await request(`${base}/logs/stdout`, { headers: { range: `bytes=${at}-${at + 99}` } });
  t.equal(part.status, 206);
  t.equal(part.headers['content-range'], `bytes ${at}-${at + 99}/${size}`);
  t.equal(part.body.toString(), expected.slice(at, at + 100), 'a range inside the window: the bytes written there');

  // A range before the window: 416 naming the retained range.
  const before = await request(`${base}/logs/stdout`, { headers: { range: 'bytes=0-' } });
  t.equal(before.status, 416);
  t.equal(before.headers['content-range'], `bytes */${size}`);
  t.match(before.json(), { code: 'range_not_satisfiable', size, retained_from: retained });
  t.match(before.json().detail, `${retained}-${size - 1}`);
  const followBefore = await request(`${base}/logs/stdout?follow=true`, { headers: { range: `bytes=${retained - 1}-` } });
  t.equal(followBefore.status, 416, 'a follow resuming before the window: 416 too');
  t.match(followBefore.json(), { retained_from: retained, size });
  const viaCurl = await curl(server, ['-o', '/dev/null', '-w', '%{http_code}', '-H', 'Range: bytes=10-', `${base}/logs/stdout`]);
  t.equal(viaCurl.out, '416', 'curl gets the 416');

  // The whole log is what is kept; tail_bytes before the window starts at it.
  const whole = await curl(server, [`${base}/logs/stdout`]);
  t.equal(whole.out, expected.slice(retained), 'GET without a Range: the retained bytes, exact');
  const tailed = await request(`${base}/logs/stdout?tail_bytes=1000000`);
  t.equal(tailed.body.toString(), expected.slice(retained), 'tail_bytes reaching before the window: from the window');
  const suffix = await request(`${base}/logs/stdout`, { headers: { range: 'bytes=-1000000' } });
  t.equal(suffix.status, 206);
  t.equal(suffix.headers['content-range'], `bytes ${retained}-${size - 1}/${size}`);
  t.equal(suffix.body.toString(), expected.slice(retained));
  const followed = await curl(server, ['-N', `${base}/logs/stdout?follow=true`]);
  t.equal(followed.code, 0);
  t.equal(followed.out, expected.slice(retained), 'a follow from the start: the retained bytes, then the end');

  // SSE from the start: `truncated` naming where it goes on, then the retained bytes, exact.
  const sse = await SseClient.open(`${base}/logs/stream?from=start&streams=stdout`);
  await sse.untilEnd(20000);
  const kinds = sse.events.map((e) => e.event).filter((e) => e !== 'status');
  t.equal(kinds[0], 'truncated', 'truncated first');
  const notice = JSON.parse(sse.events.find((e) => e.event === 'truncated')?.data ?? '{}');
  t.same(notice, { stream: 'stdout', size, retained_from: retained });
  t.equal(parseId(sse.events.find((e) => e.event === 'truncated')?.id).stdout, retained, 'its id continues at the window');
  const text = sse.lines('stdout').join('\n') + '\n';
  t.equal(text, expected.slice(retained), 'then exactly the retained bytes');
  t.equal(parseId(sse.output('stdout').at(-1)?.id).stdout, size);

  // A resume before the window does the same; one inside it, nothing of the kind.
  const resumed = await SseClient.open(`${base}/logs/stream?streams=stdout`, { headers: { 'last-event-id': '100-0' } });
  await resumed.untilEnd(20000);
  t.equal(resumed.events.filter((e) => e.event === 'truncated').length, 1, 'a resume before the window: truncated');
  t.equal(resumed.lines('stdout').join('\n') + '\n', expected.slice(retained));
  const inside = await SseClient.open(`${base}/logs/stream?streams=stdout`, { headers: { 'last-event-id': `${retained + 500}-0` } });
  await inside.untilEnd(20000);
  t.equal(inside.events.filter((e) => e.event === 'truncated').length, 0, 'a resume inside the window: no truncated');
  t.equal(inside.lines('stdout').join('\n') + '\n', expected.slice(retained + 500));
  const tailSse = await SseClient.open(`${base}/logs/stream?from=tail&tail_bytes=1000000&streams=stdout`);
  await tailSse.untilEnd(20000);
  t.equal(tailSse.events.filter((e) => e.event === 'truncated').length, 0, 'from=tail before the window: starts at it');
  t.equal(tailSse.lines('stdout').join('\n') + '\n', expected.slice(retained));
});
