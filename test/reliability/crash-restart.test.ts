// Fault tests against the real server process: kill -9 while sessions run, a pid reused by a
// stranger behind the service's back, and records left in `starting` by a crash.
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { eventually } from '../helper.js';
import { deploy, isRunning, readJsonWhenWritten, StreamClient } from './server-process.js';

t.test('kill -9 with sessions running: after restart the live one is adopted, the one that ended meanwhile reads its exit', async (t) => {
  const d = await deploy(t);
  await d.start();
  const long = await d.run('for i in 1 2 3; do echo "long $i"; done; echo "to stderr" >&2; sleep 600', { name: 'long one' });
  const short = await d.run('echo begin; sleep 1; echo done; exit 3', { name: 'short one' });
  t.equal(long.status, 'running');
  t.equal(short.status, 'running');

  const killed = await d.server.kill('SIGKILL');
  t.same(killed, { code: null, signal: 'SIGKILL' }, 'the server died of SIGKILL');
  t.notOk(existsSync(path.join(d.stateDir(short.id), 'exit.json')), 'the short one was still running when the server died');
  t.ok(await isRunning(long.pid), 'the long session survived its server');

  // The short one ends while no server runs: its keeper records how.
  const exit = await readJsonWhenWritten(path.join(d.stateDir(short.id), 'exit.json'));
  t.match(exit, { exit_code: 3, exit_signal: null });
  t.notOk(await isRunning(short.pid), 'it has ended');

  await d.start();
  const longNow = await d.request('GET', `/v1/sessions/${long.id}`);
  t.equal(longNow.status, 200);
  t.match(longNow.json(), { status: 'running', pid: long.pid, exit_code: null, stopped_at: null }, 'the same process, still running');

  const shortNow = await d.request('GET', `/v1/sessions/${short.id}`);
  t.equal(shortNow.status, 200);
  t.match(shortNow.json(), { status: 'exited', exit_code: 3, exit_signal: null, status_reason: null, pid: short.pid });
  t.type(shortNow.json().stopped_at, 'string');
  const raw = await d.request('GET', `/v1/sessions/${short.id}/logs/stdout`);
  t.equal(raw.status, 200);
  t.equal(raw.text, 'begin\ndone\n', 'all of its output, byte for byte, including what it printed while the server was down');

  const listed = (await d.request('GET', '/v1/sessions')).json().items as Array<Record<string, unknown>>;
  t.same(
    listed.map((s) => [s.id, s.status]).sort(),
    [
      [long.id, 'running'],
      [short.id, 'exited'],
    ].sort(),
    'both listed with their real status',
  );

  // Its whole log streams from the start, then the stop shows up on the stream, which ends.
  const sse = await StreamClient.open(d.server.url, `/v1/sessions/${long.id}/logs/stream?from=start`);
  t.equal(sse.status, 200);
  await sse.until((c) => c.lines('stdout').includes('long 3'), 20_000, 'the three lines');
  t.same(sse.lines('stdout'), ['long 1', 'long 2', 'long 3'], 'stdout lines in order, each once');
  await sse.until((c) => c.lines('stderr').includes('to stderr'), 20_000, 'the stderr line');

  const stopped = await d.request('POST', `/v1/sessions/${long.id}/stop`, { body: { grace_ms: 2000 } });
  t.equal(stopped.status, 200);
  t.match(stopped.json(), { status: 'stopped', pid: long.pid });
  t.type(stopped.json().exit_signal, 'string', `ended by a signal (${stopped.json().exit_signal})`);
  t.notOk(await isRunning(long.pid), 'the process is gone');

  await sse.until((c) => c.events().some((e) => e.event === 'end'), 20_000, 'the end event');
  const end = JSON.parse(sse.events().find((e) => e.event === 'end')?.data ?? '{}');
  t.match(end, { id: long.id, status: 'stopped' }, 'the stream ends with the final session');
  t.ok(await sse.finishedWithin(10_000), 'and the server closes the response');
  t.same((await d.request('GET', `/v1/sessions/${long.id}`)).json(), stopped.json(), 'GET agrees with the stop');
});

