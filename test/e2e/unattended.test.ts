// Leave it alone with sessions, with real processes and short limits on a real server: time
// limits (idleness too across a kill -9), the queue across a kill -9, retention down to the files
// on disk, and the disk floor on a small tmpfs with streams that go on below it.
import { execFileSync } from 'node:child_process';
import { open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { eventually } from '../helper.js';
import { deploy, StreamClient, type Deployment } from '../reliability/server-process.js';

type Json = Record<string, any>;

const read = async (d: Deployment, id: string): Promise<Json> => (await d.request('GET', `/v1/sessions/${id}`)).json();
const until = (d: Deployment, id: string, check: (s: Json) => boolean, ms = 15_000) =>
  eventually(async () => {
    const s = await read(d, id);
    return check(s) ? s : undefined;
  }, ms);

t.test('max runtime and idle: stopped by the service with the reason; output keeps a session alive', async (t) => {
  const d = await deploy(t);
  await d.start();
  const long = await d.run('sleep 600', { max_runtime_ms: 700 });
  const silent = await d.run('sleep 600', { idle_timeout_ms: 1000 });
  const chatty = await d.run('for i in $(seq 25); do echo "tick $i"; sleep 0.1; done', { idle_timeout_ms: 1000 });
  t.match(await until(d, long.id, (s) => s.status === 'stopped'), { stop_reason: 'max_runtime', exit_signal: 'SIGTERM' });
  t.match(await until(d, silent.id, (s) => s.status === 'stopped'), { stop_reason: 'idle', exit_signal: 'SIGTERM' });
  t.match(await until(d, chatty.id, (s) => s.status !== 'running'), { status: 'exited', exit_code: 0, stop_reason: null }, 'it ended by itself');
});

t.test('a limit counts from started_at, also across a kill -9 of the service', async (t) => {
  const d = await deploy(t);
  await d.start();
  const limited = await d.run('sleep 600', { max_runtime_ms: 4000 });
  const started = Date.parse(limited.started_at);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await d.server.kill('SIGKILL');
  await d.start();
  const restartedAfter = Date.now() - started;
  const stopped = await until(d, limited.id, (s) => s.status === 'stopped', 20_000);
  t.equal(stopped.stop_reason, 'max_runtime');
  const ranFor = Date.parse(stopped.stopped_at) - started;
  // Counted from the restart it would have run at least restartedAfter + 4000 ms.
  t.ok(ranFor < restartedAfter + 4000, `ran ${ranFor} ms: counted from started_at, not from the restart ${restartedAfter} ms in`);
});

t.test('idleness counts from the last byte written, also across a kill -9 of the service', async (t) => {
  const d = await deploy(t);
  await d.start();
  const idleMs = 6000;
  const session = await d.run('for i in $(seq 8); do echo "tick $i"; sleep 0.25; done; echo last; sleep 600', { idle_timeout_ms: idleMs });
  const stdout = path.join(d.sessionDir(session.id), 'stdout.log');
  await eventually(async () => ((await readFile(stdout, 'utf8').catch(() => '')).includes('last\n') ? true : undefined), 15_000);
  // The log's modification time is the moment of the last byte the session wrote.
  const lastByte = (await stat(stdout)).mtimeMs;
  t.ok(lastByte - Date.parse(session.started_at) >= 1500, 'it printed for a while after it started');
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, lastByte + 2500 - Date.now())));
  t.equal((await read(d, session.id)).status, 'running', 'not idle long enough yet');
  await d.server.kill('SIGKILL');
  const restartedAt = Date.now();
  await d.start();
  const stopped = await until(d, session.id, (s) => s.status === 'stopped', 20_000);
  t.equal(stopped.stop_reason, 'idle');
  t.equal(stopped.exit_signal, 'SIGTERM');
  const stoppedAt = Date.parse(stopped.stopped_at);
  t.ok(stoppedAt - lastByte >= idleMs - 5, `stopped ${Math.round(stoppedAt - lastByte)} ms after its last byte: not before the idle timeout`);
  // Counted from the restart (or from started_at before it) it would end at least idleMs after restartedAt.
  t.ok(stoppedAt < restartedAt + idleMs, `stopped ${stoppedAt - restartedAt} ms after the restart: counted from the last byte, not from the restart`);
  t.equal((await d.request('GET', `/v1/sessions/${session.id}/logs?tail_bytes=100`)).json().stdout.trim().split('\n').at(-1), 'last', 'it wrote nothing after');
});

t.test('the queue: a limit of 2, four starts, a kill -9 in the middle, priority order, a cancelled one', async (t) => {
  const d = await deploy(t, { env: { SESSIOND_MAX_RUNNING: '2' } });
  await d.start();
  const flag = (name: string) => path.join(d.root, name);
  const waitFor = (name: string) => `while [ ! -e ${flag(name)} ]; do sleep 0.02; done`;
  const a = await d.run(waitFor('a'));
  const b = await d.run(waitFor('b'));
  const queued = async (script: string, extra: Json) => {
    const res = await d.startSession({ args: ['-c', script], queue: true, ...extra });
    t.equal(res.status, 202, 'queued: 202');
    return res.json() as Json;
  };
  const c = await queued(waitFor('c'), { priority: 0 });
  const dd = await queued(waitFor('d'), { priority: 5 });
  const cancelled = await queued('echo never', { priority: 9 });
  t.equal((await d.startSession({ args: ['-c', 'true'] })).status, 429, 'without queue: 429 as before');
  t.match((await d.request('POST', `/v1/sessions/${cancelled.id}/stop`)).json(), { status: 'stopped', stop_reason: 'requested', pid: null });

  await d.restart('SIGKILL');
  t.equal((await read(d, c.id)).status, 'queued', 'the queue survived the kill -9');
  t.equal((await read(d, dd.id)).status, 'queued');
  await writeFile(flag('a'), '');
  const second = await until(d, dd.id, (s) => s.status === 'running');
  t.ok(second.pid, 'the higher priority one started when a place freed');
  t.equal((await read(d, c.id)).status, 'queued', 'the other still waits');
  await writeFile(flag('b'), '');
  await until(d, c.id, (s) => s.status === 'running');
  await writeFile(flag('c'), '');
  await writeFile(flag('d'), '');
  for (const s of [a, b, c, dd]) t.match(await d.waitEnded(s.id), { status: 'exited', exit_code: 0 });
  t.equal((await read(d, cancelled.id)).pid, null, 'the cancelled one never ran');
});

