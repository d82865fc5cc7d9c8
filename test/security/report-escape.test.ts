// A hostile session tries to make the service serve a file outside the workspace as its report
// (issue 9, point 2): report.md flipped between a file and a link while it is read, the working
// directory replaced by a link after the start, a hard link, a file of another owner, outputs/ as
// a link, a FIFO. Real server, real bash sessions, real links; the status decided at the end and
// GET /report must both refuse every one.
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { deploy, type Deployment, type Json } from '../reliability/server-process.js';
import { eventually } from '../helper.js';
import { assertRefused, inParallel, outsideSecret, quote, swapRounds, swapperCommand } from './escape-kit.js';

const READS = 400;

async function workdir(s: Deployment, name: string): Promise<string> {
  const dir = path.join(s.root, name);
  await fs.mkdir(dir, { recursive: true });
  return dir;
}

/** Runs `script` in its own folder with expects_report, waits for its end. */
async function reportSession(s: Deployment, name: string, script: string): Promise<{ dir: string; ended: Json }> {
  const dir = await workdir(s, name);
  const started = await s.run(script, { expects_report: true, working_directory: dir });
  return { dir, ended: await s.waitEnded(started.id) };
}

t.test('report.md flipped between a file and a link to an outside file during 400 reads: none returns the outside file', async (t) => {
  const s = await deploy(t);
  await s.start();
  const outside = await outsideSecret(t);
  const dir = await workdir(s, 'race');
  // The session itself flips its report as fast as it can, each flip one atomic rename.
  const session = await s.run(await swapperCommand(t, outside.file, 'report.md'), { expects_report: true, working_directory: dir });
  await eventually(async () => ((await swapRounds(dir)) > 0 ? true : undefined), 20_000);
  const roundsBefore = await swapRounds(dir);

  const replies = await inParallel(READS, 8, () => s.request('GET', `/v1/sessions/${session.id}/report`));
  const roundsAfter = await swapRounds(dir);
  t.ok(roundsAfter > roundsBefore, `the report kept flipping during the reads (${roundsAfter - roundsBefore} rounds)`);

  const leaked = replies.filter((r) => r.text.includes(outside.secret)).length;
  const served = replies.filter((r) => r.status === 200 && r.text === 'inside\n').length;
  const refused = replies.filter((r) => r.status === 404 && r.json().code === 'report_not_found').length;
  t.equal(leaked, 0, `no read returned the link's target (served ${served}, refused ${refused})`);
  t.equal(served + refused, READS, 'every read is the regular file or report_not_found, nothing else');
  t.ok(served > 0, 'the regular file is served while it is the report');

  const stopped = await s.request('POST', `/v1/sessions/${session.id}/stop`);
  t.equal(stopped.json().status, 'terminated');
});

t.test('the working directory replaced by a link after the start: completed_missing_report, the outside report is not served', async (t) => {
  const s = await deploy(t);
  await s.start();
  const outside = await outsideSecret(t);

  // To a folder outside the roots, where the session then writes a fresh report.md.
  const out = await reportSession(
    s,
    'moved-out',
    `w="$PWD"; cd / && mv "$w" "$w.orig" && ln -s ${quote(outside.dir)} "$w" && printf '%s\\n' ${quote(outside.secret)} > ${quote(path.join(outside.dir, 'report.md'))}`,
  );
  t.equal((await fs.lstat(out.dir)).isSymbolicLink(), true, 'the working directory is now a link');
  t.match(out.ended, { status: 'completed_missing_report', exit_code: 0 }, 'to a folder outside the roots: no report');
  assertRefused(t, await s.request('GET', `/v1/sessions/${out.ended.id}/report`), 404, 'report_not_found', outside.secret, 'GET /report');

  // To another folder inside the roots: still not this session's folder (the recorded real path).
  const other = await workdir(s, 'someone-else');
  const inside = await reportSession(
    s,
    'moved-in',
    `w="$PWD"; cd / && mv "$w" "$w.orig" && ln -s ${quote(other)} "$w" && echo "# not mine" > ${quote(path.join(other, 'report.md'))}`,
  );
  t.match(inside.ended, { status: 'completed_missing_report', exit_code: 0 }, 'to another folder inside the roots: no report either');
  t.equal((await s.request('GET', `/v1/sessions/${inside.ended.id}/report`)).status, 404);

  // The runtime write root is held to the same rule.
  const rwr = await workdir(s, 'rwr');
  const runtime = await s.run(
    `cd / && mv ${quote(rwr)} ${quote(`${rwr}.orig`)} && ln -s ${quote(outside.dir)} ${quote(rwr)} && printf '%s\\n' ${quote(outside.secret)} > ${quote(path.join(outside.dir, 'report.md'))}`,
    { expects_report: true, working_directory: await workdir(s, 'rwr-wd'), runtime_write_root: rwr },
  );
  t.match(await s.waitEnded(runtime.id), { status: 'completed_missing_report' }, 'runtime_write_root moved out: no report');
  assertRefused(t, await s.request('GET', `/v1/sessions/${runtime.id}/report`), 404, 'report_not_found', outside.secret, 'GET /report (runtime_write_root)');
});

