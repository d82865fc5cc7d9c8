// Idempotent retries of POST /v1/sessions over real HTTP against the real server process,
// sequential and concurrent, and across a crash and restart of the service.
import t from 'tap';
import { cmdline, deploy, isRunning, processesIn, procStat, type Json } from './server-process.js';

t.test('Idempotency-Key: one process per key, replays marked, conflicts refused, the key outlives a restart', async (t) => {
  const d = await deploy(t);
  await d.start();
  const body = { name: 'idem', args: ['-c', 'echo once; sleep 600'] };
  const key = 'retry-key-0001';
  const headers = { 'idempotency-key': key };

  const first = await d.startSession(body, headers);
  t.equal(first.status, 201);
  t.equal(first.headers['idempotent-replayed'], undefined, 'the first answer is no replay');
  const session = first.json();
  t.equal(session.status, 'running');

  const second = await d.startSession(body, headers);
  t.equal(second.status, 201);
  t.equal(second.headers['idempotent-replayed'], 'true', 'the repeat says it is a replay');
  t.equal(second.json().id, session.id, 'same session');
  t.equal(second.json().pid, session.pid, 'same process');
  t.equal(second.headers.location, `/v1/sessions/${session.id}`);

  // Five at once with a fresh key: one start, four replays of it.
  const burstHeaders = { 'idempotency-key': 'retry-key-0002' };
  const burstBody = { name: 'idem burst', args: ['-c', 'echo burst; sleep 600'] };
  const burst = await Promise.all(Array.from({ length: 5 }, () => d.startSession(burstBody, burstHeaders)));
  t.same(burst.map((r) => r.status), [201, 201, 201, 201, 201]);
  const burstIds = new Set(burst.map((r) => r.json().id));
  t.equal(burstIds.size, 1, 'one session id for all five');
  t.equal(burst.filter((r) => r.headers['idempotent-replayed'] === 'true').length, 4, 'four replays, one original');
  t.equal(new Set(burst.map((r) => r.json().pid)).size, 1, 'one pid');

  const listed = (await d.request('GET', '/v1/sessions?limit=500')).json().items as Json[];
  t.equal(listed.length, 2, 'exactly two sessions exist: one per key');
  // Two keepers and two session process groups run in the workspace, not more.
  const keepers: number[] = [];
  const groups = new Set<number>();
  for (const pid of await processesIn(d.root)) {
    if ((await cmdline(pid)).includes('sessiond-keeper')) keepers.push(pid);
    else groups.add((await procStat(pid))?.pgrp ?? -1);
  }
  t.equal(keepers.length, 2, 'two keepers');
  t.same([...groups].sort(), [session.pid, [...burst][0]?.json().pid].sort(), 'two session process groups: the two sessions');

  const conflict = await d.startSession({ ...body, args: ['-c', 'echo other; sleep 600'] }, headers);
  t.equal(conflict.status, 409);
  t.match(String(conflict.headers['content-type']), /^application\/problem\+json/);
  t.equal(conflict.json().code, 'idempotency_conflict');

  // A client that never got its answer retries after the service crashed and came back.
  await d.restart('SIGKILL');
  const retried = await d.startSession(body, headers);
  t.equal(retried.status, 201);
  t.equal(retried.headers['idempotent-replayed'], 'true', 'still a replay after the restart');
  t.match(retried.json(), { id: session.id, pid: session.pid, status: 'running' });
  t.ok(await isRunning(session.pid));
  const afterConflict = await d.startSession({ ...body, name: 'idem renamed' }, headers);
  t.equal(afterConflict.status, 409, 'and still a conflict with another body');
  t.equal(afterConflict.json().code, 'idempotency_conflict');
  t.equal((await d.request('GET', '/v1/sessions?limit=500')).json().items.length, 2, 'still two sessions');

  // A graceful restart keeps it too.
  await d.restart('SIGTERM');
  const afterTerm = await d.startSession(burstBody, burstHeaders);
  t.equal(afterTerm.headers['idempotent-replayed'], 'true');
  t.equal(afterTerm.json().id, [...burstIds][0]);

  for (const id of [session.id, ...burstIds]) {
    t.equal((await d.request('POST', `/v1/sessions/${id}/stop`, { body: { grace_ms: 1000 } })).json().status, 'stopped');
  }
  // A replay of a start whose session has since ended answers the ended session, not a new one.
  const late = await d.startSession(body, headers);
  t.equal(late.status, 201);
  t.match(late.json(), { id: session.id, status: 'stopped' });
  t.equal((await d.request('GET', '/v1/sessions?limit=500')).json().items.length, 2);
});