t.test('pid reuse: a record naming a stranger process is not shown running, and stop never signals the stranger', async (t) => {
  const d = await deploy(t);
  await d.start();
  // One forged record is first read with GET, the other is first touched by a stop.
  const readFirst = await d.run('echo hi; sleep 600', { name: 'forged read' });
  const stopFirst = await d.run('echo hi; sleep 600', { name: 'forged stop' });
  for (const s of [readFirst, stopFirst]) {
    const keeper = await readJsonWhenWritten(path.join(d.stateDir(s.id), 'keeper.json'));
    t.equal(keeper.pid, s.pid);
    // The running record is written after the start's answer: the forgery below edits it.
    await eventually(async () => {
      const record = JSON.parse(await readFile(path.join(d.sessionDir(s.id), 'session.json'), 'utf8'));
      return record.status === 'running' ? true : undefined;
    });
  }

  await d.server.kill('SIGKILL');
  // Processes this test owns, which the forged records name as the sessions.
  const strangers = [await d.spawnStranger('sleep', ['60']), await d.spawnStranger('sleep', ['60'])];
  for (const [i, s] of [readFirst, stopFirst].entries()) {
    const pid = strangers[i]?.pid;
    await d.editRecord(s.id, (record) => {
      record.pid = pid;
      record.handle.pid = pid;
    });
  }
  await d.start();

  const got = await d.request('GET', `/v1/sessions/${readFirst.id}`);
  t.equal(got.status, 200);
  const body = got.json();
  t.not(body.status, 'running', 'not shown running with the stranger');
  t.match(body, { status: 'exited', exit_code: null, exit_signal: null }, 'ended, status unknown');
  t.match(body.status_reason, /exit status/, `the reason says so: ${body.status_reason}`);
  const stop = await d.request('POST', `/v1/sessions/${readFirst.id}/stop`, { body: { grace_ms: 100 } });
  t.equal(stop.status, 200);
  t.same(stop.json(), body, 'stop of an ended session answers it unchanged');

  const stopped = await d.request('POST', `/v1/sessions/${stopFirst.id}/stop`, { body: { grace_ms: 100 } });
  t.equal(stopped.status, 200, 'a stop as the first touch answers 200');
  t.match(stopped.json(), { status: 'exited', exit_code: null, exit_signal: null }, 'with the session found ended, not stopped');
  t.match(stopped.json().status_reason, /exit status/);
  t.same((await d.request('GET', `/v1/sessions/${stopFirst.id}`)).json(), stopped.json(), 'GET agrees');

  // Give any stray signal time to land before looking.
  await new Promise((resolve) => setTimeout(resolve, 300));
  for (const stranger of strangers) {
    t.ok(await isRunning(stranger.pid, stranger.startTicks), `the stranger ${stranger.pid} is alive after the stops`);
    t.ok(existsSync(`/proc/${stranger.pid}`));
  }
  const listed = (await d.request('GET', '/v1/sessions')).json().items as Array<Record<string, unknown>>;
  t.same(listed.map((s) => s.status), ['exited', 'exited'], 'listed ended too');
  // The real session processes (named by keeper.json) are cleaned up by the teardown.
});

