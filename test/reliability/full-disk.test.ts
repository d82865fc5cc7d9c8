// A full data disk never costs control: on a 4 MiB tmpfs filled to the last byte, a stop still
// signals the session, reads answer from memory, and the change is written once space is back.
import { execFileSync } from 'node:child_process';
import { open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { eventually } from '../helper.js';
import { deploy } from './server-process.js';

function mountTmpfs(dir: string): string | null {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Writes zeros until the file system says ENOSPC. */
async function fill(file: string): Promise<void> {
  const fh = await open(file, 'w');
  const block = Buffer.alloc(64 * 1024);
  try {
    for (;;) await fh.write(block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('stop on a full disk: the process is signalled, reads answer, the record is written later', async (t) => {
  // No disk floor here: this is what happens when the disk fills up all the same.
  const d = await deploy(t, { env: { SESSIOND_MIN_FREE_BYTES: '0' } });
  const why = mountTmpfs(d.dataDir);
  if (why !== null) {
    // Only where mounting is impossible (an unprivileged container); CI on this machine kind is root.
    if (process.env.CI) throw new Error(`cannot mount a tmpfs for the full-disk test: ${why}`);
    t.plan(0, `skipped: cannot mount a tmpfs here: ${why}`);
    return;
  }
  // Runs before deploy's own teardown has killed the sessions: a lazy unmount lets their files go.
  t.teardown(() => void execFileSync('umount', ['-l', d.dataDir], { stdio: 'pipe' }));
  await d.start();
  const session = await d.run('trap "exit 143" TERM; while :; do sleep 0.05; done');
  const doomed = await d.run('sleep 600');
  // Their running records are written just after the starts' answers; the disk fills after that.
  for (const s of [session, doomed]) {
    await eventually(async () => (JSON.parse(await readFile(path.join(d.sessionDir(s.id), 'session.json'), 'utf8')).status === 'running' ? true : undefined));
  }
  const filler = path.join(d.dataDir, 'filler');
  await fill(filler);
  const ready = await d.request('GET', '/readyz');
  t.equal(ready.status, 503, '/readyz: not ready');
  t.match(ready.json().detail, /full/, 'and it says the disk is full');

  const stopped = await d.request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 2000 } });
  t.equal(stopped.status, 200, `stop answers 200 on a full disk (${stopped.text.slice(0, 200)})`);
  t.match(stopped.json(), { status: 'stopped', stop_reason: 'requested' });
  t.notOk(alive(session.pid as number), 'the process was signalled and is gone');
  t.match((await d.request('GET', `/v1/sessions/${session.id}`)).json(), { status: 'stopped' }, 'a read answers from memory');
  const listed = (await d.request('GET', '/v1/sessions')).json().items as Array<{ id: string; status: string }>;
  t.match(listed.find((s) => s.id === session.id), { status: 'stopped' }, 'and so does the list');
  const deleted = await d.request('DELETE', `/v1/sessions/${doomed.id}?force=true`);
  t.equal(deleted.status, 204, `a forced delete works on a full disk (${deleted.text.slice(0, 200)})`);
  t.notOk(alive(doomed.pid as number), 'and signalled its process');
  t.equal((await d.request('GET', `/v1/sessions/${doomed.id}`)).status, 404);
  const onDisk = async () => JSON.parse(await readFile(path.join(d.sessionDir(session.id), 'session.json'), 'utf8')).status as string;
  t.equal(await onDisk(), 'running', 'nothing could be written yet');

  await rm(filler);
  await eventually(async () => ((await onDisk()) === 'stopped' ? true : undefined), 15_000);
  t.equal(await onDisk(), 'stopped', 'written once space was back');
  const record = JSON.parse(await readFile(path.join(d.sessionDir(session.id), 'session.json'), 'utf8'));
  t.equal(record.exit_code, 143, 'with the exit code the keeper kept through the full disk');
});
