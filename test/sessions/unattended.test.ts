// Leave it alone with sessions (on the fakes, with a clock the test moves): time limits, the
// queue with priorities, retention (a timer, not work per request), labels at their limits and the
// disk floor.
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { createCountingStore } from '../fakes/counting-store.js';
import { createFakeProcessAdapter } from '../fakes/fake-processes.js';
import { MemoryJournal } from '../fakes/memory-journal.js';
import { createMemoryStore } from '../fakes/memory-store.js';
import { assertProblem, authHeader, buildFakeApp, eventually, testConfig, type FakeApp } from '../helper.js';

type Json = Record<string, any>;

function movableClock(start = Date.now()) {
  let now = start;
  return { clock: () => new Date(now), advance: (ms: number) => void (now += ms) };
}

async function start(ctx: Pick<FakeApp, 'app' | 'root'>, extra: Json = {}) {
  return ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'unattended', working_directory: ctx.root, command: 'bash', args: [], ...extra } });
}

const get = async (ctx: Pick<FakeApp, 'app'>, id: string): Promise<Json> => (await ctx.app.inject({ url: `/v1/sessions/${id}` })).json();

t.test('max_runtime_ms ends a session gracefully with stop_reason max_runtime, read or not', async (t) => {
  const time = movableClock();
  const ctx = await buildFakeApp(t, { clock: time.clock });
  const limited = (await start(ctx, { max_runtime_ms: 60_000 })).json();
  t.match(limited, { status: 'running', max_runtime_ms: 60_000, idle_timeout_ms: null });
  const unlimited = (await start(ctx)).json();
  t.equal(unlimited.max_runtime_ms, null, 'no default: no limit');
  time.advance(59_000);
  time.advance(2_000);
  await eventually(async () => ((await ctx.store.get(limited.id))?.status === 'stopped' ? true : undefined), 5000);
  t.match(await get(ctx, limited.id), { status: 'stopped', stop_reason: 'max_runtime', exit_signal: 'SIGTERM' });
  t.equal((await get(ctx, unlimited.id)).status, 'running', 'the one without a limit runs on');
  const report = (await start(ctx, { max_runtime_ms: 1000, expects_report: true })).json();
  time.advance(1500);
  await eventually(async () => ((await ctx.store.get(report.id))?.status === 'terminated' ? true : undefined), 5000);
  t.match(await get(ctx, report.id), { status: 'terminated', stop_reason: 'max_runtime' });
});

t.test('defaults come from SESSIOND_MAX_RUNTIME_MS and SESSIOND_IDLE_TIMEOUT_MS; 0 in the body', async (t) => {
  const ctx = await buildFakeApp(t, { env: { SESSIOND_MAX_RUNTIME_MS: '3600000', SESSIOND_IDLE_TIMEOUT_MS: '600000' } });
  t.match((await start(ctx)).json(), { max_runtime_ms: 3600000, idle_timeout_ms: 600000 });
  t.match((await start(ctx, { max_runtime_ms: 0, idle_timeout_ms: 0 })).json(), { max_runtime_ms: 3600000, idle_timeout_ms: null }, 'max 0 is the default, idle 0 is none');
  t.match((await start(ctx, { max_runtime_ms: 5000, idle_timeout_ms: 7000 })).json(), { max_runtime_ms: 5000, idle_timeout_ms: 7000 });
  assertProblem(t, await start(ctx, { max_runtime_ms: -1 }), 400, 'validation_failed');
  assertProblem(t, await start(ctx, { idle_timeout_ms: 1e15 }), 400, 'validation_failed');
});

t.test('idle_timeout_ms ends a silent session, not one that keeps printing', async (t) => {
  const time = movableClock();
  const ctx = await buildFakeApp(t, { clock: time.clock });
  const silent = (await start(ctx, { idle_timeout_ms: 10_000 })).json();
  const chatty = (await start(ctx, { idle_timeout_ms: 10_000 })).json();
  for (let i = 0; i < 6; i++) {
    time.advance(4_000);
    await ctx.processes.write(chatty.id, i % 2 ? 'stderr' : 'stdout', `still here ${i}\n`);
    // The log watch has seen it before the clock moves on.
    await eventually(async () => ((await get(ctx, chatty.id)).last_activity === time.clock().toISOString() ? true : undefined), 5000);
  }
  await eventually(async () => ((await ctx.store.get(silent.id))?.status === 'stopped' ? true : undefined), 5000);
  t.match(await get(ctx, silent.id), { status: 'stopped', stop_reason: 'idle' });
  t.equal((await get(ctx, chatty.id)).status, 'running', 'output keeps it alive');
});

