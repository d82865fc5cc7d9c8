// Log routes on the fakes: the JSON tail cut at UTF-8 boundaries, and raw bytes with Range.
import t from 'tap';
import { assertProblem, buildFakeApp, type FakeApp } from '../helper.js';

async function startOne(ctx: FakeApp): Promise<string> {
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/v1/sessions',
    payload: { name: 'logger', working_directory: ctx.root, command: 'bash', args: [] },
  });
  return res.json().id;
}

t.test('tail of both streams, cut at a UTF-8 boundary', async (t) => {
  const ctx = await buildFakeApp(t);
  const id = await startOne(ctx);
  ctx.processes.write(id, 'stdout', 'line one\nhéllo wörld ✓\n');
  ctx.processes.write(id, 'stderr', 'warning: ☃\n');
  const full = await ctx.app.inject({ url: `/v1/sessions/${id}/logs` });
  t.equal(full.statusCode, 200);
  t.match(full.json(), {
    id,
    status: 'running',
    stdout: 'line one\nhéllo wörld ✓\n',
    stderr: 'warning: ☃\n',
    stdout_bytes: Buffer.byteLength('line one\nhéllo wörld ✓\n'),
    stderr_bytes: Buffer.byteLength('warning: ☃\n'),
  });
  t.type(full.json().last_activity, 'string');
  // The last 5 bytes of "✓\n" region: ' ✓\n' is 5 bytes; 4 bytes starts inside the ✓ (3 bytes).
  const cut = (await ctx.app.inject({ url: `/v1/sessions/${id}/logs?tail_bytes=3` })).json();
  t.equal(cut.stdout, '\n', 'a partial character at the start is dropped, never U+FFFD');
  t.notMatch(cut.stderr, /\uFFFD/);
  t.equal(cut.stdout_bytes, full.json().stdout_bytes, 'sizes are of the whole log');
  assertProblem(t, await ctx.app.inject({ url: `/v1/sessions/${id}/logs?tail_bytes=1048577` }), 400, 'validation_failed');
});

t.test('raw log: whole, ranges, and bad ranges', async (t) => {
  const ctx = await buildFakeApp(t);
  const id = await startOne(ctx);
  const bytes = Buffer.from([0x61, 0x62, 0xff, 0x00, 0xe2, 0x9c, 0x93, 0x0a]);
  ctx.processes.write(id, 'stdout', bytes.toString('latin1'));
  // The fake writes strings; write the exact bytes through the store instead.
  ctx.store.truncateLog(id, 'stdout', 0);
  ctx.store.appendLog(id, 'stdout', bytes);

  const whole = await ctx.app.inject({ url: `/v1/sessions/${id}/logs/stdout` });
  t.equal(whole.statusCode, 200);
  t.same(whole.rawPayload, bytes, 'byte-exact');
  t.equal(whole.headers['accept-ranges'], 'bytes');
  t.match(String(whole.headers['content-type']), /^text\/plain/);

  const part = await ctx.app.inject({ url: `/v1/sessions/${id}/logs/stdout`, headers: { range: 'bytes=2-4' } });
  t.equal(part.statusCode, 206);
  t.equal(part.headers['content-range'], `bytes 2-4/${bytes.length}`);
  t.same(part.rawPayload, bytes.subarray(2, 5));

  const open = await ctx.app.inject({ url: `/v1/sessions/${id}/logs/stdout`, headers: { range: 'bytes=6-' } });
  t.same(open.rawPayload, bytes.subarray(6));
  const suffix = await ctx.app.inject({ url: `/v1/sessions/${id}/logs/stdout`, headers: { range: 'bytes=-3' } });
  t.same(suffix.rawPayload, bytes.subarray(-3));
  const pastEnd = await ctx.app.inject({ url: `/v1/sessions/${id}/logs/stdout`, headers: { range: 'bytes=5-100' } });
  t.equal(pastEnd.statusCode, 206);
  t.equal(pastEnd.headers['content-range'], `bytes 5-7/${bytes.length}`, 'the end is clamped');

  const unsatisfiable = await ctx.app.inject({ url: `/v1/sessions/${id}/logs/stdout`, headers: { range: 'bytes=100-' } });
  assertProblem(t, unsatisfiable, 416, 'range_not_satisfiable');
  t.equal(unsatisfiable.headers['content-range'], `bytes */${bytes.length}`);
  const reversed = await ctx.app.inject({ url: `/v1/sessions/${id}/logs/stdout`, headers: { range: 'bytes=5-2' } });
  t.equal(reversed.statusCode, 200, 'a malformed range is ignored (RFC 9110): the whole log');
  t.same(reversed.rawPayload, bytes);

  const empty = await ctx.app.inject({ url: `/v1/sessions/${id}/logs/stderr` });
  t.equal(empty.statusCode, 200);
  t.equal(empty.body, '');
  assertProblem(t, await ctx.app.inject({ url: `/v1/sessions/${id}/logs/stdin` }), 400, 'validation_failed');
});

t.test('SSE from=tail on one stream: the id names a line start in both streams', async (t) => {
  const ctx = await buildFakeApp(t);
  const id = await startOne(ctx);
  await ctx.processes.write(id, 'stdout', 'aaaa\nbbbb\n');
  await ctx.processes.write(id, 'stderr', '1111\n2222\n');
  await ctx.processes.exit(id, 0);
  // tail_bytes=7 starts each stream at byte 3, inside its first line; the next line starts at 5.
  const res = await ctx.app.inject({ url: `/v1/sessions/${id}/logs/stream?from=tail&tail_bytes=7&streams=stdout` });
  t.equal(res.statusCode, 200);
  t.match(res.body, /id: 10-5\nevent: stdout\ndata: bbbb\n\n/);
  t.notMatch(res.body, /event: stderr/);
  t.match(res.body, /event: end/);
});
