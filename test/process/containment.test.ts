// No process escapes a stop: each session in its own cgroup (v2, or a writable v1 hierarchy), so
// a child that leaves the process group with setsid() or setpgid(0,0) is still ended by a stop,
// and by the end of the main process, and writes nothing to the log after the session ended.
// The process-group containment is shown to lose such a child: the attack these tests reproduce.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { findCgroupPlace, isSessionCgroupDir, parseMountinfo } from '../../src/process/cgroup.js';
import { createLocalProcessAdapter, type LocalProcessHandle } from '../../src/process/local.js';
import { readProcStat, readStartTicks } from '../../src/process/proc-stat.js';
import { eventually } from '../helper.js';
import { mustRun, skipOutsideCi } from '../must-run.js';
import { ended, fixture, holdersOf, isDead, pidFrom, type Fixture } from './fixture.js';

/** Two children that leave the session's process group, both writing to its stdout log every 50 ms. */
const ESCAPE = [
  `setsid bash -c 'echo $$ > esc-setsid.pid; while :; do echo tick; sleep 0.05; done' &`,
  `perl -e '$| = 1; setpgrp(0, 0); open(my $f, ">", "esc-setpgid.pid"); print $f "$$\\n"; close $f; while (1) { print "tock\\n"; select(undef, undef, undef, 0.05) }' &`,
  'wait',
].join('\n');

/** Why `containment` is not available on this host (a skip outside CI, a failure in CI), else false. */
function unavailable(containment: 'cgroup-v2' | 'cgroup-v1'): string | false {
  const { place, reasons } = findCgroupPlace(containment);
  return place ? false : `${containment} is not available on this host: ${reasons.join('; ')}`;
}

/** Starts ESCAPE and waits until both children have left the group and written to the log. */
async function launchEscapers(t: Test, f: Fixture): Promise<{ handle: LocalProcessHandle; stdout: string; escapees: number[] }> {
  const spec = f.spec('bash', ['-c', ESCAPE]);
  const handle = (await f.adapter.launch(spec)) as LocalProcessHandle;
  const escapees = [await pidFrom(path.join(f.cwd, 'esc-setsid.pid')), await pidFrom(path.join(f.cwd, 'esc-setpgid.pid'))];
  for (const pid of escapees) f.reap(pid);
  for (const pid of escapees) {
    const stat = await readProcStat(pid);
    t.not(stat?.pgrp, handle.pid, `${pid} has left the session's process group`);
  }
  await eventually(async () => {
    const text = await fs.readFile(spec.stdoutPath, 'utf8');
    return text.includes('tick') && text.includes('tock') ? true : undefined;
  });
  return { handle, stdout: spec.stdoutPath, escapees };
}

for (const containment of ['cgroup-v2', 'cgroup-v1'] as const) {
  const cannot = unavailable(containment);
  const skip = skipOutsideCi(cannot);

  t.test(`${containment}: a stop ends the children that called setsid() and setpgid(0,0), and nothing writes to the log after`, { skip }, async (t) => {
    if (!mustRun(t, cannot)) return;
    const f = await fixture(t, { containment });
    t.equal(f.adapter.containment(), containment);
    const { handle, stdout, escapees } = await launchEscapers(t, f);
    t.ok(handle.cgroup && isSessionCgroupDir(handle.cgroup), 'the session has its own cgroup');
    for (const pid of escapees) {
      const own = await fs.readFile(`/proc/${pid}/cgroup`, 'utf8');
      t.ok(own.includes(path.basename(handle.cgroup!)), `${pid} is still in the session's cgroup`);
    }
    const state = await f.adapter.terminate(handle, 300);
    t.match(state, { state: 'ended', exit_signal: 'SIGTERM' });
    // Checked the moment the stop answers, with no waiting: by then nothing of it may run.
    for (const pid of escapees) t.ok(await isDead(pid), `${pid} is gone once the stop has answered`);
    t.same(await holdersOf(stdout), [], 'no process holds the log open: nothing can write to it after the end');
    await t.rejects(fs.stat(handle.cgroup!), { code: 'ENOENT' }, 'the cgroup is removed');
  });

  t.test(`${containment}: when the main process ends by itself, its escaped children go with it`, { skip }, async (t) => {
    if (!mustRun(t, cannot)) return;
    const f = await fixture(t, { containment });
    const spec = f.spec('bash', ['-c', `setsid sleep 600 & echo $! > esc.pid; exit 4`]);
    const handle = (await f.adapter.launch(spec)) as LocalProcessHandle;
    const escapee = await pidFrom(path.join(f.cwd, 'esc.pid'));
    f.reap(escapee);
    t.match(await ended(f.adapter, handle), { exit_code: 4 });
    t.ok(await isDead(escapee), 'the setsid child is gone when the end is heard');
    await t.rejects(fs.stat(handle.cgroup!), { code: 'ENOENT' }, 'the cgroup is removed');
  });

  t.test(`${containment}: with its keeper killed (-9), a stop still empties the session's cgroup`, { skip }, async (t) => {
    if (!mustRun(t, cannot)) return;
    const f = await fixture(t, { containment });
    const handle = await f.launch('bash', ['-c', 'setsid sleep 600 & echo $! > esc.pid; exec sleep 600']);
    const escapee = await pidFrom(path.join(f.cwd, 'esc.pid'));
    f.reap(escapee);
    process.kill(handle.keeper_pid, 'SIGKILL');
    await eventually(async () => ((await isDead(handle.keeper_pid)) ? true : undefined));
    t.match(await f.adapter.terminate(handle, 300), { state: 'ended' });
    t.ok(await isDead(escapee), 'the setsid child is gone');
    await t.rejects(fs.stat(handle.cgroup!), { code: 'ENOENT' }, 'the cgroup is removed');
  });
}

