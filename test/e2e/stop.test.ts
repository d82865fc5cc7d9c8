// End to end: stopping real processes over HTTP. SIGTERM to the whole group, SIGKILL after the
// grace period, children included; graceful ends; a second stop answers the same.
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { eventually } from '../helper.js';
import { isRunning, readWhenWritten, startServer } from './helper.js';

t.test('a group that ignores SIGTERM is killed after the grace, child included', async (t) => {
  const s = await startServer(t);
  // The child is a second bash that ignores TERM itself and then becomes a sleep (same pid).
  const child = `trap "" TERM; echo $$ > child.pid; exec sleep 300`;
  const session = await s.run(`trap "" TERM; bash -c '${child}' & wait; echo "should not get here"`);
  const childPid = Number(await readWhenWritten(path.join(s.root, 'child.pid')));
  t.ok(childPid > 0 && childPid !== session.pid, 'the child has a pid of its own');
  t.ok(await isRunning(childPid), 'the child runs');

  const res = await s.request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 200 } });
  t.equal(res.status, 200);
  t.match(res.json(), { id: session.id, status: 'stopped', exit_signal: 'SIGKILL', exit_code: null });
  t.type(res.json().stopped_at, 'string');
  t.notOk(await isRunning(session.pid), 'the session process is gone');
  // The child was orphaned by its parent's death; the SIGKILL to the group took it too.
  await eventually(async () => ((await isRunning(childPid)) ? undefined : true), 10_000);
  t.pass('the child is gone');
  t.notMatch((await s.request('GET', `/v1/sessions/${session.id}/logs`)).json().stdout, /should not get here/);
  t.match((await s.request('GET', `/v1/sessions/${session.id}`)).json(), { status: 'stopped', exit_signal: 'SIGKILL' }, 'GET says the same');
});

t.test('a cooperative process ends on SIGTERM within the grace', async (t) => {
  const s = await startServer(t);
  const session = await s.run('sleep 300');
  const res = await s.request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 20_000 } });
  t.equal(res.status, 200);
  t.match(res.json(), { status: 'stopped', exit_signal: 'SIGTERM', exit_code: null });
  t.notOk(await isRunning(session.pid));
});

t.test('a process that traps SIGTERM ends with its own exit code and output', async (t) => {
  const s = await startServer(t);
  const session = await s.run('trap "echo cleaning up; exit 3" TERM; echo ready; while :; do sleep 0.05; done');
  // A TERM before the trap is set would kill bash outright: wait until it says it is ready.
  await eventually(async () => ((await s.request('GET', `/v1/sessions/${session.id}/logs`)).json().stdout === 'ready\n' ? true : undefined));
  const res = await s.request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 20_000 } });
  t.match(res.json(), { status: 'stopped', exit_code: 3, exit_signal: null });
  t.equal((await s.request('GET', `/v1/sessions/${session.id}/logs/stdout`)).text, 'ready\ncleaning up\n');
});

t.test('stop sends SIGTERM once to each process of the session: a trap that does not exit runs once', async (t) => {
  const s = await startServer(t);
  // No foreground child: bash runs the trap at once, so a second SIGTERM a moment later (the
  // session's group, then its cgroup) would run it again.
  const session = await s.run('trap "echo term" TERM; echo ready; while :; do :; done');
  await eventually(async () => ((await s.request('GET', `/v1/sessions/${session.id}/logs`)).json().stdout === 'ready\n' ? true : undefined));
  const res = await s.request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 500 } });
  t.match(res.json(), { status: 'stopped', exit_signal: 'SIGKILL' }, 'it ignored the TERM, so the grace ran out');
  t.equal((await s.request('GET', `/v1/sessions/${session.id}/logs/stdout`)).text, 'ready\nterm\n', 'the trap ran once');
});

t.test('stop is idempotent: a second stop answers the same body', async (t) => {
  const s = await startServer(t);
  const session = await s.run('sleep 300');
  const first = await s.request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 5000 } });
  t.equal(first.status, 200);
  t.equal(first.json().status, 'stopped');
  const second = await s.request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 0 } });
  t.equal(second.status, 200);
  t.same(second.json(), first.json(), 'unchanged');
  const bare = await s.request('POST', `/v1/sessions/${session.id}/stop`);
  t.equal(bare.status, 200, 'the body may be omitted');
  t.same(bare.json(), first.json());

  const ended = await s.run('exit 2');
  const done = await s.waitEnded(ended.id);
  const stopEnded = await s.request('POST', `/v1/sessions/${ended.id}/stop`, { body: {} });
  t.equal(stopEnded.status, 200);
  t.same(stopEnded.json(), done, 'stopping a session that ended by itself changes nothing');
});

t.test('two stops at once: both answer the same stopped session', async (t) => {
  const s = await startServer(t);
  const session = await s.run('trap "" TERM; echo ready; while :; do sleep 0.05; done');
  await eventually(async () => ((await s.request('GET', `/v1/sessions/${session.id}/logs`)).json().stdout === 'ready\n' ? true : undefined));
  const [a, b] = await Promise.all([
    s.request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 200 } }),
    s.request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 200 } }),
  ]);
  t.equal(a.status, 200);
  t.equal(b.status, 200);
  t.match(a.json(), { status: 'stopped', exit_signal: 'SIGKILL' });
  t.same(b.json(), a.json());
});

t.test('force-delete of a group that ignores SIGTERM removes it and its processes', async (t) => {
  const s = await startServer(t, { env: { SESSIOND_STOP_GRACE_MS: '200' } });
  const session = await s.run('trap "" TERM; sleep 300 & echo $! > kid.pid; wait');
  const kid = Number(await readWhenWritten(path.join(s.root, 'kid.pid')));
  const res = await s.request('DELETE', `/v1/sessions/${session.id}?force=true`);
  t.equal(res.status, 204);
  await eventually(async () => ((await isRunning(kid)) || (await isRunning(session.pid)) ? undefined : true), 10_000);
  t.pass('the session and its child are gone');
  await t.rejects(fs.stat(path.join(s.config.dataDir, 'sessions', session.id)), { code: 'ENOENT' });
});

t.test('a background child does not outlive a session that ends by itself', async (t) => {
  const s = await startServer(t);
  const session = await s.run('sleep 300 & echo $! > kid.pid; exit 0');
  const kid = Number(await readWhenWritten(path.join(s.root, 'kid.pid')));
  t.match(await s.waitEnded(session.id), { status: 'exited', exit_code: 0 });
  // Otherwise it would run on unseen: the session is over, and stop no longer reaches it.
  await eventually(async () => ((await isRunning(kid)) ? undefined : true), 10_000);
  t.pass('the child went with its session');
});

t.test('stop: a child that ignores SIGTERM does not outlive a parent that obeys it', async (t) => {
  const s = await startServer(t);
  const child = `trap "" TERM; echo $$ > kid.pid; exec sleep 300`;
  const session = await s.run(`bash -c '${child}' & trap "exit 0" TERM; echo ready; wait`);
  const kid = Number(await readWhenWritten(path.join(s.root, 'kid.pid')));
  await eventually(async () => ((await s.request('GET', `/v1/sessions/${session.id}/logs`)).json().stdout === 'ready\n' ? true : undefined));
  const res = await s.request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 20_000 } });
  t.match(res.json(), { status: 'stopped', exit_code: 0, exit_signal: null }, 'the parent ended on SIGTERM');
  await eventually(async () => ((await isRunning(kid)) ? undefined : true), 10_000);
  t.pass('the stubborn child is gone too');
});
