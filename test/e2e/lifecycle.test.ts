// End to end, over real HTTP with real processes: start, exit status, logs, wait, report
// detection, delete, a burst of starts, and a restart of the service while sessions run.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { eventually } from '../helper.js';
import { isRunning, readWhenWritten, startServer, type Json } from './helper.js';

t.test('start: 201, Location, running, a real pid', async (t) => {
  const s = await startServer(t);
  const res = await s.start({ name: 'Build the docs', args: ['-c', 'echo started; sleep 30'], mission_id: 'm-7' });
  t.equal(res.status, 201);
  t.match(res.headers.get('content-type'), /^application\/json/);
  const session = res.json();
  t.match(session.id, /^build-the-docs-[0-9a-z]+-[0-9a-z]+$/);
  t.equal(res.headers.get('location'), `/v1/sessions/${session.id}`);
  t.match(session, { status: 'running', command: 'bash', args: ['-c', 'echo started; sleep 30'], working_directory: s.root, mission_id: 'm-7' });
  t.type(session.pid, 'number');
  t.ok(await isRunning(session.pid), 'the pid is a live process');
  t.match(await fs.readFile(`/proc/${session.pid}/cmdline`, 'utf8'), /sleep[\0 ]30/, 'and it is the command');

  const read = await s.request('GET', res.headers.get('location') as string);
  t.equal(read.status, 200);
  t.match(read.json(), { id: session.id, status: 'running', pid: session.pid });

  const list = await s.request('GET', '/v1/sessions');
  t.same(list.json().items.map((x: Json) => x.id), [session.id]);
  const meta = await s.request('GET', `/v1/sessions/${session.id}/metadata`);
  t.match(meta.json(), { id: session.id, name: 'Build the docs', command: 'bash', mission_id: 'm-7' });

  const stopped = await s.request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 5000 } });
  t.equal(stopped.json().status, 'stopped');
  await eventually(async () => ((await isRunning(session.pid)) ? undefined : true));
});

t.test('exit status: a code, and a signal the process sent itself', async (t) => {
  const s = await startServer(t);
  const seven = await s.run('exit 7');
  const ended = await s.waitEnded(seven.id);
  t.match(ended, { status: 'exited', exit_code: 7, exit_signal: null });
  t.type(ended.stopped_at, 'string');
  t.match((await s.request('GET', `/v1/sessions/${seven.id}`)).json(), { status: 'exited', exit_code: 7 });

  const usr1 = await s.run('kill -USR1 $$');
  t.match(await s.waitEnded(usr1.id), { status: 'exited', exit_code: null, exit_signal: 'SIGUSR1' });
  t.match((await s.request('GET', `/v1/sessions/${usr1.id}`)).json(), { status: 'exited', exit_signal: 'SIGUSR1' });

  const listed = (await s.request('GET', '/v1/sessions?status=exited')).json();
  t.same(listed.items.map((x: Json) => x.id).sort(), [seven.id, usr1.id].sort());
});

