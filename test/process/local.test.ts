// The local process adapter against real processes: launch through the keeper, logs, environment,
// exit status, signals to the group, pid-reuse safety, waiting.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { LaunchError, type ProcessHandle } from '../../src/process/adapter.js';
import { createLocalProcessAdapter, type LocalProcessHandle } from '../../src/process/local.js';
import { readProcStat, readStartTicks, readState } from '../../src/process/proc-stat.js';
import { eventually } from '../helper.js';
import { PATH, ended, fixture as sharedFixture, type Fixture } from './fixture.js';

const BASE_ENV = { PATH, FOO: 'bar' };

/** The shared fixture, with a quick safety poll and FOO=bar in every session's environment. */
const fixture = async (t: Test): Promise<Fixture> => {
  const f = await sharedFixture(t, { pollIntervalMs: 20 });
  return { ...f, spec: (command, args, extra = {}) => f.spec(command, args, { env: BASE_ENV, ...extra }) };
};

/** Gone, or a zombie nobody reaps (a container's pid 1 may not): either way not running. */
async function isDead(pid: number): Promise<boolean> {
  const state = await readState(pid);
  return state === null || state === 'Z';
}

t.test('launch: a running process in its own process group, apart from its keeper', async (t) => {
  const f = await fixture(t);
  const handle = await f.launch('sleep', ['60']);
  const cgrouped = f.adapter.containment() !== 'process-group';
  t.same(Object.keys(handle).sort(), ['keeper_pid', 'pid', 'start_ticks', 'state_dir', ...(cgrouped ? ['cgroup'] : [])].sort());
  t.same(await f.adapter.inspect(handle), { state: 'running' });
  const stat = await readProcStat(handle.pid);
  t.equal(stat?.comm, 'sleep');
  t.equal(stat?.pgrp, handle.pid, 'pgid equals pid');
  t.equal(stat?.startTicks, handle.start_ticks);
  t.equal(stat?.ppid, handle.keeper_pid, 'the keeper is its parent');
  const keeper = await readProcStat(handle.keeper_pid);
  t.not(keeper?.pgrp, handle.pid, 'the keeper is outside the session’s group');
  const kept = JSON.parse(await fs.readFile(path.join(handle.state_dir, 'keeper.json'), 'utf8')) as unknown;
  t.same(kept, { pid: handle.pid, start_ticks: handle.start_ticks, keeper_pid: handle.keeper_pid, cgroup: handle.cgroup ?? null });
});

t.test('stdout and stderr are appended to their files, keeping what was there', async (t) => {
  const f = await fixture(t);
  const spec = f.spec('bash', ['-c', 'echo out; echo err >&2']);
  await fs.writeFile(spec.stdoutPath, 'old out\n');
  await fs.writeFile(spec.stderrPath, 'old err\n');
  const handle = await f.adapter.launch(spec);
  t.equal((await ended(f.adapter, handle)).exit_code, 0);
  t.equal(await fs.readFile(spec.stdoutPath, 'utf8'), 'old out\nout\n');
  t.equal(await fs.readFile(spec.stderrPath, 'utf8'), 'old err\nerr\n');
});

t.test('stdin is /dev/null: a command reading it sees end of input at once', async (t) => {
  const f = await fixture(t);
  const spec = f.spec('bash', ['-c', 'cat; echo done']);
  const handle = await f.adapter.launch(spec);
  t.equal((await ended(f.adapter, handle)).exit_code, 0);
  t.equal(await fs.readFile(spec.stdoutPath, 'utf8'), 'done\n');
});

t.test('the environment is exactly spec.env', async (t) => {
  const f = await fixture(t);
  // `env` itself, not a shell, which would add PWD, SHLVL and _.
  // NUL-separated, since a value may hold a newline.
  const spec = f.spec('env', ['-0']);
  const handle = await f.adapter.launch(spec);
  await ended(f.adapter, handle);
  const lines = (await fs.readFile(spec.stdoutPath, 'utf8')).split('\0').filter(Boolean).sort();
  // Under tap, its coverage hook adds its own variables to every spawn (the keeper's too), even
  // with an explicit env; they are tap's, not the service's, so they are left out here.
  const own = lines.filter((line) => !line.startsWith('_TAPJS_') && !/^NODE_OPTIONS=.*@tapjs/.test(line));
  t.same(own, [`FOO=bar`, `PATH=${PATH}`]);
  t.notOk(lines.some((line) => line.startsWith('HOME=')), 'nothing leaks in from the service');
});

t.test('exit code, and the end time, are recorded', async (t) => {
  const f = await fixture(t);
  const handle = await f.launch('bash', ['-c', 'exit 3']);
  const state = await ended(f.adapter, handle);
  t.equal(state.exit_code, 3);
  t.equal(state.exit_signal, null);
  t.ok(state.ended_at && !Number.isNaN(Date.parse(state.ended_at)), 'ended_at is a timestamp');
  t.same(await f.adapter.inspect(handle), state, 'inspect reads the same status back');
});

