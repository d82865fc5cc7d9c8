// The service watches its sessions (on the fakes): ends are recorded with nobody reading, every
// change is an event in order, reads only read, waits cost nothing and leave with their client.
import { AsyncLocalStorage } from 'node:async_hooks';
import t from 'tap';
import { buildFakeApp, eventually, type FakeApp } from '../helper.js';

async function start(ctx: FakeApp, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'watched', working_directory: ctx.root, command: 'bash', args: [], ...extra } });
  if (res.statusCode !== 201) throw new Error(`start failed: ${res.body}`);
  return res.json().id as string;
}

t.test('an end is recorded with nobody reading, as session.ended after created and started', async (t) => {
  const ctx = await buildFakeApp(t);
  const id = await start(ctx);
  await ctx.processes.exit(id, 7);
  // The store itself says so: no GET was made.
  t.match(await ctx.store.get(id), { status: 'exited', exit_code: 7 });
  const events = ctx.journal.all().filter((e) => e.session.id === id);
  t.same(events.map((e) => e.type), ['session.created', 'session.started', 'session.ended']);
  t.same(events.map((e) => e.session.status), ['starting', 'running', 'exited']);
  t.ok(events.every((e, i) => i === 0 || e.seq > (events[i - 1]?.seq ?? 0)), 'seq strictly increasing');
});

t.test('reads only read: GET and list make no process check and no log stat', async (t) => {
  const ctx = await buildFakeApp(t);
  const id = await start(ctx);
  await ctx.processes.write(id, 'stdout', 'some output\n');
  const inspections = ctx.processes.inspections;
  // Only the requests' own measures count: the log indexer measures the log in the background
  // after the write above, in its own async context.
  const inRequest = new AsyncLocalStorage<boolean>();
  let stats = 0;
  let background = 0;
  const realStat = ctx.store.logStat.bind(ctx.store);
  ctx.store.logStat = async (...args) => {
    if (inRequest.getStore()) stats += 1;
    else background += 1;
    return realStat(...args);
  };
  // inject answers a lazy thenable: awaited inside run() so the request starts in its context.
  const get = (url: string) => inRequest.run(true, async () => await ctx.app.inject({ url }));
  for (let i = 0; i < 20; i++) {
    t.equal((await get(`/v1/sessions/${id}`)).statusCode, 200);
    t.equal((await get('/v1/sessions')).statusCode, 200);
  }
  t.equal(ctx.processes.inspections, inspections, 'no inspect');
  t.equal(stats, 0, 'no stat');
  t.comment(`log measures in the background meanwhile: ${background}`);
});

t.test('last_activity comes from the log watch', async (t) => {
  let now = Date.parse('2026-12-01T10:00:00.000Z');
  const ctx = await buildFakeApp(t, { clock: () => new Date(now) });
  const id = await start(ctx);
  now += 60_000;
  await ctx.processes.write(id, 'stderr', 'late\n');
  const session = await eventually(async () => {
    const s = (await ctx.app.inject({ url: `/v1/sessions/${id}` })).json();
    return s.last_activity === '2026-12-01T10:01:00.000Z' ? s : undefined;
  }, 5000);
  t.equal(session.last_activity, '2026-12-01T10:01:00.000Z');
  now += 1000;
  await ctx.processes.exit(id, 0);
  t.equal((await ctx.app.inject({ url: `/v1/sessions/${id}` })).json().last_activity, '2026-12-01T10:01:00.000Z', 'kept in the record at the end');
});