t.test('process-group: the setsid() and setpgid() children survive a stop (the attack cgroups stop)', async (t) => {
  const f = await fixture(t, { containment: 'process-group' });
  t.equal(f.adapter.containment(), 'process-group');
  const { handle, stdout, escapees } = await launchEscapers(t, f);
  t.equal(handle.cgroup, undefined, 'no cgroup');
  t.match(await f.adapter.terminate(handle, 300), { state: 'ended' });
  for (const pid of escapees) t.notOk(await isDead(pid), `${pid} still runs after the stop`);
  t.not((await holdersOf(stdout)).length, 0, 'and still holds the log open');
  for (const pid of escapees) process.kill(pid, 'SIGKILL');
});

t.test('auto picks a cgroup where the host allows one, and says so once in the log', async (t) => {
  const said: Array<{ level: string; details: Record<string, unknown>; message: string }> = [];
  const log = {
    info: (details: object, message: string) => said.push({ level: 'info', details: details as Record<string, unknown>, message }),
    warn: (details: object, message: string) => said.push({ level: 'warn', details: details as Record<string, unknown>, message }),
  };
  const adapter = createLocalProcessAdapter({ log });
  t.teardown(() => adapter.close());
  const { place } = findCgroupPlace('auto');
  const expected = place ? (place.version === 2 ? 'cgroup-v2' : 'cgroup-v1') : 'process-group';
  t.equal(adapter.containment(), expected);
  t.equal(said.length, 1, 'one line');
  t.match(said[0], { level: place ? 'info' : 'warn', details: { containment: expected }, message: new RegExp(`process containment: ${expected}`) });
});

t.test('no usable cgroup: the reasons say why, and nothing is created where no cgroup is mounted', async (t) => {
  const dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'sessiond-nocg-')));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  t.same(findCgroupPlace('auto', () => '').reasons, ['no cgroup hierarchy is mounted']);
  // A "cgroup2" mount that is just a folder: no cgroup.procs in it.
  const mountinfo = `41 31 0:38 / ${dir} rw,relatime - cgroup2 cgroup2 rw\n`;
  const result = findCgroupPlace('cgroup-v2', (p) => (p.endsWith('mountinfo') ? mountinfo : '0::/\n'));
  t.equal(result.place, null);
  t.match(result.reasons, [/has no cgroup.procs/]);
  t.same(await fs.readdir(dir), [], 'nothing was created');
});

t.test('mountinfo: cgroup2 and v1 hierarchies, escaped mount points', async (t) => {
  const text = [
    '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime shared:5 - cgroup cgroup rw,pids',
    '41 31 0:38 /sub /mnt/cg\\040two rw,relatime - cgroup2 cgroup2 rw',
  ].join('\n');
  t.same(parseMountinfo(text), [
    { version: 1, controller: 'pids', mountPoint: '/sys/fs/cgroup/pids', mountRoot: '/' },
    { version: 2, controller: '', mountPoint: '/mnt/cg two', mountRoot: '/sub' },
  ]);
});

t.test('a handle naming a cgroup that is not a session\'s (a forged record) empties nothing', async (t) => {
  const f = await fixture(t);
  const { spawn } = await import('node:child_process');
  const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => {
    stranger.kill('SIGKILL');
  });
  const pid = stranger.pid as number;
  const ticks = await eventually(async () => (await readStartTicks(pid)) ?? undefined);
  const own = (await fs.readFile(`/proc/${pid}/cgroup`, 'utf8')).trim();
  for (const cgroup of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/unified/sessiond/../..']) {
    t.notOk(isSessionCgroupDir(cgroup), `${cgroup} is not a session cgroup`);
    const handle = { pid, start_ticks: ticks + 1, keeper_pid: 0, state_dir: f.dir, cgroup };
    t.match(await f.adapter.terminate(handle, 100), { state: 'ended' });
  }
  t.equal(await readStartTicks(pid), ticks, 'the stranger still runs');
  t.equal((await fs.readFile(`/proc/${pid}/cgroup`, 'utf8')).trim(), own);
});