t.test('a process killed by a signal: exit_signal names it, exit_code is null', async (t) => {
  const f = await fixture(t);
  const handle = await f.launch('bash', ['-c', 'kill -USR1 $$']);
  const state = await ended(f.adapter, handle);
  t.equal(state.exit_signal, 'SIGUSR1');
  t.equal(state.exit_code, null);
});

t.test('a command that does not exist is a LaunchError naming it', async (t) => {
  const f = await fixture(t);
  const err = await f.adapter.launch(f.spec('sessiond-no-such-command', [])).catch((e: unknown) => e);
  t.ok(err instanceof LaunchError);
  t.match((err as Error).message, /command not found: sessiond-no-such-command/);
});

t.test('a working directory that does not exist is a LaunchError', async (t) => {
  const f = await fixture(t);
  const err = await f.adapter.launch(f.spec('true', [], { cwd: path.join(f.dir, 'missing') })).catch((e: unknown) => e);
  t.ok(err instanceof LaunchError);
  t.match((err as Error).message, /working directory does not exist/);
});

t.test('a keeper that cannot be loaded is a LaunchError saying so', async (t) => {
  const f = await fixture(t);
  const keeperPath = path.join(f.dir, 'no-keeper.js');
  const adapter = createLocalProcessAdapter({ keeperPath, files: f.files });
  t.teardown(() => adapter.close());
  const err = await adapter.launch(f.spec('true', [])).catch((e: unknown) => e);
  t.ok(err instanceof LaunchError);
  t.match((err as Error).message, `keeper program not found: ${keeperPath}`);
});

t.test('terminate: a process that ends on SIGTERM', async (t) => {
  const f = await fixture(t);
  const handle = await f.launch('sleep', ['60']);
  const state = await f.adapter.terminate(handle, 10_000);
  t.match(state, { state: 'ended', exit_code: null, exit_signal: 'SIGTERM' });
});

t.test('terminate: a process that traps SIGTERM and exits with a code', async (t) => {
  const f = await fixture(t);
  const spec = f.spec('bash', ['-c', 'trap "exit 7" TERM; echo ready; sleep 60 & wait']);
  const handle = (await f.adapter.launch(spec)) as LocalProcessHandle;
  // Signals before the trap is set would kill bash outright; wait for it to say it is ready.
  await eventually(async () => ((await fs.readFile(spec.stdoutPath, 'utf8')) === 'ready\n' ? true : undefined));
  const state = await f.adapter.terminate(handle, 10_000);
  t.match(state, { state: 'ended', exit_code: 7, exit_signal: null });
});

t.test('terminate: SIGKILL after the grace for a group that ignores SIGTERM, child included', async (t) => {
  const f = await fixture(t);
  const childPidFile = path.join(f.dir, 'child.pid');
  // The ignored disposition is inherited by the background sleep.
  const handle = await f.launch('bash', ['-c', `trap "" TERM; sleep 60 & echo $! > ${childPidFile}; wait`]);
  const childPid = await eventually(async () => {
    const text = await fs.readFile(childPidFile, 'utf8').catch(() => '');
    return text.endsWith('\n') ? Number(text) : undefined;
  });
  const child = await eventually(async () => {
    const stat = await readProcStat(childPid);
    return stat?.comm === 'sleep' ? stat : undefined;
  });
  t.equal(child.pgrp, handle.pid, 'the child is in the session’s group');
  const state = await f.adapter.terminate(handle, 300);
  t.match(state, { state: 'ended', exit_code: null, exit_signal: 'SIGKILL' });
  t.ok(await eventually(async () => ((await isDead(childPid)) ? true : undefined)), 'the child is gone too');
});

t.test('terminate twice, one after the other and at once, is fine', async (t) => {
  const f = await fixture(t);
  const handle = await f.launch('sleep', ['60']);
  const [a, b] = await Promise.all([f.adapter.terminate(handle, 5_000), f.adapter.terminate(handle, 5_000)]);
  t.match(a, { state: 'ended', exit_signal: 'SIGTERM' });
  t.same(b, a);
  t.same(await f.adapter.terminate(handle, 5_000), a);
});

t.test('a handle whose pid now belongs to another process is ended, and never signalled', async (t) => {
  const f = await fixture(t);
  const other = spawn('sleep', ['60'], { stdio: 'ignore', detached: true });
  t.teardown(() => {
    other.kill('SIGKILL');
  });
  const pid = other.pid as number;
  const ticks = await eventually(async () => (await readStartTicks(pid)) ?? undefined);
  const stateDir = path.join(f.dir, 'reused.state');
  await fs.mkdir(stateDir);
  const handle: LocalProcessHandle = { pid, start_ticks: ticks + 1, keeper_pid: pid, state_dir: stateDir };
  t.same(await f.adapter.inspect(handle), { state: 'ended', exit_code: null, exit_signal: null, ended_at: null });
  t.same(await f.adapter.terminate(handle, 100), { state: 'ended', exit_code: null, exit_signal: null, ended_at: null });
  t.equal(await readStartTicks(pid), ticks, 'the other process is still alive');
  t.equal(other.exitCode, null);
  t.equal(other.signalCode, null);
});

