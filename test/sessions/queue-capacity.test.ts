// The queue and capacity on the fakes: a stop or a forced delete of a live session frees its place
// for the next queued one; admissions count live sessions without reading every record; and
// sessiond_queue_length in /metrics follows the real queue.
import t from 'tap';
import { createCountingStore } from '../fakes/counting-store.js';
import { createFakeProcessAdapter } from '../fakes/fake-processes.js';
import { assertProblem, buildFakeApp, eventually, type FakeApp } from '../helper.js';

type Json = Record<string, any>;
type Ctx = Pick<FakeApp, 'app' | 'root'>;

const start = (ctx: Ctx, extra: Json = {}) =>
  ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'capacity', working_directory: ctx.root, command: 'bash', args: [], ...extra } });

const statusOf = async (ctx: Ctx, id: string): Promise<string> => (await ctx.app.inject({ url: `/v1/sessions/${id}` })).json().status;

const untilStatus = (ctx: Ctx, id: string, status: string) => eventually(async () => ((await statusOf(ctx, id)) === status ? true : undefined), 5000);

async function queueLength(ctx: Ctx): Promise<number> {
  const body = (await ctx.app.inject({ url: '/metrics' })).body;
  const match = /^sessiond_queue_length (\d+)$/m.exec(body);
  if (!match) throw new Error(`no sessiond_queue_length in /metrics:\n${body}`);
  return Number(match[1]);
}

t.test('a stop of a running session starts the next queued one', async (t) => {
  const ctx = await buildFakeApp(t, { env: { SESSIOND_MAX_RUNNING: '1' } });
  const running = (await start(ctx)).json();
  const next = (await start(ctx, { queue: true })).json();
  const after = (await start(ctx, { queue: true })).json();
  t.equal(next.status, 'queued');
  const stopped = await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${running.id}/stop` });
  t.equal(stopped.statusCode, 200);
  await untilStatus(ctx, next.id, 'running');
  t.match((await ctx.app.inject({ url: `/v1/sessions/${running.id}` })).json(), { status: 'stopped', stop_reason: 'requested' });
  t.equal(await statusOf(ctx, after.id), 'queued', 'one place freed: one session started');
  t.same(
    ctx.processes.launched.map((spec) => spec.sessionId),
    [running.id, next.id],
  );
});

t.test('a forced delete of a running session starts the next queued one; a refused delete does not', async (t) => {
  const ctx = await buildFakeApp(t, { env: { SESSIOND_MAX_RUNNING: '1' } });
  const running = (await start(ctx)).json();
  const next = (await start(ctx, { queue: true })).json();
  assertProblem(t, await ctx.app.inject({ method: 'DELETE', url: `/v1/sessions/${running.id}` }), 409, 'session_running');
  t.equal(await statusOf(ctx, next.id), 'queued', 'a refused delete frees nothing');
  const deleted = await ctx.app.inject({ method: 'DELETE', url: `/v1/sessions/${running.id}?force=true` });
  t.equal(deleted.statusCode, 204);
  await untilStatus(ctx, next.id, 'running');
  t.equal((await ctx.app.inject({ url: `/v1/sessions/${running.id}` })).statusCode, 404);
  t.ok(
    ctx.processes.signals.some((s) => s.sessionId === running.id && s.signal === 'SIGTERM'),
    'the deleted session was stopped first',
  );
  t.equal(ctx.processes.launched.length, 2);
});

t.test('sessiond_queue_length in /metrics follows the queue: up while sessions wait, 0 after', async (t) => {
  const ctx = await buildFakeApp(t, { env: { SESSIOND_MAX_RUNNING: '1' } });
  t.equal(await queueLength(ctx), 0, 'nothing queued at first');
  const running = (await start(ctx)).json();
  const first = (await start(ctx, { queue: true })).json();
  t.equal(await queueLength(ctx), 1);
  const second = (await start(ctx, { queue: true })).json();
  const cancelled = (await start(ctx, { queue: true })).json();
  t.equal(await queueLength(ctx), 3, 'three waiting');
  await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${cancelled.id}/stop` });
  t.equal(await queueLength(ctx), 2, 'a stopped queued session leaves the queue');
  await ctx.processes.exit(running.id, 0);
  await untilStatus(ctx, first.id, 'running');
  t.equal(await queueLength(ctx), 1, 'one started, one still waits');
  await ctx.processes.exit(first.id, 0);
  await untilStatus(ctx, second.id, 'running');
  t.equal(await queueLength(ctx), 0, 'back to 0 once every queued session started');
});

t.test('admissions count live sessions without scanning the records', async (t) => {
  const counted = createCountingStore();
  const processes = createFakeProcessAdapter({ onOutput: (id, stream, data) => counted.store.appendLog(id, stream, data) });
  const ctx = await buildFakeApp(t, { env: { SESSIOND_MAX_RUNNING: '1' }, store: counted.store, processes });

  /** Adds `n` ended sessions to the store, one at a time (a limit of 1). */
  const addEnded = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const s = (await start(ctx)).json();
      await processes.exit(s.id, 0);
    }
  };

  /** A 201, a 429, a 202 and the admission of the queued one when the running one ends: the calls it took. */
  const startsAndAdmission = async (): Promise<Map<string, number>> => {
    counted.reset();
    const running = await start(ctx);
    t.equal(running.statusCode, 201);
    assertProblem(t, await start(ctx), 429, 'limit_exceeded');
    const queued = await start(ctx, { queue: true });
    t.equal(queued.statusCode, 202);
    await processes.exit(running.json().id, 0);
    await untilStatus(ctx, queued.json().id, 'running');
    const calls = new Map(counted.calls);
    await processes.exit(queued.json().id, 0);
    return calls;
  };

  await addEnded(3);
  const few = await startsAndAdmission();
  const manyEnded = 60;
  await addEnded(manyEnded);
  t.equal((await counted.store.list()).length, 3 + 2 + manyEnded, 'the store holds every session');
  const many = await startsAndAdmission();
  for (const [name, calls] of [
    ['with 3 records stored', few],
    [`with ${3 + 2 + manyEnded} records stored`, many],
  ] as const) {
    t.equal(calls.get('list') ?? 0, 0, `${name}: no list() of every record`);
    t.equal(calls.get('ordered') ?? 0, 0, `${name}: no walk of the list index`);
    t.equal(calls.get('complete') ?? 0, 0, `${name}: no records completed in bulk`);
    // A scan would read each of the 60+ records; the reads here are the sessions at hand (and
    // the limit check's timer reading the one live record now and then).
    t.ok((calls.get('get') ?? 0) < 30, `${name}: ${calls.get('get') ?? 0} get() calls, not one per record`);
  }
  t.ok((many.get('get') ?? 0) <= (few.get('get') ?? 0) + 8, `as many reads with ${manyEnded} more records (${few.get('get')} then ${many.get('get')})`);
});