t.test('logs: JSON tail, raw bytes exactly as printed, ranges', async (t) => {
  const s = await startServer(t);
  // Every byte value, then 2 MiB of random bytes, on stderr; UTF-8 text (and a CRLF) on stdout.
  const binary = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(2 * 1024 * 1024)]);
  await fs.writeFile(path.join(s.root, 'payload.bin'), binary);
  const text = 'first line\r\nwörld ✓ naïve\nno newline at the end';
  // The text goes in as an argument (no shell quoting involved) and printf prints it unchanged.
  const started = await s.start({ args: ['-c', 'printf "%s" "$1"; cat payload.bin >&2', 'bash', text] });
  t.equal(started.status, 201);
  const session = started.json();
  await s.waitEnded(session.id);
  const expectedOut = Buffer.from(text, 'utf8');

  const rawOut = await s.request('GET', `/v1/sessions/${session.id}/logs/stdout`);
  t.equal(rawOut.status, 200);
  t.match(rawOut.headers.get('content-type'), /^text\/plain/);
  t.equal(rawOut.headers.get('accept-ranges'), 'bytes');
  t.same(rawOut.bytes, expectedOut, 'stdout byte for byte');
  const rawErr = await s.request('GET', `/v1/sessions/${session.id}/logs/stderr`);
  t.equal(rawErr.status, 200);
  t.ok(rawErr.bytes.equals(binary), 'stderr byte for byte, every byte value included');

  const tail = await s.request('GET', `/v1/sessions/${session.id}/logs`);
  t.equal(tail.status, 200);
  t.same(tail.json(), {
    id: session.id,
    status: 'exited',
    last_activity: tail.json().last_activity,
    stdout: text,
    stderr: tail.json().stderr,
    stdout_bytes: expectedOut.length,
    stderr_bytes: binary.length,
    // Nothing dropped under the default 1 GiB cap: each window starts at byte 0.
    stdout_retained_from: 0,
    stderr_retained_from: 0,
  });
  t.ok(Buffer.byteLength(tail.json().stderr) <= 65536 * 3, 'the JSON tail is the last 64 KiB, not the whole log');
  t.type(tail.json().last_activity, 'string');

  // A tail that starts inside a multi-byte character drops the partial character.
  const after = ' naïve\nno newline at the end';
  // Two bytes more than `after`: the last two of the three bytes of "✓".
  const short = (await s.request('GET', `/v1/sessions/${session.id}/logs?tail_bytes=${Buffer.byteLength(after) + 2}`)).json();
  t.equal(short.stdout, after, 'cut at a character boundary');
  t.notMatch(short.stdout, /\uFFFD/, 'no replacement character');

  const range = await s.request('GET', `/v1/sessions/${session.id}/logs/stdout`, { headers: { range: 'bytes=6-9' } });
  t.equal(range.status, 206);
  t.equal(range.headers.get('content-range'), `bytes 6-9/${expectedOut.length}`);
  t.same(range.bytes, expectedOut.subarray(6, 10));
  t.equal(range.text, 'line');
  const suffix = await s.request('GET', `/v1/sessions/${session.id}/logs/stderr`, { headers: { range: 'bytes=-3' } });
  t.equal(suffix.status, 206);
  t.same(suffix.bytes, binary.subarray(-3));
  const open = await s.request('GET', `/v1/sessions/${session.id}/logs/stderr`, { headers: { range: 'bytes=1000000-' } });
  t.equal(open.status, 206);
  t.equal(open.headers.get('content-range'), `bytes 1000000-${binary.length - 1}/${binary.length}`);
  t.ok(open.bytes.equals(binary.subarray(1000000)), 'an open-ended range, byte for byte');
  const middle = await s.request('GET', `/v1/sessions/${session.id}/logs/stderr`, { headers: { range: 'bytes=100-355' } });
  t.equal(middle.status, 206);
  t.same(middle.bytes, binary.subarray(100, 356));
  t.equal(middle.headers.get('content-length'), '256');
});

t.test('logs of a running session grow as it prints', async (t) => {
  const s = await startServer(t);
  const session = await s.run('echo one; while [ ! -e go ]; do sleep 0.05; done; echo two');
  await eventually(async () => ((await s.request('GET', `/v1/sessions/${session.id}/logs`)).json().stdout === 'one\n' ? true : undefined));
  const running = (await s.request('GET', `/v1/sessions/${session.id}/logs`)).json();
  t.match(running, { status: 'running', stdout: 'one\n', stdout_bytes: 4 });
  await fs.writeFile(path.join(s.root, 'go'), '');
  await s.waitEnded(session.id);
  t.match((await s.request('GET', `/v1/sessions/${session.id}/logs`)).json(), { status: 'exited', stdout: 'one\ntwo\n', stdout_bytes: 8 });
});

