// A start is answered once the process runs, not once its `running` record is on disk: the store
// answers reads with it at once (put readableAtOnce), the write lands after the answer and the
// started event after the write, and a write that fails is kept in memory and written later. (A crash before the write lands finds the
// session `starting` and adopts its keeper: test/reliability/crash-restart.test.ts.)
import t, { type Test } from 'tap';
import { StoreError } from '../../src/store/errors.js';
import type { PutOptions } from '../../src/store/store.js';
import type { SessionRecord } from '../../schemas/session.js';
import { createFakeProcessAdapter } from '../fakes/fake-processes.js';
import { createMemoryStore } from '../fakes/memory-store.js';
import { buildFakeApp, eventually } from '../helper.js';

/** A memory store whose launch writes (readable at once) hang until the test settles them. */
function storeWithHeldLaunchWrites() {
  const store = createMemoryStore();
  const held: Array<{ id: string; settle: (err?: Error) => void }> = [];
  const put = store.put.bind(store);
  store.put = (record: SessionRecord, options?: PutOptions) => {
    if (!options?.readableAtOnce) return put(record);
    const indexed = put(record); // the memory store indexes (and "writes") at once
    return new Promise<void>((resolve, reject) => {
      held.push({ id: record.id, settle: (err) => (err ? reject(err) : indexed.then(resolve, reject)) });
    });
  };
  return { store, held };
}

/** The app on such a store, and one start answered: the session, its answer, the held writes. */
async function startHeld(t: Test, name: string) {
  const { store, held } = storeWithHeldLaunchWrites();
  const processes = createFakeProcessAdapter({ onOutput: (id, stream, data) => store.appendLog(id, stream, data) });
  const ctx = await buildFakeApp(t, { store, processes });
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name, working_directory: ctx.root, command: 'claude', args: ['-p', 'hi'] } });
  return { ctx, store, processes, held, res, id: res.json().id as string };
}

t.test('the answer does not wait for the running record’s write; reads see running meanwhile', async (t) => {
  const { ctx, processes, held, res, id } = await startHeld(t, 'quick');
  t.equal(res.statusCode, 201);
  t.equal(res.json().status, 'running', 'answered running');
  t.equal(held.length, 1, 'while its record’s write has not landed');
  t.equal((await ctx.app.inject({ url: `/v1/sessions/${id}` })).json().status, 'running', 'GET reads running');
  t.same((await ctx.app.inject({ url: '/v1/sessions' })).json().items.map((s: { status: string }) => s.status), ['running'], 'so does the list');
  const started = () => ctx.journal.all().some((e) => e.type === 'session.started' && e.session.id === id);
  t.notOk(started(), 'its started event follows the write (so a crash meanwhile leaves record and journal agreeing)');
  held[0]?.settle();
  await eventually(() => (started() ? true : undefined));
  await processes.exit(id, 0);
  await eventually(async () => ((await ctx.app.inject({ url: `/v1/sessions/${id}` })).json().status === 'exited' ? true : undefined));
  t.same(
    ctx.journal.all().filter((e) => e.session.id === id).map((e) => e.type),
    ['session.created', 'session.started', 'session.ended'],
    'events in order',
  );
});

t.test('a running record whose write fails is kept and answered, and the session’s next change is written', async (t) => {
  const { ctx, store, held, res, id } = await startHeld(t, 'full');
  t.equal(res.json().status, 'running');
  held[0]?.settle(new StoreError('io', 'ENOSPC: no space left on device'));
  // Still running for every reader, not starting.
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    t.equal((await ctx.app.inject({ url: `/v1/sessions/${id}` })).json().status, 'running');
  }
  t.same((await ctx.app.inject({ url: '/v1/sessions' })).json().items.map((s: { status: string }) => s.status), ['running']);
  const stop = await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${id}/stop`, payload: { grace_ms: 0 } });
  t.equal(stop.statusCode, 200);
  await eventually(async () => ((await store.get(id))?.status === 'stopped' ? true : undefined));
  t.equal((await ctx.app.inject({ url: `/v1/sessions/${id}` })).json().status, 'stopped', 'the stop is written and read');
});

t.test('closing the service waits for a running record’s write under way', async (t) => {
  const { ctx, held, res } = await startHeld(t, 'closing');
  t.equal(res.json().status, 'running');
  let closed = false;
  const closing = ctx.app.close().then(() => (closed = true));
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  t.notOk(closed, 'close waits while the write is under way');
  held[0]?.settle();
  await closing;
  t.ok(closed, 'and ends once it is done');
});
