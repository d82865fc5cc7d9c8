// A container session's output, end and stop, against a real engine: stdout and stderr reach the
// session's log files byte for byte (bytes that are not UTF-8, \r, a 40 KB line, a last line
// without newline), the exit code and a signal come from the engine, interrupt sends a signal,
// and a stop honours its grace period: SIGTERM first, SIGKILL only for a command that ignores it.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { bytesOf, dockerFixture, listen, NO_ENGINE, untilContains } from './engine.js';

t.test('stdout and stderr are byte-exact in the log files, and the exit code comes from the engine', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  const ends = listen(t, f.adapter);
  const script = [
    `printf 'a\\377\\376b\\r\\n'`,
    `printf 'err one\\n' >&2`,
    `head -c 40000 /dev/zero | tr '\\0' x`,
    `printf '\\n'`,
    `printf 'err two, no newline' >&2`,
    `printf 'last, no newline'`,
    'exit 3',
  ].join('; ');
  const { spec, handle } = await f.launch('sh', ['-c', script]);
  t.match(handle.container_id, /^[0-9a-f]{64}$/, 'the handle holds the container id');
  const end = await ends.of(spec.sessionId);
  t.same(end, { state: 'ended', exit_code: 3, exit_signal: null, ended_at: end.ended_at }, 'ended with exit code 3');
  t.match(end.ended_at, /^\d{4}-\d\d-\d\dT/, 'with the time the engine saw the end');
  const stdout = Buffer.concat([Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x0d, 0x0a]), Buffer.alloc(40000, 'x'), Buffer.from('\nlast, no newline')]);
  t.ok((await bytesOf(spec.stdoutPath)).equals(stdout), 'stdout.log holds exactly the bytes written to stdout');
  t.equal((await bytesOf(spec.stderrPath)).toString('latin1'), 'err one\nerr two, no newline', 'stderr.log holds exactly the bytes written to stderr');
});

t.test('a signal ends it with exit_signal, and interrupt sends one only while it runs', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  const ends = listen(t, f.adapter);
  const { spec, handle } = await f.launch('sh', ['-c', 'echo ready; exec sleep 300']);
  await untilContains(spec.stdoutPath, 'ready\n');
  t.ok(Number.isInteger(handle.pid) && handle.pid! > 0, 'the handle holds the container host pid');
  t.equal(await f.adapter.signal(handle, 'SIGINT'), true, 'sent');
  const end = await ends.of(spec.sessionId);
  t.same([end.exit_code, end.exit_signal], [null, 'SIGINT'], 'ended by SIGINT');
  t.equal(await f.adapter.signal(handle, 'SIGINT'), false, 'an ended container gets nothing');
  t.same(await f.adapter.inspect(handle), end, 'inspect agrees');
});

t.test('stop: SIGTERM, and the command may finish within the grace period', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  listen(t, f.adapter);
  const script = `trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done`;
  const { spec, handle } = await f.launch('sh', ['-c', script]);
  await untilContains(spec.stdoutPath, 'ready\n');
  const state = await f.adapter.terminate(handle, 10_000);
  t.same(state.state === 'ended' && [state.exit_code, state.exit_signal], [0, null], 'it exited 0 from its TERM trap');
  t.equal((await bytesOf(spec.stdoutPath)).toString(), 'ready\ngot TERM\n', 'and its last words are in the log when terminate resolves');
  t.same(await f.adapter.terminate(handle, 10_000), state, 'stopping an ended container is a no-op');
});

t.test('stop: a command without a handler ends by SIGTERM at once (docker-init passes it on)', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  listen(t, f.adapter);
  const { spec, handle } = await f.launch('sh', ['-c', 'echo ready; exec sleep 300']);
  await untilContains(spec.stdoutPath, 'ready\n');
  const started = performance.now();
  const state = await f.adapter.terminate(handle, 30_000);
  t.same(state.state === 'ended' && [state.exit_code, state.exit_signal], [null, 'SIGTERM'], 'ended by SIGTERM');
  t.ok(performance.now() - started < 25_000, 'long before the grace period ran out');
});

t.test('stop: a command that ignores SIGTERM gets SIGKILL after the grace period', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  listen(t, f.adapter);
  const { spec, handle } = await f.launch('sh', ['-c', `trap '' TERM; echo ready; while :; do sleep 0.05; done`]);
  await untilContains(spec.stdoutPath, 'ready\n');
  const started = performance.now();
  const state = await f.adapter.terminate(handle, 500);
  t.same(state.state === 'ended' && [state.exit_code, state.exit_signal], [null, 'SIGKILL'], 'ended by SIGKILL');
  t.ok(performance.now() - started >= 500, 'not before the grace period');
});

t.test("ends are heard from the engine's event stream, not only the safety poll", { skip: NO_ENGINE }, async (t) => {
  // A poll that never comes within the test: only the event stream can tell the end.
  const f = await dockerFixture(t, { pollIntervalMs: 3_600_000 });
  const ends = listen(t, f.adapter);
  const { spec } = await f.launch('sh', ['-c', 'echo ready; while [ ! -e go ]; do sleep 0.05; done; exit 4']);
  await untilContains(spec.stdoutPath, 'ready\n');
  await writeFile(join(f.cwd, 'go'), '');
  let timer: NodeJS.Timeout | undefined;
  const end = await Promise.race([
    ends.of(spec.sessionId),
    new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), 30_000);
    }),
  ]);
  clearTimeout(timer);
  t.same(end && [end.exit_code, end.exit_signal], [4, null], 'heard, with its exit code');
});
