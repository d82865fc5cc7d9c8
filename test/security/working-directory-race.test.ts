// The real service, the original attack: a folder inside the workspace flipped between a real
// directory and a symlink to an outside folder every 2 ms while 30 sessions start. Each start is
// refused (400 working_directory_invalid: the service saw the symlink), or `failed` (the keeper
// saw it when it changed into the folder), or runs inside the roots: none runs outside (`pwd -P`).
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { tempDir } from '../helper.js';
import { deploy, type Json } from '../reliability/server-process.js';
import { FLIPPER, PWD } from '../flipper.js';

const STARTS = 30;

t.test(`${STARTS} starts in a folder flipped to a symlink every 2 ms: none runs outside the roots`, async (t) => {
  const d = await deploy(t);
  await d.start();
  const outside = await tempDir(t, 'sessiond-outside-');
  const script = path.join(outside, 'flipper.cjs');
  await fs.writeFile(script, FLIPPER);
  const flipper = spawn(process.execPath, [script, d.root, outside], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    flipper.kill('SIGKILL');
  });
  await new Promise<void>((resolve) => flipper.stdout.once('data', () => resolve()));

  const replies = await Promise.all(
    Array.from({ length: STARTS }, () => d.startSession({ working_directory: path.join(d.root, 'x'), args: ['-c', PWD] })),
  );
  const started: Json[] = [];
  let refused = 0;
  for (const reply of replies) {
    if (reply.status === 201) started.push(reply.json());
    else {
      t.equal(reply.status, 400, 'a start is either accepted or refused as bad input');
      t.equal(reply.json().code, 'working_directory_invalid');
      refused++;
    }
  }
  const ended = await Promise.all(started.map((s) => d.waitEnded(s.id as string)));
  flipper.kill('SIGKILL');
  const failed = ended.filter((s) => s.status === 'failed');
  for (const s of failed) t.match(s.status_reason, /outside the workspace roots|working directory/, 'a clear reason');
  const ran = ended.filter((s) => s.status === 'exited');
  const where = await Promise.all(ran.map(async (s) => (await fs.readFile(path.join(d.sessionDir(s.id as string), 'stdout.log'), 'utf8')).trim()));
  t.comment(`refused: ${refused}; failed at the keeper: ${failed.length}; ran: ${ran.length}`);
  t.equal(refused + failed.length + ran.length, STARTS, 'every start is accounted for');
  t.same(
    where.filter((dir) => dir !== d.root && !dir.startsWith(`${d.root}/`)),
    [],
    'no session ran outside the roots',
  );
});