t.test('the queue: 202 queued past the limit, priority then arrival, stop and delete while queued', async (t) => {
  const ctx = await buildFakeApp(t, { env: { SESSIOND_MAX_RUNNING: '2' } });
  const a = (await start(ctx)).json();
  const b = (await start(ctx)).json();
  assertProblem(t, await start(ctx), 429, 'limit_exceeded');
  const low = await start(ctx, { queue: true, priority: -5, labels: { q: 'low' } });
  t.equal(low.statusCode, 202);
  t.match(low.json(), { status: 'queued', priority: -5, pid: null });
  t.ok(low.json().queued_at);
  t.equal(low.headers.location, `/v1/sessions/${low.json().id}`);
  const first = (await start(ctx, { queue: true })).json();
  const second = (await start(ctx, { queue: true })).json();
  const urgent = (await start(ctx, { queue: true, priority: 50 })).json();
  const cancelled = (await start(ctx, { queue: true, priority: 100 })).json();
  const removed = (await start(ctx, { queue: true, priority: 100 })).json();
  t.equal(ctx.processes.launched.length, 2, 'nothing queued was launched');
  const queued = (await ctx.app.inject({ url: '/v1/sessions?status=queued&limit=500' })).json().items;
  t.equal(queued.length, 6, 'status=queued lists them');

  const stopped = await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${cancelled.id}/stop` });
  t.match(stopped.json(), { status: 'stopped', stop_reason: 'requested', pid: null });
  t.equal((await ctx.app.inject({ method: 'DELETE', url: `/v1/sessions/${removed.id}` })).statusCode, 204, 'a queued session is deleted without force');
  t.match(ctx.journal.all().filter((e) => e.session.id === removed.id).map((e) => e.type), ['session.created', 'session.queued', 'session.ended', 'session.deleted']);

  // The order places were given in: each admission is a session.status (starting) event. (Launches
  // of two sessions admitted together may finish in either order.)
  const launchedIds = () => ctx.journal.all().filter((e) => e.type === 'session.started').map((e) => e.session.id);
  const admitted = () => ctx.journal.all().filter((e) => e.type === 'session.status' && e.session.status === 'starting').map((e) => e.session.id);
  for (const running of [a, b]) await ctx.processes.exit(running.id, 0);
  await eventually(() => (launchedIds().length === 4 ? true : undefined), 5000);
  t.same(admitted(), [urgent.id, first.id], 'two places: the highest priority, then the oldest');
  for (const id of launchedIds().slice(2)) await ctx.processes.exit(id, 0);
  await eventually(() => (launchedIds().length === 6 ? true : undefined), 5000);
  t.same(admitted().slice(2), [second.id, low.json().id], 'then the rest, the lowest priority last; the cancelled ones never ran');
  const events = ctx.journal.all().filter((e) => e.session.id === urgent.id).map((e) => `${e.type}:${e.session.status}`);
  t.same(events.slice(0, 5), ['session.created:queued', 'session.queued:queued', 'session.status:starting', 'session.started:running', 'session.ended:exited']);
  const metrics = await ctx.app.inject({ url: '/metrics' });
  t.match(metrics.body, /sessiond_queue_length 0/);
});

t.test('the queue survives a restart and starts by itself when there is room', async (t) => {
  const config = await testConfig(t, { SESSIOND_MAX_RUNNING: '1' });
  const store = createMemoryStore();
  const journal = new MemoryJournal();
  const first = createFakeProcessAdapter();
  const app1 = await buildApp({ config, store, journal, processes: first, logger: false, forceCloseConnections: true });
  const root = config.workspaceRoots[0] as string;
  const headers = authHeader('write');
  const body = (extra: Json) => ({ name: 'restart', working_directory: root, command: 'bash', args: [], ...extra });
  const running = (await app1.inject({ method: 'POST', url: '/v1/sessions', headers, payload: body({}) })).json();
  const later = (await app1.inject({ method: 'POST', url: '/v1/sessions', headers, payload: body({ queue: true }) })).json();
  const sooner = (await app1.inject({ method: 'POST', url: '/v1/sessions', headers, payload: body({ queue: true, priority: 1 }) })).json();
  t.equal(later.status, 'queued');
  await app1.close();

  // The new service's adapter does not know the old process: it finds it ended, which frees the place.
  const second = createFakeProcessAdapter();
  const app2 = await buildApp({ config, store, journal, processes: second, logger: false, forceCloseConnections: true });
  t.teardown(() => app2.close());
  const read = async (id: string) => (await app2.inject({ url: `/v1/sessions/${id}`, headers })).json();
  await eventually(async () => ((await read(sooner.id)).status === 'running' ? true : undefined), 5000);
  t.equal((await read(running.id)).status, 'exited');
  t.equal((await read(later.id)).status, 'queued', 'the lower priority one still waits');
  await second.exit(sooner.id, 0);
  await eventually(async () => ((await read(later.id)).status === 'running' ? true : undefined), 5000);
});

t.test('retention deletes ended sessions after the window, never a live or queued one', async (t) => {
  const time = movableClock();
  const ctx = await buildFakeApp(t, { clock: time.clock, env: { SESSIOND_RETENTION_MS: '1000', SESSIOND_MAX_RUNNING: '1' } });
  const done = (await start(ctx)).json();
  await ctx.processes.exit(done.id, 0);
  const live = (await start(ctx)).json();
  const waiting = (await start(ctx, { queue: true })).json();
  time.advance(5_000);
  await eventually(async () => ((await ctx.app.inject({ url: `/v1/sessions/${done.id}` })).statusCode === 404 ? true : undefined), 5000);
  t.match(ctx.journal.all().at(-1), { type: 'session.deleted', session: { id: done.id } });
  t.equal((await get(ctx, live.id)).status, 'running', 'a running session is never swept');
  t.equal((await get(ctx, waiting.id)).status, 'queued', 'nor a queued one');
});

t.test('the disk floor: starts refused with 507 below SESSIOND_MIN_FREE_BYTES; reads go on', async (t) => {
  const ctx = await buildFakeApp(t, { env: { SESSIOND_MIN_FREE_BYTES: String(Number.MAX_SAFE_INTEGER) } });
  const res = await start(ctx);
  assertProblem(t, res, 507, 'insufficient_storage');
  t.match(res.json().detail, /SESSIOND_MIN_FREE_BYTES/);
  t.equal((await ctx.app.inject({ url: '/v1/sessions' })).statusCode, 200, 'reads go on');
  const ready = await ctx.app.inject({ url: '/readyz', headers: { authorization: undefined } as unknown as Record<string, string> });
  t.match(ready.json().warnings, [/SESSIOND_MIN_FREE_BYTES/], '/readyz says why');
});

t.test('the retention sweep costs nothing per request: reads neither list every record nor sweep', async (t) => {
  const time = movableClock();
  const counted = createCountingStore();
  const processes = createFakeProcessAdapter({ onOutput: (id, stream, data) => counted.store.appendLog(id, stream, data) });
  // An hour's window: the sweep's timer runs every minute, so within this test only requests could sweep.
  const ctx = await buildFakeApp(t, { clock: time.clock, store: counted.store, processes, env: { SESSIOND_RETENTION_MS: '3600000' } });
  const done = (await start(ctx)).json();
  await processes.exit(done.id, 0);
  const live = (await start(ctx)).json();
  time.advance(2 * 3_600_000);
  counted.reset();
  for (let i = 0; i < 20; i++) {
    t.equal((await ctx.app.inject({ url: `/v1/sessions/${done.id}` })).statusCode, 200);
    t.equal((await ctx.app.inject({ url: `/v1/sessions/${live.id}` })).statusCode, 200);
    t.equal((await ctx.app.inject({ url: '/v1/sessions' })).statusCode, 200);
    t.equal((await ctx.app.inject({ url: '/v1/sessions?status=exited' })).statusCode, 200);
    t.equal((await ctx.app.inject({ url: `/v1/sessions/${done.id}/logs` })).statusCode, 200);
  }
  t.equal(counted.count('list'), 0, '100 requests: no list() of every record');
  t.equal(counted.count('delete'), 0, 'no request deleted anything');
  t.notOk(ctx.journal.all().some((e) => e.type === 'session.deleted'), 'no session.deleted event: the sweep is the timer’s, not a request’s');
  t.equal((await ctx.app.inject({ url: `/v1/sessions/${done.id}` })).json().status, 'exited', 'the expired session waits for the sweep');
});

t.test('labels at their limits: a 64-character key and a 256-character value are taken, one more is 400', async (t) => {
  const ctx = await buildFakeApp(t);
  const longestKey = `a${'b'.repeat(62)}c`;
  const longestValue = 'v'.repeat(256);
  t.equal(longestKey.length, 64);
  const accepted = await start(ctx, { labels: { [longestKey]: longestValue } });
  t.equal(accepted.statusCode, 201);
  t.same(accepted.json().labels, { [longestKey]: longestValue }, 'returned whole');
  const listed = await ctx.app.inject({ url: `/v1/sessions?label=${encodeURIComponent(`${longestKey}=${longestValue}`)}` });
  t.same(
    listed.json().items.map((s: Json) => s.id),
    [accepted.json().id],
    'and found by its label',
  );
  const keyTooLong = await start(ctx, { labels: { [`${longestKey}d`]: 'x' } });
  assertProblem(t, keyTooLong, 400, 'validation_failed');
  assertProblem(t, await start(ctx, { labels: { team: `${longestValue}v` } }), 400, 'validation_failed');
  t.equal((await ctx.app.inject({ url: '/v1/sessions' })).json().items.length, 1, 'nothing was started by the refused ones');
});