t.test('a hard link, outputs/ as a link, a FIFO, another owner: refused; a plain report is still served', async (t) => {
  const s = await deploy(t);
  await s.start();
  const outside = await outsideSecret(t);

  // `touch` gives the shared inode a fresh mtime, so only the link count can tell.
  const hard = await reportSession(s, 'hard', `ln ${quote(outside.file)} report.md && touch report.md`);
  t.equal((await fs.stat(path.join(hard.dir, 'report.md'))).nlink, 2, 'report.md is a hard link to the outside file');
  t.match(hard.ended, { status: 'completed_missing_report', exit_code: 0 }, 'hard link: no report');
  assertRefused(t, await s.request('GET', `/v1/sessions/${hard.ended.id}/report`), 404, 'report_not_found', outside.secret, 'hard link');

  const outputs = await reportSession(
    s,
    'outputs-link',
    `ln -s ${quote(outside.dir)} outputs && printf '%s\\n' ${quote(outside.secret)} > outputs/report.md`,
  );
  t.match(outputs.ended, { status: 'completed_missing_report', exit_code: 0 }, 'outputs/ as a link: no report');
  assertRefused(t, await s.request('GET', `/v1/sessions/${outputs.ended.id}/report`), 404, 'report_not_found', outside.secret, 'outputs/ link');

  // A FIFO nobody writes: opening it for reading must not hang the service.
  const fifo = await reportSession(s, 'fifo', 'mkfifo report.md');
  t.match(fifo.ended, { status: 'completed_missing_report', exit_code: 0 }, 'a FIFO: no report');
  const fifoRead = await s.request('GET', `/v1/sessions/${fifo.ended.id}/report`, { timeoutMs: 10_000 });
  t.equal(fifoRead.status, 404, 'a FIFO: report_not_found, at once');

  if (process.geteuid?.() === 0) {
    const foreign = await reportSession(s, 'foreign', 'echo "# by nobody" > report.md && chown 65534:65534 report.md');
    t.equal((await fs.stat(path.join(foreign.dir, 'report.md'))).uid, 65534, 'report.md belongs to another user');
    t.match(foreign.ended, { status: 'completed_missing_report', exit_code: 0 }, 'another owner: no report');
    t.equal((await s.request('GET', `/v1/sessions/${foreign.ended.id}/report`)).status, 404);
  } else {
    t.comment('skipped the owner case: giving a file to another user needs root');
  }

  const plain = await reportSession(s, 'plain', 'mkdir outputs && echo "# Done" > outputs/report.md');
  t.match(plain.ended, { status: 'completed', exit_code: 0 }, 'a plain report in outputs/: completed');
  const served = await s.request('GET', `/v1/sessions/${plain.ended.id}/report`);
  t.equal(served.status, 200);
  t.equal(served.text, '# Done\n', 'and served');
});
