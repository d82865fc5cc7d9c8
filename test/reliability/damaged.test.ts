// A session.json damaged while the service was down (truncated JSON): the service starts, skips
// it, says so, and goes on serving everything else.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { deploy } from './server-process.js';

t.test('a truncated session.json: listed no more, 500 session_damaged on its own, counted in /readyz, the rest works', async (t) => {
  const d = await deploy(t);
  await d.start();
  const sessions = [];
  for (const name of ['first', 'second', 'third']) sessions.push(await d.run(`echo ${name}`, { name }));
  for (const s of sessions) await d.waitEnded(s.id);
  const [first, damaged, third] = sessions as [Record<string, any>, Record<string, any>, Record<string, any>];
  t.equal((await d.request('GET', '/readyz')).json().damaged_records, 0, 'nothing damaged to begin with');

  await d.server.kill('SIGKILL');
  const file = path.join(d.sessionDir(damaged.id), 'session.json');
  const whole = await readFile(file, 'utf8');
  await writeFile(file, whole.slice(0, Math.floor(whole.length / 2)));

  await d.start();
  t.ok(
    d.server.logs().some((l) => l.level === 40 && l.id === damaged.id),
    'a warning names the damaged session in the log',
  );

  const list = await d.request('GET', '/v1/sessions');
  t.equal(list.status, 200);
  t.same(
    list.json().items.map((s: Record<string, unknown>) => s.id).sort(),
    [first.id, third.id].sort(),
    'the others are listed, the damaged one is not',
  );

  const got = await d.request('GET', `/v1/sessions/${damaged.id}`);
  t.equal(got.status, 500);
  t.match(String(got.headers['content-type']), /^application\/problem\+json/);
  t.match(got.json(), { status: 500, code: 'session_damaged', type: 'about:blank' });
  t.notMatch(got.text, new RegExp(d.dataDir.replaceAll('/', '\\/')), 'no server path in the answer');
  t.notMatch(got.text, /at .*\.js:\d+/, 'no stack trace');

  const ready = await d.request('GET', '/readyz');
  t.equal(ready.status, 200);
  t.match(ready.json(), { status: 'ok', damaged_records: 1, sessions: 2 });

  // The service keeps answering: reads, logs, a new start.
  t.equal((await d.request('GET', '/healthz')).status, 200);
  t.match((await d.request('GET', `/v1/sessions/${first.id}`)).json(), { status: 'exited', exit_code: 0 });
  t.equal((await d.request('GET', `/v1/sessions/${third.id}/logs/stdout`)).text, 'third\n');
  for (const sub of ['/logs', '/metadata', '/logs/stdout']) {
    const res = await d.request('GET', `/v1/sessions/${damaged.id}${sub}`);
    t.ok(res.status < 600 && res.status !== 200, `GET ${sub} of the damaged one does not pretend: ${res.status} ${res.json().code}`);
    t.not(res.status, 503, 'and does not take the service down');
  }
  const fresh = await d.run('echo fresh', { name: 'fresh' });
  t.match(await d.waitEnded(fresh.id), { status: 'exited', exit_code: 0 });
  t.equal((await d.request('GET', '/v1/sessions')).json().items.length, 3);
  t.equal((await d.request('GET', `/v1/sessions/${damaged.id}`)).json().code, 'session_damaged', 'still answered the same way');
  t.ok(d.server.alive, 'the server is still up');
});