t.test('retention: an ended session is deleted after the window, files and all; a running one never', async (t) => {
  const d = await deploy(t, { env: { SESSIOND_RETENTION_MS: '3000' } });
  await d.start();
  const events = await StreamClient.open(d.server.url, '/v1/events?types=session.deleted');
  t.teardown(() => events.abort());
  const running = await d.run('sleep 600');
  const quick = await d.run('echo done; echo oops >&2');
  await d.waitEnded(quick.id);
  const dir = d.sessionDir(quick.id);
  const files = await readdir(dir);
  for (const name of ['session.json', 'stdout.log', 'stderr.log']) t.ok(files.includes(name), `${name} is on disk while the session is kept`);
  t.ok((await stat(d.stateDir(quick.id))).isDirectory(), 'and its state folder');
  await eventually(async () => ((await d.request('GET', `/v1/sessions/${quick.id}`)).status === 404 ? true : undefined), 15_000);
  await events.until((c) => c.events().some((e) => e.event === 'session.deleted' && JSON.parse(e.data).session.id === quick.id), 10_000, 'session.deleted');
  await t.rejects(stat(dir), { code: 'ENOENT' }, 'the session folder (record, logs, state) is gone from disk');
  const leftovers = (await readdir(path.join(d.dataDir, 'sessions'))).filter((name) => name.includes(quick.id));
  t.same(leftovers, [], 'nothing of it is left under sessions/');
  // The running one has been alive for longer than the window by now.
  t.ok(Date.now() - Date.parse(running.started_at) > 3000);
  t.equal((await read(d, running.id)).status, 'running', 'a running session is never swept');
  t.ok((await readdir(d.sessionDir(running.id))).includes('stdout.log'), 'and its files stay');
  await d.request('POST', `/v1/sessions/${running.id}/stop`, { body: { grace_ms: 0 } });
});

t.test('the disk floor: starts refused below SESSIOND_MIN_FREE_BYTES while streams go on; accepted again once there is room', async (t) => {
  const d = await deploy(t, { env: { SESSIOND_MIN_FREE_BYTES: String(2 * 1024 * 1024) } });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', d.dataDir], { stdio: 'pipe' });
  } catch (err) {
    if (process.env.CI) throw err;
    t.plan(0, `skipped: cannot mount a tmpfs here: ${(err as Error).message}`);
    return;
  }
  t.teardown(() => void execFileSync('umount', ['-l', d.dataDir], { stdio: 'pipe' }));
  await d.start();
  const before = await d.run('i=0; while :; do echo "tick $i"; i=$((i+1)); sleep 0.2; done');
  const logs = await StreamClient.open(d.server.url, `/v1/sessions/${before.id}/logs/stream`);
  const events = await StreamClient.open(d.server.url, `/v1/events?session_id=${before.id}`);
  t.teardown(() => {
    logs.abort();
    events.abort();
  });
  await logs.until((c) => c.lines('stdout').includes('tick 1'), 15_000, 'the first ticks');
  const filler = path.join(d.dataDir, 'filler');
  const fh = await open(filler, 'w');
  await fh.write(Buffer.alloc(3 * 1024 * 1024));
  await fh.close();
  const refused = await d.startSession({ args: ['-c', 'true'] });
  t.equal(refused.status, 507);
  t.equal(refused.json().code, 'insufficient_storage');
  t.match(refused.json().detail, /SESSIOND_MIN_FREE_BYTES/);
  t.equal((await read(d, before.id)).status, 'running', 'the running session goes on');
  const ready = (await d.request('GET', '/readyz')).json();
  t.match(ready.warnings, [/SESSIOND_MIN_FREE_BYTES/], '/readyz says why');
  // Below the floor (the start above was refused), the open log stream still gets new lines.
  const seen = logs.lines('stdout').length;
  await logs.until((c) => c.lines('stdout').length >= seen + 3, 15_000, 'new lines below the floor');
  t.equal((await d.startSession({ args: ['-c', 'true'] })).status, 507, 'still below the floor');
  t.notOk(logs.finished, 'the log stream is still open');
  // A stop works below the floor, and the events stream hears of it.
  const stopped = await d.request('POST', `/v1/sessions/${before.id}/stop`, { body: { grace_ms: 0 } });
  t.equal(stopped.status, 200);
  await events.until((c) => c.events().some((e) => e.event === 'session.ended'), 15_000, 'session.ended below the floor');
  t.match(JSON.parse(events.events().find((e) => e.event === 'session.ended')?.data ?? '{}'), { session: { id: before.id, status: 'stopped', stop_reason: 'requested' } });
  await logs.until((c) => c.events().some((e) => e.event === 'end'), 15_000, 'the log stream’s end');
  await rm(filler);
  t.equal((await d.startSession({ args: ['-c', 'true'] })).status, 201, 'room again: starts are accepted');
});