t.test('a handle the adapter did not write is ended', async (t) => {
  const f = await fixture(t);
  t.match(await f.adapter.inspect({ pid: null }), { state: 'ended', exit_code: null });
  t.match(await f.adapter.terminate({ pid: null }, 100), { state: 'ended' });
  t.match(await ended(f.adapter, { pid: null }, 1000), { state: 'ended', exit_code: null });
});

t.test('the keeper exits once the command has ended', async (t) => {
  const f = await fixture(t);
  const handle = await f.launch('bash', ['-c', 'exit 0']);
  await ended(f.adapter, handle);
  t.ok(await eventually(async () => ((await readState(handle.keeper_pid)) === null ? true : undefined)), 'no keeper left');
});

t.test('signals sent to the keeper are passed on to the session, and the keeper still records the end', async (t) => {
  const f = await fixture(t);
  const handle = await f.launch('sleep', ['60']);
  process.kill(handle.keeper_pid, 'SIGHUP');
  const state = await ended(f.adapter, handle);
  t.equal(state.exit_signal, 'SIGHUP');
});

t.test('a process gone without exit.json (its keeper was killed) is ended with an unknown status', async (t) => {
  const f = await fixture(t);
  const handle = await f.launch('sleep', ['60']);
  process.kill(handle.keeper_pid, 'SIGKILL');
  await eventually(async () => ((await isDead(handle.keeper_pid)) ? true : undefined));
  t.same(await f.adapter.inspect(handle), { state: 'running' }, 'the session outlives its keeper');
  // No exit.json will appear: only the safety poll can see this end.
  const waiting = ended(f.adapter, handle);
  process.kill(handle.pid, 'SIGKILL');
  t.same(await waiting, { state: 'ended', exit_code: null, exit_signal: null, ended_at: null });
});

t.test('a keeper that dies costs only its own session its exit code: its output is still logged, the other session is untouched', async (t) => {
  const f = await fixture(t);
  // Both sessions write a line a moment after a file appears, then exit 5.
  const script = 'while [ ! -e go ]; do sleep 0.02; done; echo "after $1"; exit 5';
  const lost = f.spec('bash', ['-c', script, '_', 'lost']);
  const kept = f.spec('bash', ['-c', script, '_', 'kept']);
  const a = await f.adapter.launch(lost) as LocalProcessHandle;
  const b = await f.adapter.launch(kept) as LocalProcessHandle;
  process.kill(a.keeper_pid, 'SIGKILL');
  await eventually(async () => ((await isDead(a.keeper_pid)) ? true : undefined));
  const endA = ended(f.adapter, a);
  const endB = ended(f.adapter, b);
  await fs.writeFile(path.join(f.cwd, 'go'), '');
  t.same(await endA, { state: 'ended', exit_code: null, exit_signal: null, ended_at: null }, 'no keeper, no exit code');
  t.match(await endB, { state: 'ended', exit_code: 5, exit_signal: null }, 'the other session keeps its exit code');
  t.equal(await fs.readFile(lost.stdoutPath, 'utf8'), 'after lost\n', 'the orphaned session still wrote its log: nothing sits between it and the file');
  t.equal(await fs.readFile(kept.stdoutPath, 'utf8'), 'after kept\n');
});

t.test('watch: an end is heard within a second, from exit.json, without any read', async (t) => {
  // A safety poll far longer than the test: only inotify on the state folder can be this quick.
  const adapter = createLocalProcessAdapter({ pollIntervalMs: 60_000 });
  t.teardown(() => adapter.close());
  const f = await fixture(t);
  const handle = await f.launch('sleep', ['60']);
  const waiting = ended(adapter, handle, 30_000);
  const killedAt = performance.now();
  process.kill(handle.pid, 'SIGTERM');
  t.match(await waiting, { state: 'ended', exit_signal: 'SIGTERM' });
  t.ok(performance.now() - killedAt < 1000, 'heard within 1 s');
});

t.test('close stops the watch; the process keeps running and a new adapter finds it', async (t) => {
  const f = await fixture(t);
  const handle = await f.launch('sleep', ['60']);
  let heard = 0;
  f.adapter.watch(() => heard++);
  f.adapter.track('closing-1', handle);
  await f.adapter.close();
  t.equal(await readStartTicks(handle.pid), handle.start_ticks, 'still alive');
  const again = createLocalProcessAdapter();
  t.same(await again.inspect(handle), { state: 'running' }, 'a new adapter finds it from the handle');
  t.match(await again.terminate(handle, 5_000), { state: 'ended', exit_signal: 'SIGTERM' });
  await again.close();
  t.equal(heard, 0, 'the closed adapter told nobody');
});
