// find(): adopting a session whose launch the service never recorded (it died in between), by
// the session's id (the adapter knows where its state folder is).
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { createLocalProcessAdapter } from '../../src/process/local.js';
import { readStartTicks } from '../../src/process/proc-stat.js';
import { tempDir } from '../helper.js';
import { filesUnder } from './fixture.js';

t.test('no keeper.json and no keeper at work: nothing to adopt', async (t) => {
  const adapter = createLocalProcessAdapter({ files: filesUnder(await tempDir(t)) });
  t.teardown(() => adapter.close());
  t.equal(await adapter.find('s1'), null);
});

t.test('a keeper that has not yet written keeper.json is waited for and adopted', async (t) => {
  const dir = await tempDir(t);
  const files = filesUnder(dir);
  const stateDir = files('s1').stateDir;
  await fs.mkdir(stateDir);
  // Stands in for a keeper of an earlier version (node .../keeper.js <state folder>, adopted after an
  // upgrade), which writes keeper.json late.
  const script = path.join(dir, 'keeper.js');
  await fs.writeFile(
    script,
    `const fs = require('node:fs');
const stateDir = process.argv[2];
const ticks = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[19];
setTimeout(() => fs.writeFileSync(stateDir + '/keeper.json', JSON.stringify({ pid: process.pid, start_ticks: Number(ticks), keeper_pid: process.pid })), 500);
setTimeout(() => {}, 30000);
`,
  );
  const child = spawn(process.execPath, [script, stateDir], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  // Wait until it runs, so the adapter can see it in /proc.
  while ((await readStartTicks(child.pid as number)) === null) await new Promise((r) => setTimeout(r, 10));
  const adapter = createLocalProcessAdapter({ files });
  t.teardown(() => adapter.close());
  const handle = await adapter.find('s1');
  t.match(handle, { pid: child.pid, keeper_pid: child.pid, state_dir: stateDir });
  t.same(await adapter.inspect(handle!), { state: 'running' }, 'and it is the live process');
});
