// What a container session is held to, against a real engine: its memory limit (exceeding it ends
// the session with SIGKILL and a reason naming memory), its pids limit, no network but loopback,
// its working directory read-only unless it may write, the service's uid:gid, and nothing of the
// host beyond its working directory.
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { OOM_REASON } from '../../src/process/docker-state.js';
import { bytesOf, dockerFixture, listen, NO_ENGINE } from './engine.js';

t.test('exceeding the memory limit ends it with SIGKILL and a reason naming memory', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  const ends = listen(t, f.adapter);
  // Holds 200 MB in a shell variable under a 32 MiB limit.
  const { spec } = await f.launch('sh', ['-c', `x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived`], {
    container: { limits: { memoryBytes: 32 * 1024 * 1024 } },
  });
  const end = await ends.of(spec.sessionId);
  t.same([end.exit_code, end.exit_signal], [null, 'SIGKILL'], 'ended by SIGKILL');
  t.equal(end.reason, OOM_REASON, 'the reason says memory');
  t.match(end.reason, /memory/);
  t.notMatch((await bytesOf(spec.stdoutPath)).toString(), /survived/, 'it did not get past the allocation');
});

t.test('the pids limit stops it from starting more processes', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  const ends = listen(t, f.adapter);
  const script = `i=0; while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); done; echo started all; kill $(jobs -p) 2>/dev/null; exit 0`;
  const { spec } = await f.launch('sh', ['-c', script], { container: { limits: { pids: 8 } } });
  await ends.of(spec.sessionId);
  t.match((await bytesOf(spec.stderrPath)).toString(), /can't fork|Resource temporarily unavailable/, 'fork failed at the limit');
});

t.test('the network is none by default: loopback only', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  const ends = listen(t, f.adapter);
  const { spec } = await f.launch('cat', ['/proc/net/dev']);
  t.same((await ends.of(spec.sessionId)).exit_code, 0);
  const interfaces = (await bytesOf(spec.stdoutPath))
    .toString()
    .split('\n')
    .slice(2)
    .filter((line) => line.includes(':'))
    .map((line) => line.split(':')[0]!.trim());
  t.same(interfaces, ['lo'], 'only lo');
});

t.test('the working directory is read-only unless the session may write', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  const ends = listen(t, f.adapter);
  await fs.writeFile(path.join(f.cwd, 'given.txt'), 'from the host\n');
  const script = 'cat given.txt; echo new > made.txt';
  const readOnly = await f.launch('sh', ['-c', script]);
  t.not((await ends.of(readOnly.spec.sessionId)).exit_code, 0, 'writing failed');
  t.equal((await bytesOf(readOnly.spec.stdoutPath)).toString(), 'from the host\n', 'it sees the working directory at the same path');
  t.match((await bytesOf(readOnly.spec.stderrPath)).toString(), /Read-only file system/);
  await t.rejects(fs.stat(path.join(f.cwd, 'made.txt')), { code: 'ENOENT' }, 'nothing was written');

  const writable = await f.launch('sh', ['-c', script], { container: { cwdWritable: true } });
  t.equal((await ends.of(writable.spec.sessionId)).exit_code, 0, 'writing worked when allowed');
  t.equal(await fs.readFile(path.join(f.cwd, 'made.txt'), 'utf8'), 'new\n', 'and the host sees the file');
});

t.test("it runs as the service's uid:gid and sees nothing of the host beyond its working directory", { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  const ends = listen(t, f.adapter);
  // The test folder holds the working directory, the log files and the state folder.
  const { spec } = await f.launch('sh', ['-c', `id -u; id -g; ls ${f.dir}; ls /work /home /root 2>&1 >/dev/null | wc -l`], { env: { PATH: '/bin', ONLY: 'this' } });
  await ends.of(spec.sessionId);
  const [uid, gid, listing, missing] = (await bytesOf(spec.stdoutPath)).toString().trim().split('\n');
  t.equal(Number(uid), process.getuid!(), 'uid');
  t.equal(Number(gid), process.getgid!(), 'gid');
  t.equal(listing, 'cwd', 'of its parent folder only the working directory is there: no log files, no state');
  t.equal(Number(missing), 3, 'host folders are not there');
});

t.test('only the given environment reaches the command', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  const ends = listen(t, f.adapter);
  const { spec } = await f.launch('env', [], { env: { PATH: '/bin', ONLY: 'this one' } });
  await ends.of(spec.sessionId);
  const names = (await bytesOf(spec.stdoutPath))
    .toString()
    .trim()
    .split('\n')
    .map((line) => line.split('=')[0]);
  // HOSTNAME and HOME are set by the engine for every container.
  t.same(names.filter((name) => name !== 'HOSTNAME' && name !== 'HOME').sort(), ['ONLY', 'PATH']);
  t.match((await bytesOf(spec.stdoutPath)).toString(), /^ONLY=this one$/m, 'values as given, spaces and all');
});

t.test('the cpus limit is the cgroup quota the container sees', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  const ends = listen(t, f.adapter);
  // cgroup v2: "quota period" in cpu.max; v1: the two cfs files.
  const script = 'cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us)';
  const { spec } = await f.launch('sh', ['-c', script], { container: { limits: { cpus: 0.5 } } });
  await ends.of(spec.sessionId);
  const [quota, period] = (await bytesOf(spec.stdoutPath)).toString().trim().split(/\s+/).map(Number);
  t.equal(quota! / period!, 0.5, 'half a CPU');
});

t.test('the uid:gid is the configured one, and the read-only working directory holds for it too', { skip: NO_ENGINE }, async (t) => {
  // The service here may run as root; another uid shows the setting is applied, not defaulted.
  const f = await dockerFixture(t, { user: '65534:65534' });
  const ends = listen(t, f.adapter);
  const { spec } = await f.launch('sh', ['-c', 'id -u; id -g; touch x 2>/dev/null || echo cannot write']);
  await ends.of(spec.sessionId);
  t.equal((await bytesOf(spec.stdoutPath)).toString(), '65534\n65534\ncannot write\n');
});