t.test('wait: the timeout answers running, an end answers the terminal status', async (t) => {
  const s = await startServer(t);
  const session = await s.run('while [ ! -e done ]; do sleep 0.05; done; exit 4');
  const timedOut = await s.request('POST', `/v1/sessions/${session.id}/wait`, { body: { timeout_ms: 200 } });
  t.equal(timedOut.status, 200);
  t.match(timedOut.json(), { id: session.id, status: 'running', exit_code: null, stopped_at: null });
  t.ok(await isRunning(session.pid), 'waiting did not disturb it');

  const waiting = s.request('POST', `/v1/sessions/${session.id}/wait`, { body: { timeout_ms: 30_000 } });
  await fs.writeFile(path.join(s.root, 'done'), '');
  const ended = await waiting;
  t.equal(ended.status, 200);
  t.match(ended.json(), { status: 'exited', exit_code: 4 });

  const bare = await s.request('POST', `/v1/sessions/${session.id}/wait`);
  t.equal(bare.status, 200, 'the body may be omitted');
  t.same(bare.json(), ended.json(), 'waiting on an ended session answers it at once, unchanged');
});

t.test('report detection: completed, completed_missing_report, terminated', async (t) => {
  const s = await startServer(t);
  const dir = async (name: string) => {
    const full = path.join(s.root, name);
    await fs.mkdir(full);
    return full;
  };

  const atRoot = await s.run('printf "# Done\\n\\nAll good.\\n" > report.md', { expects_report: true, working_directory: await dir('at-root') });
  t.match(await s.waitEnded(atRoot.id), { status: 'completed', exit_code: 0, expects_report: true });
  const report = await s.request('GET', `/v1/sessions/${atRoot.id}/report`);
  t.equal(report.status, 200);
  t.match(report.headers.get('content-type'), /^text\/markdown/);
  t.equal(report.text, '# Done\n\nAll good.\n');

  const inOutputs = await s.run('mkdir -p outputs && echo "# Out" > outputs/report.md', { expects_report: true, working_directory: await dir('in-outputs') });
  t.match(await s.waitEnded(inOutputs.id), { status: 'completed' });
  t.equal((await s.request('GET', `/v1/sessions/${inOutputs.id}/report`)).text, '# Out\n');

  const missing = await s.run('echo "no report today"', { expects_report: true, working_directory: await dir('missing') });
  t.match(await s.waitEnded(missing.id), { status: 'completed_missing_report', exit_code: 0 });
  const noReport = await s.request('GET', `/v1/sessions/${missing.id}/report`);
  t.equal(noReport.status, 404);
  t.equal(noReport.json().code, 'report_not_found');

  const plain = await s.run('echo "# not asked for" > report.md', { working_directory: await dir('plain') });
  t.match(await s.waitEnded(plain.id), { status: 'exited' }, 'no report expected: exited, whatever it wrote');

  const stoppedDir = await dir('stopped');
  const stopped = await s.run('echo ready; sleep 30', { expects_report: true, working_directory: stoppedDir });
  const res = await s.request('POST', `/v1/sessions/${stopped.id}/stop`, { body: { grace_ms: 5000 } });
  t.equal(res.status, 200);
  t.match(res.json(), { status: 'terminated', expects_report: true });
});

t.test('delete: 409 while running, force stops and deletes, then 404 and the folder is gone', async (t) => {
  const s = await startServer(t);
  const session = await s.run('sleep 30');
  const folder = path.join(s.config.dataDir, 'sessions', session.id);
  t.ok((await fs.stat(folder)).isDirectory(), 'the session has a folder in the data dir');

  const refused = await s.request('DELETE', `/v1/sessions/${session.id}`);
  t.equal(refused.status, 409);
  t.match(refused.headers.get('content-type'), /^application\/problem\+json/);
  t.equal(refused.json().code, 'session_running');
  t.ok(await isRunning(session.pid), 'a refused delete leaves it running');

  const forced = await s.request('DELETE', `/v1/sessions/${session.id}?force=true`);
  t.equal(forced.status, 204);
  t.equal(forced.text, '');
  t.notOk(await isRunning(session.pid), 'the process was stopped first');
  const gone = await s.request('GET', `/v1/sessions/${session.id}`);
  t.equal(gone.status, 404);
  t.equal(gone.json().code, 'session_not_found');
  await t.rejects(fs.stat(folder), { code: 'ENOENT' }, 'its folder (record and logs) is gone');
  t.same((await s.request('GET', '/v1/sessions')).json().items, []);

  const ended = await s.run('true');
  await s.waitEnded(ended.id);
  t.equal((await s.request('DELETE', `/v1/sessions/${ended.id}`)).status, 204, 'an ended session deletes without force');
  t.equal((await s.request('DELETE', `/v1/sessions/${ended.id}`)).status, 404, 'and only once');
});

