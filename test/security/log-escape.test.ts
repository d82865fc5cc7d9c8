// A hostile session replaces its own stdout.log (the path is one readlink of /proc/$$/fd/1 away)
// to make the service serve a file outside the workspace (issue 9, point 2): by a link, a hard
// link, a folder, a FIFO, and by flipping a link in and out while it is read. Raw, range, tail,
// follow and SSE must never send a byte of the outside file, answer log_unavailable where a
// problem can still be sent, and never hang.
import fs from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { deploy, StreamClient, type Deployment, type Json, type Reply } from '../reliability/server-process.js';
import { eventually } from '../helper.js';
import { mustRun, skipOutsideCi } from '../must-run.js';
import { assertRefused, inParallel, outsideSecret, quote, swapRounds, swapperCommand } from './escape-kit.js';

const READS = 400;
/** Batches of READS tried before concluding the regular file is never served. */
const MAX_BATCHES = 10;
/** The session's own stdout log, as the session finds it. */
const MY_LOG = '"$(readlink /proc/$$/fd/1)"';
/** The other user a log is handed to (nobody). */
const NOBODY = 65534;
/** Only root can give a file away (chown): why the owner test cannot run otherwise. */
const notRoot = process.geteuid?.() === 0 ? false : 'only root can chown a log to another user';

async function workdir(s: Deployment, name: string): Promise<string> {
  const dir = path.join(s.root, name);
  await fs.mkdir(dir, { recursive: true });
  return dir;
}

const follow = (s: Deployment, id: string) => StreamClient.open(s.server.url, `/v1/sessions/${id}/logs/stdout?follow=true`);
const sse = (s: Deployment, id: string) => StreamClient.open(s.server.url, `/v1/sessions/${id}/logs/stream`, { accept: 'text/event-stream' });

/** Every way to read stdout that answers at once: none may serve the outside file. */
async function assertLogRefused(t: Test, s: Deployment, id: string, secret: string): Promise<void> {
  assertRefused(t, await s.request('GET', `/v1/sessions/${id}/logs/stdout`, { timeoutMs: 10_000 }), 409, 'log_unavailable', secret, 'raw');
  assertRefused(t, await s.request('GET', `/v1/sessions/${id}/logs/stdout`, { headers: { range: 'bytes=0-99' }, timeoutMs: 10_000 }), 409, 'log_unavailable', secret, 'range');
  assertRefused(t, await s.request('GET', `/v1/sessions/${id}/logs?tail_bytes=1000`, { timeoutMs: 10_000 }), 409, 'log_unavailable', secret, 'tail');
  for (const [what, open] of [['follow', follow], ['SSE', sse]] as const) {
    const client = await open(s, id);
    t.ok(await client.finishedWithin(10_000), `${what}: the stream ends instead of serving it`);
    t.notOk(client.text.includes(secret), `${what}: nothing of the outside file`);
  }
}

t.test('stdout.log replaced by a link to an outside file: raw, range, tail, follow and SSE never serve it', async (t) => {
  const s = await deploy(t);
  await s.start();
  const outside = await outsideSecret(t);
  const dir = await workdir(s, 'link');
  const session = await s.run(
    `echo before; while [ ! -e go ]; do sleep 0.02; done; ln -sf ${quote(outside.file)} ${MY_LOG} && echo after && exec sleep 60`,
    { working_directory: dir },
  );
  const log = path.join(s.sessionDir(session.id), 'stdout.log');

  // Streams already following when the log is swapped.
  const liveFollow = await follow(s, session.id);
  const liveSse = await sse(s, session.id);
  await liveFollow.until((c) => c.text.includes('before\n'), 20_000, 'the first line on follow');
  await liveSse.until((c) => c.lines('stdout').includes('before'), 20_000, 'the first line on SSE');
  const plain = await s.request('GET', `/v1/sessions/${session.id}/logs/stdout`);
  t.equal(plain.text, 'before\n', 'before the swap the log is served');

  await fs.writeFile(path.join(dir, 'go'), '');
  await eventually(async () => ((await fs.lstat(log)).isSymbolicLink() ? true : undefined), 20_000);
  await assertLogRefused(t, s, session.id, outside.secret);

  // The outside file grows: a reader following the link would now send it.
  await fs.appendFile(outside.file, `${outside.secret} again\n`);
  t.ok(await liveFollow.finishedWithin(20_000), 'the live follow ends');
  t.ok(await liveSse.finishedWithin(20_000), 'the live SSE stream ends');
  t.notOk(liveFollow.text.includes(outside.secret), 'live follow: nothing of the outside file');
  t.notOk(liveSse.text.includes(outside.secret), 'live SSE: nothing of the outside file');

  const listed = await s.request('GET', `/v1/sessions/${session.id}`);
  t.equal(listed.status, 200, 'the session itself still reads fine');
  await s.request('POST', `/v1/sessions/${session.id}/stop`);
});

