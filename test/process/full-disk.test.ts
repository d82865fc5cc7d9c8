// A full disk never costs a session's exit code: the keeper reserves the room for exit.json when
// it starts, and when even that is lost it stays alive holding the status until it can write it.
// The attack: a data disk filled up while a session runs (the exit code was lost, no exit.json).
// The disk here is a 4 MiB tmpfs, filled to the last byte while the session runs.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { readCmdline } from '../../src/process/proc-stat.js';
import { eventually } from '../helper.js';
import { mustRun, skipOutsideCi } from '../must-run.js';
import { ended, fixture, isDead, type Fixture } from './fixture.js';

const run = promisify(execFile);

/** A fresh 4 MiB tmpfs, unmounted in teardown; or the reason it cannot be had here. */
async function smallDisk(t: Test): Promise<string> {
  const dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'sessiond-full-')));
  await run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
  t.teardown(async () => {
    await run('umount', ['-l', dir]).catch(() => undefined);
    await fs.rm(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Whether a tmpfs can be mounted here (root, or CAP_SYS_ADMIN); the reason when not. */
async function mountRefusal(): Promise<string | false> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sessiond-mount-probe-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    await run('umount', [dir]);
    return false;
  } catch (err) {
    return `cannot mount a tmpfs here: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Writes to `disk` until not one more byte fits. */
async function fill(disk: string): Promise<string> {
  const file = path.join(disk, 'filler');
  const handle = await fs.open(file, 'w');
  try {
    for (const size of [1024 * 1024, 4096, 1]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          await handle.write(chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    await handle.close();
  }
  return file;
}

/** A session that exits 7 once the test writes to its fifo (outside the small disk). */
async function waitingSession(f: Fixture): Promise<{ handle: Awaited<ReturnType<Fixture['launch']>>; release: () => Promise<void> }> {
  const fifo = path.join(f.cwd, 'go.fifo');
  await run('mkfifo', [fifo]);
  const handle = await f.launch('bash', ['-c', 'read line < go.fifo; exit 7']);
  return { handle, release: () => fs.writeFile(fifo, 'go\n') };
}

// Outside CI a host that cannot mount skips with the reason; CI (root on this machine kind) fails.
const cannot = await mountRefusal();
const skip = skipOutsideCi(cannot);

t.test('the disk fills up while the session runs: its exit code is still recorded', { skip }, async (t) => {
  if (!mustRun(t, cannot)) return;
  const disk = await smallDisk(t);
  const f = await fixture(t, {}, disk);
  const { handle, release } = await waitingSession(f);
  await fill(disk);
  await t.rejects(fs.writeFile(path.join(disk, 'one-more'), 'x'), { code: 'ENOSPC' }, 'the disk is full');
  const end = ended(f.adapter, handle);
  await release();
  t.match(await end, { state: 'ended', exit_code: 7, exit_signal: null });
  t.match(JSON.parse(await fs.readFile(path.join(handle.state_dir, 'exit.json'), 'utf8')), { exit_code: 7 }, 'exit.json is written');
});

t.test('with no room at all, the keeper keeps the exit code until it can write it', { skip }, async (t) => {
  if (!mustRun(t, cannot)) return;
  const disk = await smallDisk(t);
  const f = await fixture(t, {}, disk);
  const { handle, release } = await waitingSession(f);
  // Take away the room the keeper reserved: now writing exit.json needs new space.
  const reserved = (await fs.readdir(handle.state_dir)).filter((name) => name.endsWith('.reserved'));
  t.equal(reserved.length, 1, 'the keeper reserved room for exit.json');
  await fs.rm(path.join(handle.state_dir, reserved[0] as string));
  const filler = await fill(disk);
  await release();
  await eventually(async () => ((await isDead(handle.pid)) ? true : undefined));
  t.equal((await readCmdline(handle.keeper_pid))?.at(-1), handle.state_dir, 'the keeper is still alive, holding the status');
  await t.rejects(fs.stat(path.join(handle.state_dir, 'exit.json')), { code: 'ENOENT' }, 'no exit.json yet');
  t.same(await f.adapter.inspect(handle), { state: 'running' }, 'the session is still finishing, not ended with an unknown status');
  const end = ended(f.adapter, handle, 30_000);
  await fs.rm(filler);
  t.match(await end, { state: 'ended', exit_code: 7 }, 'once there is room, the exit code is recorded');
  t.ok(await eventually(async () => ((await isDead(handle.keeper_pid)) ? true : undefined)), 'and the keeper exits');
});
