// The keeper launcher (launcher.c): the local runtime starts keepers through one small process
// rather than forking the whole service per start. It is only a midwife: killing it costs no
// session anything, a start under way when it dies is adopted from its keeper, and the next
// start makes a new launcher.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { LocalProcessHandle } from '../../src/process/local.js';
import { readCmdline, readProcStat } from '../../src/process/proc-stat.js';
import { eventually } from '../helper.js';
import { fixture, PATH } from './fixture.js';

const KEEPER = fileURLToPath(new URL('../../src/process/sessiond-keeper', import.meta.url));

/** The launchers this test process started (children of it running sessiond-launcher). */
async function launchers(): Promise<number[]> {
  const pids = (await fs.readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const found: number[] = [];
  for (const pid of pids) {
    const stat = await readProcStat(pid).catch(() => null);
    if (stat?.ppid !== process.pid || stat.state === 'Z') continue;
    const argv = await readCmdline(pid).catch(() => null);
    if (argv?.[0]?.endsWith('/sessiond-launcher')) found.push(pid);
  }
  return found;
}

t.test('keepers are born of the launcher, in their own session; killing it between starts costs nothing', async (t) => {
  const f = await fixture(t);
  const first = await f.launch('sleep', ['60']);
  const [launcher] = await launchers();
  t.ok(launcher, 'one launcher runs');
  const keeperStat = await readProcStat(first.keeper_pid);
  t.equal(keeperStat?.ppid, launcher, 'the keeper is its child');
  t.equal(keeperStat?.pgrp, first.keeper_pid, 'in a session of its own (it leads its group)');
  t.same(await readCmdline(first.keeper_pid), [KEEPER, f.spec('x', []).stateDir.replace(/s\d+\.state$/, 's1.state')], 'with the argv a direct spawn gives it');

  process.kill(launcher as number, 'SIGKILL');
  await eventually(async () => ((await launchers()).length === 0 ? true : undefined));
  t.same(await f.adapter.inspect(first), { state: 'running' }, 'the session it started runs on');
  const second = await f.launch('sleep', ['60']);
  t.same(await f.adapter.inspect(second), { state: 'running' }, 'the next start makes a new launcher');
  t.equal((await launchers()).length, 1);
  t.match(await f.adapter.terminate(first, 5_000), { state: 'ended', exit_signal: 'SIGTERM' }, 'and the first one still stops as ever');
});

t.test('a launcher that dies while a keeper is being born: the start adopts the keeper', async (t) => {
  const probe = await fixture(t);
  // A keeper that takes its time: a script named like the keeper (so it is recognised by its
  // argv), which says it has started, waits, then becomes the real keeper.
  const slow = path.join(probe.dir, 'slow', 'sessiond-keeper');
  await fs.mkdir(path.dirname(slow));
  const started = path.join(probe.dir, 'slow', 'started');
  await fs.writeFile(slow, `#!/bin/sh\n: > ${started}\nsleep 0.5\nexec ${KEEPER} "$1"\n`, { mode: 0o755 });
  const f = await fixture(t, { keeperPath: slow });
  const launching = f.adapter.launch(f.spec('sleep', ['60'], { env: { PATH } }));
  await eventually(async () => ((await fs.stat(started).catch(() => null)) ? true : undefined));
  const [launcher] = await launchers();
  process.kill(launcher as number, 'SIGKILL');
  const handle = (await launching) as LocalProcessHandle;
  t.teardown(() => f.adapter.terminate(handle, 100).then(() => undefined));
  t.same(await f.adapter.inspect(handle), { state: 'running' }, 'adopted from its keeper.json, running');
  t.same(await readCmdline(handle.pid), ['sleep', '60'], 'the session itself');
});

t.test('without the launcher program the keepers are spawned by the service itself', async (t) => {
  const f = await fixture(t, { launcherPath: null });
  const handle = await f.launch('sleep', ['60']);
  t.equal((await readProcStat(handle.keeper_pid))?.ppid, process.pid, 'the keeper is the service\'s child');
  t.same(await launchers(), [], 'no launcher');
  t.same(await f.adapter.inspect(handle), { state: 'running' });
});

for (const via of ['the launcher', 'a direct spawn'] as const) {
  t.test(`a keeper that never reports is killed after the launch timeout (${via}), and the launch fails`, async (t) => {
    const probe = await fixture(t);
    const stuck = path.join(probe.dir, 'stuck', 'sessiond-keeper');
    await fs.mkdir(path.dirname(stuck));
    await fs.writeFile(stuck, '#!/bin/sh\nwhile :; do sleep 0.05; done\n', { mode: 0o755 });
    const f = await fixture(t, { keeperPath: stuck, launchTimeoutMs: 300, ...(via === 'a direct spawn' ? { launcherPath: null } : {}) });
    const spec = f.spec('sleep', ['60']);
    const failure = await f.adapter.launch(spec).then(
      () => null,
      (err: unknown) => err as Error,
    );
    t.match(failure?.message, /did not report within 300 ms/, 'the launch fails, saying why');
    const pids = (await fs.readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
    const keepers = async () => {
      const found: number[] = [];
      for (const pid of pids) if ((await readCmdline(pid).catch(() => null))?.at(-1) === spec.stateDir) found.push(pid);
      return found;
    };
    t.ok(await eventually(async () => ((await keepers()).length === 0 ? true : undefined)), 'and the stuck keeper is gone');
  });
}

t.test("the launcher has an empty environment: the service's own (tokens) is not readable through it", async (t) => {
  const f = await fixture(t);
  process.env.SESSIOND_TEST_SECRET_FOR_LAUNCHER = 'do-not-leak';
  t.teardown(() => {
    delete process.env.SESSIOND_TEST_SECRET_FOR_LAUNCHER;
  });
  const handle = await f.launch('sleep', ['60']);
  const launcher = (await readProcStat(handle.keeper_pid))?.ppid as number;
  // (tap adds its own coverage variables to every child it sees spawned; nothing else is there.)
  const environ = (await fs.readFile(`/proc/${launcher}/environ`, 'utf8')).split('\0').filter((entry) => entry !== '' && !/^(_TAPJS_|NODE_OPTIONS=)/.test(entry));
  t.same(environ, [], 'nothing of the service in its environment');
  t.notOk((await fs.readFile(`/proc/${handle.keeper_pid}/environ`, 'utf8')).includes('do-not-leak'), 'nor in the keeper\'s');
});