t.test('a hard link, a folder or a FIFO in place of stdout.log: log_unavailable, never its content, never a hang', async (t) => {
  const s = await deploy(t);
  await s.start();
  const outside = await outsideSecret(t);
  const cases: Array<[string, string]> = [
    ['hard link', `ln -f ${quote(outside.file)} ${MY_LOG}`],
    ['folder', `log=${MY_LOG}; rm "$log" && mkdir "$log"`],
    ['FIFO', `log=${MY_LOG}; rm "$log" && mkfifo "$log"`],
  ];
  for (const [what, script] of cases) {
    await t.test(what, async (t) => {
      const started = await s.run(`echo before; ${script}`, { working_directory: await workdir(s, what.replace(' ', '-')) });
      const ended: Json = await s.waitEnded(started.id);
      t.equal(ended.exit_code, 0, 'the session did replace its log');
      await assertLogRefused(t, s, started.id, outside.secret);
    });
  }
});

t.test('stdout.log flipped between a file and a link to an outside file during 400 reads: none returns the outside file', async (t) => {
  const s = await deploy(t);
  await s.start();
  const outside = await outsideSecret(t);
  const dir = await workdir(s, 'race');
  const session = await s.run(await swapperCommand(t, outside.file, MY_LOG), { working_directory: dir });
  await eventually(async () => ((await swapRounds(dir)) > 0 ? true : undefined), 20_000);
  const roundsBefore = await swapRounds(dir);

  // Raw and tail in turn; both read the log the same way as follow and SSE do. A read checks the
  // log more than once, so on a loaded machine a whole batch can land on a link at some point:
  // batches go on until one read was served (the regular file), up to MAX_BATCHES.
  const replies: Reply[] = [];
  for (let batch = 0; batch < MAX_BATCHES && !replies.some((r) => r.status === 200); batch++) {
    replies.push(
      ...(await inParallel(READS, 8, (i) =>
        i % 2 === 0 ? s.request('GET', `/v1/sessions/${session.id}/logs/stdout`) : s.request('GET', `/v1/sessions/${session.id}/logs?tail_bytes=1000`),
      )),
    );
  }
  const roundsAfter = await swapRounds(dir);
  t.ok(roundsAfter > roundsBefore, `the log kept flipping during the reads (${roundsAfter - roundsBefore} rounds)`);

  const leaked = replies.filter((r) => r.text.includes(outside.secret)).length;
  const served = replies.filter((r) => r.status === 200).length;
  const refused = replies.filter((r) => r.status === 409 && r.json().code === 'log_unavailable').length;
  t.equal(leaked, 0, `no read returned the link's target (served ${served}, refused ${refused})`);
  t.equal(served + refused, replies.length, 'every read is the regular file or log_unavailable, nothing else');
  t.ok(served > 0, 'the regular file is served while it is the log');
  for (const r of replies.filter((r) => r.status === 200)) {
    const text = r.headers['content-type']?.startsWith('application/json') ? String(r.json().stdout) : r.text;
    if (text !== 'inside\n') t.fail(`a served read holds ${JSON.stringify(text.slice(0, 100))}`);
  }
  await s.request('POST', `/v1/sessions/${session.id}/stop`);
});

t.test('stdout.log owned by another user: raw, range, tail, follow and SSE answer log_unavailable, never its content', { skip: skipOutsideCi(notRoot) }, async (t) => {
  if (!mustRun(t, notRoot)) return;
  const s = await deploy(t);
  await s.start();
  const marker = `NOT-OURS-${process.pid}`;
  const session = await s.run(`echo ${marker}; exec sleep 60`, { working_directory: await workdir(s, 'owner') });
  const log = path.join(s.sessionDir(session.id), 'stdout.log');
  await eventually(async () => ((await fs.readFile(log, 'utf8')).includes(marker) ? true : undefined), 20_000);
  // Until then it is the service's own log, and it is served.
  const before = await s.request('GET', `/v1/sessions/${session.id}/logs/stdout`);
  t.equal(before.status, 200, 'the log is served while the service owns it');
  t.ok(before.text.includes(marker), 'with its line');

  // Another user's file now, as if that user had put it there: a regular file with one link.
  await fs.chown(log, NOBODY, NOBODY);
  const stat = await fs.lstat(log);
  t.ok(stat.isFile() && stat.nlink === 1 && stat.uid === NOBODY, 'a regular file with one link, owned by nobody');
  await assertLogRefused(t, s, session.id, marker);
  // A new SSE stream is refused before it opens: a problem, not an empty stream.
  const stream = await s.request('GET', `/v1/sessions/${session.id}/logs/stream`, { headers: { accept: 'text/event-stream' }, timeoutMs: 10_000 });
  assertRefused(t, stream, 409, 'log_unavailable', marker, 'SSE');
  const problem = (await s.request('GET', `/v1/sessions/${session.id}/logs?tail_bytes=1000`)).json();
  t.match(problem.detail, new RegExp(`owned by uid ${NOBODY}`), 'the problem says why');

  // The same file handed back to the service's user is served again: the owner was the reason.
  await fs.chown(log, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
  const after = await s.request('GET', `/v1/sessions/${session.id}/logs/stdout`);
  t.equal(after.status, 200, 'owned by the service again: served');
  t.ok(after.text.includes(marker), 'with its line');
  await s.request('POST', `/v1/sessions/${session.id}/stop`);
});
