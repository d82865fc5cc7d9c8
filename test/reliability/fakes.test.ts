// Reliability on the fakes: idempotent retries, damaged records, a full disk, and sessions left
// in `starting` by a crash.
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { StoreError } from '../../src/store/errors.js';
import { createFakeProcessAdapter } from '../fakes/fake-processes.js';
import { createMemoryStore } from '../fakes/memory-store.js';
import { makeMetadata, makeRecord } from '../fakes/records.js';
import { assertProblem, authHeader, buildFakeApp, testConfig, type FakeApp } from '../helper.js';

const body = (ctx: FakeApp, extra: Record<string, unknown> = {}) => ({
  name: 'retry me',
  working_directory: ctx.root,
  command: 'bash',
  args: ['-c', 'sleep 1'],
  ...extra,
});

const startWithKey = (ctx: FakeApp, key: string, payload: Record<string, unknown>, scope: 'write' | 'read' = 'write') =>
  ctx.app.inject({ method: 'POST', url: '/v1/sessions', headers: { ...authHeader(scope), 'idempotency-key': key }, payload });

t.test('Idempotency-Key: a retry answers the same session, another body is 409', async (t) => {
  const ctx = await buildFakeApp(t);
  const first = await startWithKey(ctx, 'key-1', body(ctx));
  t.equal(first.statusCode, 201);
  t.notOk(first.headers['idempotent-replayed']);
  const again = await startWithKey(ctx, 'key-1', body(ctx));
  t.equal(again.statusCode, 201);
  t.equal(again.headers['idempotent-replayed'], 'true');
  t.equal(again.json().id, first.json().id, 'the same session');
  const reordered = await startWithKey(ctx, 'key-1', Object.fromEntries(Object.entries(body(ctx)).reverse()));
  t.equal(reordered.json().id, first.json().id, 'key order in the body does not matter');
  t.equal(ctx.processes.launched.length, 1, 'one process');

  assertProblem(t, await startWithKey(ctx, 'key-1', body(ctx, { name: 'other' })), 409, 'idempotency_conflict');
  const otherKey = await startWithKey(ctx, 'key-2', body(ctx));
  t.not(otherKey.json().id, first.json().id, 'another key starts another session');

  const concurrent = await Promise.all(Array.from({ length: 8 }, () => startWithKey(ctx, 'key-3', body(ctx))));
  t.equal(new Set(concurrent.map((r) => r.json().id)).size, 1, 'concurrent retries share one session');
  t.equal(ctx.processes.launched.length, 3, 'and one process');
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: '/v1/sessions', headers: { 'idempotency-key': 'x'.repeat(256) }, payload: body(ctx) }), 400, 'validation_failed');
});

t.test('Idempotency-Key: keys are per token, and forgotten after 24 hours', async (t) => {
  let now = Date.parse('2026-03-01T00:00:00Z');
  const ctx = await buildFakeApp(t, {
    env: { SESSIOND_TOKENS: 'first-writer-token-0123456789:write,second-writer-token-012345678:write,test-write-token-0123456789abcdef:write' },
    clock: () => new Date(now),
  });
  const as = (token: string) => ({ authorization: `Bearer ${token}`, 'idempotency-key': 'shared' });
  const a = await ctx.app.inject({ method: 'POST', url: '/v1/sessions', headers: as('first-writer-token-0123456789'), payload: body(ctx) });
  const b = await ctx.app.inject({ method: 'POST', url: '/v1/sessions', headers: as('second-writer-token-012345678'), payload: body(ctx) });
  t.not(a.json().id, b.json().id, 'two callers do not share keys');
  now += 25 * 60 * 60 * 1000;
  const later = await ctx.app.inject({ method: 'POST', url: '/v1/sessions', headers: as('first-writer-token-0123456789'), payload: body(ctx) });
  t.not(later.json().id, a.json().id, 'a day later the key starts a new session');
});

t.test('a damaged record is skipped by the list, explained on its id, counted by readyz', async (t) => {
  const ctx = await buildFakeApp(t);
  const good = (await ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: body(ctx) })).json().id;
  const bad = (await ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: body(ctx) })).json().id;
  ctx.store.markDamaged(bad);
  const list = (await ctx.app.inject({ url: '/v1/sessions' })).json();
  t.same(list.items.map((s: { id: string }) => s.id), [good]);
  const res = await ctx.app.inject({ url: `/v1/sessions/${bad}` });
  assertProblem(t, res, 500, 'session_damaged');
  t.match(res.json().detail, /damaged/);
  t.match((await ctx.app.inject({ url: '/readyz' })).json(), { status: 'ok', damaged_records: 1 });
  t.equal((await ctx.app.inject({ url: `/v1/sessions/${good}` })).statusCode, 200, 'the others still answer');
});

t.test('a full disk answers 507 and writes nothing', async (t) => {
  const store = createMemoryStore();
  const enospc = () => new StoreError('io', 'cannot write', { cause: Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }) });
  const ctx = await buildFakeApp(t, { store });
  store.create = async () => {
    throw enospc();
  };
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: body(ctx) });
  assertProblem(t, res, 507, 'insufficient_storage');
  t.notMatch(res.body, /ENOSPC|device/, 'the cause stays in the log');
  t.same(await store.list(), [], 'no record');
  t.same(ctx.processes.launched, [], 'no process');
  t.equal((await ctx.app.inject({ url: '/healthz' })).statusCode, 200, 'still answering');
});

t.test('at start-up, a session left in `starting` by a crash becomes failed', async (t) => {
  const store = createMemoryStore();
  await store.create(makeRecord({ id: 'crashed-1-aaa', status: 'starting', pid: null, handle: null }), makeMetadata({ id: 'crashed-1-aaa' }));
  await store.create(makeRecord({ id: 'fine-1-bbb', status: 'exited' }), makeMetadata({ id: 'fine-1-bbb' }));
  const app = await buildApp({ config: await testConfig(t), store, processes: createFakeProcessAdapter(), logger: false });
  t.teardown(() => app.close());
  const crashed = await store.get('crashed-1-aaa');
  t.match(crashed, { status: 'failed', status_reason: /stopped before the start was confirmed/ });
  t.type(crashed?.stopped_at, 'string');
  t.equal((await store.get('fine-1-bbb'))?.status, 'exited', 'others untouched');
});

t.test('a damaged record can be force-deleted, and only forced', async (t) => {
  const ctx = await buildFakeApp(t);
  const bad = (await ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: body(ctx) })).json().id;
  ctx.store.markDamaged(bad);
  assertProblem(t, await ctx.app.inject({ method: 'DELETE', url: `/v1/sessions/${bad}` }), 500, 'session_damaged');
  t.equal((await ctx.app.inject({ method: 'DELETE', url: `/v1/sessions/${bad}?force=true` })).statusCode, 204);
  t.equal(ctx.store.isDamaged(bad), false, 'gone');
  t.match((await ctx.app.inject({ url: '/readyz' })).json(), { damaged_records: 0 });
});
