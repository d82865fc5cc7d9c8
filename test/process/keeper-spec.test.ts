// What other local users see of a session's keeper, and what the session inherits from it. The
// attack: `ps` showed every keeper's full spec (arguments, prompt, paths) to every local user.
// Now the spec goes through a pipe (fd 4) and the argv names only the state folder.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { LaunchError } from '../../src/process/adapter.js';
import { readCmdline } from '../../src/process/proc-stat.js';
import { ended, fixture } from './fixture.js';

const MARKER = 'PROMPT-SECRET-2c1f9a';

t.test('ps shows a keeper as `sessiond-keeper <state folder>`: no arguments, prompt, working directory or log paths', async (t) => {
  const f = await fixture(t);
  const cwd = path.join(f.cwd, 'project-cwd-marker');
  await fs.mkdir(cwd);
  const extra = { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TOKEN_LIKE: MARKER } };
  const handle = await f.launch('bash', ['-c', 'sleep 60', '_', `--prompt=${MARKER}`], extra);
  const keeperPid = handle.keeper_pid;
  const argv = await readCmdline(keeperPid);
  t.equal(argv?.length, 2);
  t.equal(path.basename(argv?.[0] ?? ''), 'sessiond-keeper');
  t.equal(argv?.[1], handle.state_dir, 'the state folder only');
  const { stdout } = await promisify(execFile)('ps', ['-o', 'args=', '-p', String(keeperPid)]);
  t.notMatch(stdout, MARKER, 'no argument or prompt in ps');
  t.notMatch(stdout, 'project-cwd-marker', 'no working directory');
  t.notMatch(stdout, 'stdout.log', 'no log path');
});

t.test('a spec far larger than a pipe buffer reaches the keeper whole', async (t) => {
  const f = await fixture(t);
  const big = Array.from({ length: 8 }, (_, i) => String(i).repeat(100 * 1024));
  const spec = f.spec('bash', ['-c', 'echo "$# ${#1} ${8: -1}"', '_', ...big]);
  const handle = await f.adapter.launch(spec);
  t.match(await ended(f.adapter, handle), { exit_code: 0 });
  t.equal(await fs.readFile(spec.stdoutPath, 'utf8'), `8 ${100 * 1024} 7\n`);
});

t.test('the session inherits no descriptor of the keeper (its report and spec pipes)', async (t) => {
  const f = await fixture(t);
  const spec = f.spec('bash', ['-c', 'for fd in 3 4 5; do [ -e /proc/$$/fd/$fd ] && echo "fd $fd open: $(readlink /proc/$$/fd/$fd)"; done; echo done']);
  const handle = await f.adapter.launch(spec);
  await ended(f.adapter, handle);
  t.equal(await fs.readFile(spec.stdoutPath, 'utf8'), 'done\n');
});

t.test('a log path replaced by a symlink is refused, not followed', async (t) => {
  const f = await fixture(t);
  const outside = path.join(f.dir, 'outside.txt');
  await fs.writeFile(outside, 'untouched\n');
  const spec = f.spec('bash', ['-c', 'echo written']);
  await fs.symlink(outside, spec.stdoutPath);
  const err = await f.adapter.launch(spec).catch((e: unknown) => e);
  t.ok(err instanceof LaunchError);
  t.match((err as Error).message, /cannot open log file: .*ELOOP/);
  t.equal(await fs.readFile(outside, 'utf8'), 'untouched\n');
});
