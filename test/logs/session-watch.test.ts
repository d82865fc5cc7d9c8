// SessionWatch and the streams' end: a stream that subscribes just after someone else recorded
// the session's end (so no status event will come any more) must still end.
import { EventEmitter } from 'node:events';
import t, { type Test } from 'tap';
import type { Session } from '../../schemas/session.js';
import type { ServerResponse } from 'node:http';
import { FollowedSession } from '../../src/logs/followed-session.js';
import type { LogHub } from '../../src/logs/hub.js';
import { SessionWatch, type SessionSource } from '../../src/logs/session-watch.js';
import { Wakeup } from '../../src/logs/wakeup.js';
import { buildFakeApp, eventually, type FakeApp } from '../helper.js';
import { makeRecord } from '../fakes/records.js';
import { SseClient, sleep, useToken } from '../streaming/helper.js';

const session = (status: Session['status']) => makeRecord({ id: 'watched-1', status }) as unknown as Session;

type Change = { type: string; session: Session };

t.test('a watcher is told the end even when it was recorded before it subscribed (no change comes)', async (t) => {
  const changes = new EventEmitter<{ change: [Change] }>();
  // The end was recorded (and announced) before this watcher came: only a read can tell it.
  const source: SessionSource = { get: async () => session('exited'), changes };
  const watch = new SessionWatch(source);
  t.teardown(() => watch.close());
  const seen: Array<string | null> = [];
  watch.subscribe('watched-1', (s) => seen.push(s?.status ?? null));
  await eventually(() => (seen.length > 0 ? true : undefined), 2000);
  t.same(seen, ['exited']);
});

t.test('changes reach every watcher of the session, and only of that session', async (t) => {
  const changes = new EventEmitter<{ change: [Change] }>();
  const source: SessionSource = { get: () => new Promise<Session>(() => undefined), changes };
  const watch = new SessionWatch(source);
  t.teardown(() => watch.close());
  const a: string[] = [];
  const b: string[] = [];
  const other: string[] = [];
  watch.subscribe('watched-1', (s) => a.push(s?.status ?? 'gone'));
  const offB = watch.subscribe('watched-1', (s) => b.push(s?.status ?? 'gone'));
  watch.subscribe('other-1', (s) => other.push(s?.status ?? 'gone'));
  changes.emit('change', { type: 'session.ended', session: session('stopped') });
  offB();
  changes.emit('change', { type: 'session.ended', session: session('stopped') });
  t.same(a, ['stopped', 'stopped']);
  t.same(b, ['stopped'], 'unsubscribed: no more calls');
  t.same(other, []);
});

t.test('a deleted session tells its watchers null', async (t) => {
  const changes = new EventEmitter<{ change: [Change] }>();
  const source: SessionSource = { get: () => new Promise<Session>(() => undefined), changes };
  const watch = new SessionWatch(source);
  t.teardown(() => watch.close());
  const seen: Array<Session | null> = [];
  watch.subscribe('watched-1', (s) => seen.push(s));
  changes.emit('change', { type: 'session.deleted', session: session('exited') });
  t.same(seen, [null]);
});

t.test('a session that cannot be read (gone) tells its watchers null', async (t) => {
  const changes = new EventEmitter<{ change: [Change] }>();
  const source: SessionSource = { get: async () => Promise.reject(new Error('not found')), changes };
  const watch = new SessionWatch(source);
  t.teardown(() => watch.close());
  const seen: Array<Session | null> = [];
  watch.subscribe('watched-1', (s) => seen.push(s));
  await eventually(() => (seen.length > 0 ? true : undefined), 2000);
  t.same(seen, [null]);
});

/**
 * The race over a real socket: client A watches a session; client B connects; while B's request
 * is between reading the session (running) and subscribing, the process ends and A's watch
 * records it. B must still get `end` (SSE) or its response must still end (follow).
 */
async function raceSetup(t: Test) {
  const ctx: FakeApp = await buildFakeApp(t);
  await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  useToken(ctx.config);
  const address = ctx.app.server.address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/v1/sessions',
    payload: { name: 'racer', working_directory: ctx.root, command: 'bash', args: [] },
  });
  const id = res.json().id as string;
  await ctx.processes.write(id, 'stdout', 'hello\n');
  const a = await SseClient.open(`${url}/v1/sessions/${id}/logs/stream`);
  t.teardown(() => a.abort());
  await a.until((c) => c.lines('stdout').includes('hello'), 5000, 'A is streaming');
  // The next log stat (B's request reading the session) is where the process ends; the pause
  // lets A's watch record the end before B subscribes.
  const realStat = ctx.store.logStat.bind(ctx.store);
  let armed = true;
  ctx.store.logStat = async (...args) => {
    if (armed) {
      armed = false;
      await ctx.processes.exit(id, 0);
      await sleep(100);
    }
    return realStat(...args);
  };
  return { ctx, url, id, a };
}

t.test('SSE: a client connecting while the session ends still gets end', async (t) => {
  const { ctx, url, id, a } = await raceSetup(t);
  const b = await SseClient.open(`${url}/v1/sessions/${id}/logs/stream`);
  t.teardown(() => b.abort());
  await a.untilEnd(5000);
  await b.untilEnd(5000);
  t.match(JSON.parse(b.events.at(-1)?.data ?? '{}'), { status: 'exited' });
  t.same(b.lines('stdout'), ['hello'], 'and the output before it');
  await b.closed(5000);
  await eventually(() => (ctx.app.logStreams.openStreams === 0 ? true : undefined), 5000);
});

t.test('raw follow: a client connecting while the session ends still sees the response end', async (t) => {
  const { url, id } = await raceSetup(t);
  const b = await SseClient.open(`${url}/v1/sessions/${id}/logs/stdout?follow=true`);
  t.teardown(() => b.abort());
  await b.closed(5000);
  t.ok(b.endedCleanly);
  t.equal(Buffer.concat(b.raw).toString(), 'hello\n');
});

t.test('a stream’s followed status only moves forward: a change told late (created after running) is not sent', async (t) => {
  const changes = new EventEmitter<{ change: [Change] }>();
  const source: SessionSource = { get: () => new Promise<Session>(() => undefined), changes };
  const watch = new SessionWatch(source);
  t.teardown(() => watch.close());
  const hub = { subscribe: () => () => undefined } as unknown as LogHub;
  const res = new EventEmitter() as unknown as ServerResponse;
  const followed = new FollowedSession({ hub, watch }, session('running'), ['stdout'], new Wakeup(), res);
  t.teardown(() => followed.release());
  changes.emit('change', { type: 'session.created', session: session('starting') });
  t.equal(followed.takeStatus(), null, 'starting after running is stale: nothing to send');
  t.equal(followed.latest.status, 'running');
  changes.emit('change', { type: 'session.started', session: session('running') });
  t.equal(followed.takeStatus(), null, 'running again: nothing to send');
  changes.emit('change', { type: 'session.ended', session: session('exited') });
  t.equal(followed.takeStatus()?.status, 'exited', 'the end is sent');
  changes.emit('change', { type: 'session.started', session: session('running') });
  t.equal(followed.takeStatus(), null, 'and nothing after it');
  t.equal(followed.latest.status, 'exited');
});
