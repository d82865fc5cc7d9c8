// /proc/<pid>/stat parsing: the comm field may hold spaces and parentheses.
import t from 'tap';
import { parseProcStat, readProcStat, readStartTicks, readState } from '../../src/process/proc-stat.js';

// Fields 3..22 after the comm: state ppid pgrp session tty tpgid flags minflt cminflt majflt
// cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime, then more.
const tail = 'S 10 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 12345678 200 18446744073709551615';

t.test('a plain comm', async (t) => {
  t.same(parseProcStat(`1234 (sleep) ${tail}\n`), {
    pid: 1234,
    comm: 'sleep',
    state: 'S',
    ppid: 10,
    pgrp: 1234,
    startTicks: 987654,
  });
});

t.test('a comm with spaces and parentheses is read up to the last parenthesis', async (t) => {
  const stat = parseProcStat(`1234 (evil) S 1 2 3 (x) y) ${tail}`);
  t.equal(stat?.comm, 'evil) S 1 2 3 (x) y');
  t.equal(stat?.state, 'S');
  t.equal(stat?.pgrp, 1234);
  t.equal(stat?.startTicks, 987654);
});

t.test('a zombie is reported with state Z', async (t) => {
  t.equal(parseProcStat(`7 (defunct) ${tail.replace(/^S/, 'Z')}`)?.state, 'Z');
});

t.test('text that is not a stat line gives null', async (t) => {
  t.equal(parseProcStat(''), null);
  t.equal(parseProcStat('1234 sleep S 1 2'), null);
  t.equal(parseProcStat('1234 (sleep) S 1 2 3'), null, 'too few fields for the start time');
});

t.test('the live process: its own stat, and null for one that does not exist', async (t) => {
  const self = await readProcStat(process.pid);
  t.equal(self?.pid, process.pid);
  t.equal(self?.ppid, process.ppid);
  t.ok((self?.startTicks ?? 0) > 0);
  t.equal(await readStartTicks(process.pid), self?.startTicks);
  t.match(await readState(process.pid), /^[RS]$/);
  // Above the kernel's pid_max (at most 2^22), so never a process.
  t.equal(await readStartTicks(2 ** 22 + 1), null);
  t.equal(await readState(0), null);
  t.equal(await readState(-1), null);
});