t.test('records left in `starting` by a crash: failed without a process, adopted with one, reconciled when it ended', async (t) => {
  const d = await deploy(t);
  await d.start();
  const never = await d.run('echo never; exit 0', { name: 'never confirmed' });
  const adopted = await d.run('echo adopted; sleep 600', { name: 'adopted' });
  const endedMeanwhile = await d.run('echo gone; exit 4', { name: 'ended meanwhile' });
  // The record of a launch is not forced to disk before the start is answered: a crash of the
  // machine can bring back `starting` while everything that ran died with the machine.
  const machineCrash = await d.run('sleep 600', { name: 'machine crash' });
  await d.waitEnded(never.id);
  await d.waitEnded(endedMeanwhile.id);
  await readJsonWhenWritten(path.join(d.stateDir(adopted.id), 'keeper.json'));
  const crashedKeeper = await readJsonWhenWritten(path.join(d.stateDir(machineCrash.id), 'keeper.json'));
  await d.server.kill('SIGKILL');
  // Keeper first, so no exit.json is written: as if the power went.
  process.kill(crashedKeeper.keeper_pid as number, 'SIGKILL');
  process.kill(machineCrash.pid as number, 'SIGKILL');

  // As the service leaves a record when it dies between writing it and recording the launch.
  const asStarting = (record: Record<string, unknown>) => {
    Object.assign(record, {
      status: 'starting',
      status_reason: null,
      pid: null,
      handle: null,
      stopped_at: null,
      exit_code: null,
      exit_signal: null,
      last_activity: null,
      stop_requested_at: null,
    });
  };
  for (const id of [never.id, adopted.id, endedMeanwhile.id, machineCrash.id]) await d.editRecord(id, asStarting);
  // `never`: no trace of a launch at all.
  await rm(path.join(d.stateDir(never.id), 'keeper.json'));
  await rm(path.join(d.stateDir(never.id), 'exit.json'));
  t.ok(existsSync(path.join(d.stateDir(endedMeanwhile.id), 'exit.json')), 'the third one left its exit.json');

  await d.start();
  const failed = await d.request('GET', `/v1/sessions/${never.id}`);
  t.equal(failed.status, 200);
  t.match(failed.json(), { status: 'failed', pid: null, exit_code: null });
  t.type(failed.json().status_reason, 'string', `with a reason: ${failed.json().status_reason}`);
  t.type(failed.json().stopped_at, 'string');

  const running = await d.request('GET', `/v1/sessions/${adopted.id}`);
  t.equal(running.status, 200);
  t.match(running.json(), { status: 'running', pid: adopted.pid }, 'adopted with the pid of keeper.json');
  t.ok(await isRunning(adopted.pid));

  t.match((await d.request('GET', `/v1/sessions/${endedMeanwhile.id}`)).json(), { status: 'exited', exit_code: 4, pid: endedMeanwhile.pid }, 'adopted, then found ended with its status');

  const lost = (await d.waitEnded(machineCrash.id)) as Record<string, unknown>;
  t.match(lost, { exit_code: null, exit_signal: null }, `after a machine crash: ended, status unknown (${lost.status})`);
  t.notOk(await isRunning(machineCrash.pid), 'nothing of it runs');

  const listed = (await d.request('GET', '/v1/sessions?status=starting')).json();
  t.same(listed.items, [], 'nothing is left pretending to start');

  // The adopted handle is a real one: stop reaches the process.
  const stop = await d.request('POST', `/v1/sessions/${adopted.id}/stop`, { body: { grace_ms: 2000 } });
  t.match(stop.json(), { status: 'stopped', pid: adopted.pid });
  t.notOk(await isRunning(adopted.pid), 'stopped for real');
  t.equal((await d.request('GET', `/v1/sessions/${adopted.id}/logs/stdout`)).text, 'adopted\n');

  // The decisions were written down: a second restart reads the same.
  await d.restart('SIGKILL');
  const again = (await d.request('GET', '/v1/sessions')).json().items as Array<Record<string, unknown>>;
  t.same(
    Object.fromEntries(again.map((s) => [s.id, s.status])),
    { [never.id]: 'failed', [adopted.id]: 'stopped', [endedMeanwhile.id]: 'exited', [machineCrash.id]: lost.status },
  );
  const record = JSON.parse(await readFile(path.join(d.sessionDir(never.id), 'session.json'), 'utf8'));
  t.equal(record.status, 'failed', 'persisted');
});