t.test('a burst of 30 starts with one name: 30 sessions, 30 distinct ids', async (t) => {
  const s = await startServer(t);
  const replies = await Promise.all(
    Array.from({ length: 30 }, () => s.start({ name: 'Nightly Build #42', args: ['-c', 'exit 0'] })),
  );
  t.same(replies.map((r) => r.status), Array(30).fill(201), 'every start succeeded');
  const ids = replies.map((r) => r.json().id as string);
  t.equal(new Set(ids).size, 30, 'no two ids alike');
  for (const id of ids) t.match(id, /^nightly-build-42-[0-9a-z]+-[0-9a-z]+$/);
  const pids = replies.map((r) => r.json().pid as number);
  t.equal(new Set(pids).size, 30, 'thirty processes');
  for (const id of ids) t.match(await s.waitEnded(id), { status: 'exited', exit_code: 0 });
  t.equal((await s.request('GET', '/v1/sessions?limit=500')).json().items.length, 30, 'all listed');
});

t.test('restart: sessions outlive the service, and their end is known after it', async (t) => {
  const first = await startServer(t);
  const config = first.config;
  const flag = path.join(first.root, 'finish');
  const long = await first.run(`while [ ! -e ${flag} ]; do sleep 0.05; done; exit 6`, { name: 'long one' });
  const shortFlag = path.join(first.root, 'finish-short');
  const short = await first.run(`while [ ! -e ${shortFlag} ]; do sleep 0.05; done; exit 5`, { name: 'short one' });
  const stubborn = await first.run('trap "" TERM; echo ready; while :; do sleep 0.05; done', { name: 'stubborn one' });
  await eventually(async () => ((await first.request('GET', `/v1/sessions/${stubborn.id}/logs`)).json().stdout === 'ready\n' ? true : undefined));
  t.match((await first.request('GET', `/v1/sessions/${short.id}`)).json(), { status: 'running' });

  await first.close();
  t.ok(await isRunning(long.pid), 'closing the service leaves its sessions running');
  // The short one ends while no server is watching: its keeper records the status.
  await fs.writeFile(shortFlag, '');
  const exitFile = path.join(config.dataDir, 'sessions', short.id, 'run', 'exit.json');
  await readWhenWritten(exitFile);
  t.notOk(await isRunning(short.pid), 'it ended');

  const second = await startServer(t, { config });
  const longNow = await second.request('GET', `/v1/sessions/${long.id}`);
  t.equal(longNow.status, 200);
  t.match(longNow.json(), { status: 'running', pid: long.pid }, 'the same process, still running');
  t.match((await second.request('GET', `/v1/sessions/${short.id}`)).json(), { status: 'exited', exit_code: 5, exit_signal: null });

  // The new service can stop what the old one started, SIGKILL after the grace included.
  const stopped = await second.request('POST', `/v1/sessions/${stubborn.id}/stop`, { body: { grace_ms: 200 } });
  t.match(stopped.json(), { status: 'stopped', exit_signal: 'SIGKILL', pid: stubborn.pid });
  t.notOk(await isRunning(stubborn.pid));

  await fs.writeFile(flag, '');
  t.match(await second.waitEnded(long.id), { status: 'exited', exit_code: 6, pid: long.pid });
  const all = (await second.request('GET', '/v1/sessions')).json().items as Json[];
  t.same(all.map((x) => x.status).sort(), ['exited', 'exited', 'stopped']);
});
