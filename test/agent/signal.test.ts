// ProcessAdapter.signal on the local adapter with real processes: the signal reaches the whole
// process group (a child too), nothing else is sent, an ended session answers false, and a pid
// that now belongs to another process is never signalled.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createLocalProcessAdapter, type LocalProcessHandle } from '../../src/process/local.js';
import { eventually } from '../helper.js';

t.test('signal: SIGINT to the group, false once ended, never to a stranger', async (t) => {
  const dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'sessiond-signal-')));
  const adapter = createLocalProcessAdapter({ pollIntervalMs: 20, files: (id) => ({ stdout: path.join(dir, `${id}.out`), stderr: path.join(dir, `${id}.err`), stateDir: path.join(dir, `${id}.state`) }) });
  const handles: LocalProcessHandle[] = [];
  t.teardown(async () => {
    for (const handle of handles) await adapter.terminate(handle, 100);
    await adapter.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  let n = 0;
  const launch = async (script: string) => {
    n += 1;
    const handle = (await adapter.launch({
      sessionId: `s${n}`,
      command: 'bash',
      args: ['-c', script],
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    })) as LocalProcessHandle;
    handles.push(handle);
    return handle;
  };
  const out = (i: number) => fs.readFile(path.join(dir, `s${i}.out`), 'utf8').catch(() => '');

  // The shell and a child of it each say when SIGINT reaches them, and go on. (The child is
  // node: a background job of a non-interactive bash starts with SIGINT ignored, which bash's
  // own trap could not undo.)
  const child = `${JSON.stringify(process.execPath)} -e "process.on('SIGINT', () => console.log('child got INT')); console.log('ready'); setInterval(() => {}, 1000)"`;
  const handle = await launch(`trap 'echo shell got INT' INT; ${child} & while :; do sleep 0.05; done`);
  await eventually(async () => ((await out(1)).includes('ready') ? true : undefined));
  t.equal(await adapter.signal(handle, 'SIGINT'), true, 'sent');
  const heard = await eventually(async () => {
    const text = await out(1);
    return text.includes('shell got INT') && text.includes('child got INT') ? text : undefined;
  });
  t.ok(heard, 'the whole group heard it');
  t.same(await adapter.inspect(handle), { state: 'running' }, 'and goes on: no SIGKILL follows');

  const ended = await launch('exit 0');
  await eventually(async () => ((await adapter.inspect(ended)).state === 'ended' ? true : undefined));
  t.equal(await adapter.signal(ended, 'SIGINT'), false, 'an ended session: nothing sent');

  // A handle whose start time no longer matches its pid (the pid was reused): not signalled.
  const stranger = { ...handle, start_ticks: handle.start_ticks + 1 };
  t.equal(await adapter.signal(stranger, 'SIGTERM'), false, 'not the session: nothing sent');
  t.same(await adapter.inspect(handle), { state: 'running' }, 'the process behind that pid is untouched');
  t.equal(await adapter.signal({ pid: null }, 'SIGINT'), false, 'a handle that names no process');
});