t.test('a stop is an observation: stop_reason requested, one ended event', async (t) => {
  const ctx = await buildFakeApp(t);
  const id = await start(ctx);
  const stopped = await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${id}/stop` });
  t.match(stopped.json(), { status: 'stopped', stop_reason: 'requested', exit_signal: 'SIGTERM' });
  t.equal(ctx.journal.all().filter((e) => e.session.id === id && e.type === 'session.ended').length, 1, 'ended once');
  const selfEnded = await start(ctx);
  await ctx.processes.exit(selfEnded, 0);
  t.match((await ctx.app.inject({ url: `/v1/sessions/${selfEnded}` })).json(), { status: 'exited', stop_reason: null });
});

t.test('delete is an event; a failed launch is an ended event with the reason', async (t) => {
  const ctx = await buildFakeApp(t);
  const id = await start(ctx);
  await ctx.processes.exit(id, 0);
  t.equal((await ctx.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}` })).statusCode, 204);
  t.match(ctx.journal.all().at(-1), { type: 'session.deleted', session: { id, status: 'exited' } });
  ctx.processes.failNextLaunch = 'spawn nope ENOENT';
  const failed = await start(ctx);
  t.same(
    ctx.journal.all().filter((e) => e.session.id === failed).map((e) => [e.type, e.session.status]),
    [['session.created', 'starting'], ['session.ended', 'failed']],
  );
});

t.test('a wait costs one entry while it waits and is released the moment its client goes away', async (t) => {
  const ctx = await buildFakeApp(t);
  const id = await start(ctx);
  await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = ctx.app.server.address() as { port: number };
  const supervisor = (ctx.app.sessions as unknown as { options: { supervisor: { waiting: number } } }).options.supervisor;
  const clients = Array.from({ length: 50 }, () => new AbortController());
  const requests = clients.map((c) =>
    fetch(`http://127.0.0.1:${port}/v1/sessions/${id}/wait`, {
      method: 'POST',
      headers: { authorization: `Bearer test-write-token-0123456789abcdef`, 'content-type': 'application/json' },
      body: JSON.stringify({ timeout_ms: 300000 }),
      signal: c.signal,
    }).catch(() => 'aborted'),
  );
  await eventually(() => (supervisor.waiting === 50 ? true : undefined), 5000);
  for (const c of clients) c.abort();
  await Promise.all(requests);
  await eventually(() => (supervisor.waiting === 0 ? true : undefined), 5000);
  t.equal(supervisor.waiting, 0, 'every abandoned wait was released');
  t.equal((await ctx.app.inject({ url: `/v1/sessions/${id}` })).json().status, 'running', 'the session is untouched');

  const waiting = ctx.app.inject({ method: 'POST', url: `/v1/sessions/${id}/wait`, payload: { timeout_ms: 300000 } });
  await eventually(() => (supervisor.waiting === 1 ? true : undefined), 5000);
  await ctx.processes.exit(id, 0);
  t.match((await waiting).json(), { status: 'exited' }, 'a wait ends with the session');
});

t.test('labels: stored, returned, filtered on list, validated', async (t) => {
  const ctx = await buildFakeApp(t);
  const web = await start(ctx, { labels: { team: 'web', 'app.kubernetes.io/name': 'agent' } });
  const ops = await start(ctx, { labels: { team: 'ops' } });
  await start(ctx);
  t.same((await ctx.app.inject({ url: `/v1/sessions/${web}` })).json().labels, { team: 'web', 'app.kubernetes.io/name': 'agent' });
  const list = async (query: string) => (await ctx.app.inject({ url: `/v1/sessions?${query}` })).json().items.map((s: { id: string }) => s.id);
  t.same(await list('label=team=web'), [web]);
  t.same(await list('label=team=ops'), [ops]);
  t.same(await list('label=team=web&label=app.kubernetes.io/name=agent'), [web], 'every selector must match');
  t.same(await list('label=team=web&label=app.kubernetes.io/name=other'), []);
  t.equal((await list('')).length, 3);
  for (const labels of [{ 'Bad Key': 'x' }, { '-x': 'y' }, { k: 'v'.repeat(257) }, Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v']))]) {
    const res = await ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'bad', working_directory: ctx.root, command: 'bash', labels } });
    t.equal(res.statusCode, 400, `refused: ${JSON.stringify(labels).slice(0, 40)}`);
  }
  t.equal((await ctx.app.inject({ url: '/v1/sessions?label=nokey' })).statusCode, 400, 'a selector without = is refused');
});
