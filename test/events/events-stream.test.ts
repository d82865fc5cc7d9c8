// GET /v1/events over a real socket: live order, resume without gap or duplicate, filters, reset,
// keep-alive, clean shutdown, departed and slow clients, and who may read the stream.
import t, { type Test } from 'tap';
import { createFileJournal } from '../../src/events/file-journal.js';
import type { EventJournal, LifecycleEvent } from '../../src/events/journal.js';
import { createEventStreams, type EventStreams, type EventStreamsOptions } from '../../src/events/stream.js';
import { eventRoutes } from '../../src/routes/events.js';
import { MemoryJournal } from '../fakes/memory-journal.js';
import { buildPluginApp } from '../plugin-app.js';
import { TEST_TOKENS, authHeader, eventually, tempDir } from '../helper.js';
import { SseClient, type SseEvent } from '../streaming/helper.js';
import { makeSession, recordingLog } from './helper.js';

interface EventsServer {
  url: string;
  streams: EventStreams;
  app: Awaited<ReturnType<typeof buildPluginApp>>;
}

/** The errors and auth plugins as the service registers them, the events route, on 127.0.0.1:<free port>. */
async function startEventsServer(
  t: Test,
  journal: EventJournal,
  options: Partial<EventStreamsOptions> & { withOpenApi?: boolean } = {},
): Promise<EventsServer> {
  const app = await buildPluginApp({ withOpenApi: options.withOpenApi });
  const keepAliveMs = options.keepAliveMs ?? 15000;
  const streams = createEventStreams({ journal, keepAliveMs, log: recordingLog(), ...options });
  app.addHook('preClose', async () => streams.closeAll());
  await app.register(eventRoutes, { journal, keepAliveMs, streams });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return { url: `http://127.0.0.1:${address.port}`, streams, app: app as never };
}

const read = { headers: authHeader('read') };

/** Opens /v1/events (read token) and waits until the stream has started (its retry line). */
async function follow(server: EventsServer, query = '', headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await SseClient.open(`${server.url}/v1/events${query}`, { headers: { ...authHeader('read'), ...headers } });
  await client.until((c) => c.items.some((item) => item.type === 'retry'), 10000, 'the retry line');
  return client;
}

const lifecycle = (client: SseClient) => client.events.filter((event) => event.event.startsWith('session.'));
const ids = (events: SseEvent[]) => events.map((event) => Number(event.id));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function appendMany(journal: EventJournal, n: number, make = (i: number) => makeSession({ name: `s${i}` })) {
  const out: LifecycleEvent[] = [];
  for (let i = 0; i < n; i++) out.push(await journal.append('session.status', make(i)));
  return out;
}

/** The client holds these seqs, each once, in this order, and nothing else. */
async function receives(t: Test, client: SseClient, expected: number[], what: string, timeoutMs = 20000) {
  const last = expected.at(-1) as number;
  await client.until((c) => lifecycle(c).some((event) => Number(event.id) === last), timeoutMs, what);
  t.same(ids(lifecycle(client)), expected, what);
}

t.test('live: events arrive in seq order with id, type and the event as data; nothing from before', async (t) => {
  const journal = new MemoryJournal();
  await appendMany(journal, 2);
  const server = await startEventsServer(t, journal);
  const client = await follow(server);
  t.equal(client.status, 200);
  t.match(client.headers['content-type'], /^text\/event-stream/);
  t.equal(client.headers['cache-control'], 'no-cache');
  t.match(client.text(), /^retry: 2000\nid: 2\n\n/, 'retry, then the current seq as the id to resume from');

  const session = makeSession({ id: 'live-abc-1', labels: { team: 'web' } });
  const appended = [
    await journal.append('session.created', session),
    await journal.append('session.queued', session),
    await journal.append('session.started', session),
    await journal.append('session.ended', session),
    await journal.append('session.deleted', session),
  ];
  await receives(t, client, [3, 4, 5, 6, 7], 'live events only, in order');
  const events = lifecycle(client);
  t.same(events.map((event) => event.event), ['session.created', 'session.queued', 'session.started', 'session.ended', 'session.deleted']);
  t.same(events.map((event) => JSON.parse(event.data)), appended, 'data is the LifecycleEvent');
  client.abort();
});

t.test('resume with ?since=, ?last_event_id= and Last-Event-ID (which wins): no gap, no duplicate', async (t) => {
  const journal = new MemoryJournal();
  await appendMany(journal, 10);
  const server = await startEventsServer(t, journal);
  const since = await follow(server, '?since=4');
  const query = await follow(server, '?last_event_id=6');
  const header = await follow(server, '?since=2', { 'last-event-id': '7' });
  const zero = await follow(server, '?since=0');
  await receives(t, since, range(5, 10), 'since=4 replays 5..10');
  await receives(t, query, range(7, 10), 'last_event_id=6 replays 7..10');
  await receives(t, header, range(8, 10), 'the header beats ?since=');
  await receives(t, zero, range(1, 10), 'since=0 replays everything');
  await appendMany(journal, 2);
  await receives(t, since, range(5, 12), 'then live');
  await receives(t, header, range(8, 12), 'then live');

  // A dropped client that reconnects with its last id gets exactly the rest.
  const lastId = since.events.at(-1)?.id as string;
  since.abort();
  await appendMany(journal, 3);
  const again = await follow(server, '', { 'last-event-id': lastId });
  await receives(t, again, range(13, 15), 'the reconnect holds what was missed');
  for (const client of [query, header, zero, again]) client.abort();
});

t.test('replay racing live appends: every event once, in order', async (t) => {
  const journal = new MemoryJournal();
  await appendMany(journal, 3000);
  // Small reads, so the replay takes many turns while appends go on.
  const server = await startEventsServer(t, journal, { readBatch: 7 });
  const appending = (async () => {
    for (let i = 0; i < 300; i++) {
      await journal.append('session.status', makeSession());
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  const client = await follow(server, '?since=0');
  await appending;
  await receives(t, client, range(1, 3300), 'replay then live, no gap, no duplicate', 60000);
  client.abort();
});

t.test('filters: session_id, every label, types', async (t) => {
  const journal = new MemoryJournal();
  const server = await startEventsServer(t, journal);
  const bySession = await follow(server, '?session_id=wanted-abc-1');
  const byLabels = await follow(server, '?label=team=web&label=env=prod');
  const byTypes = await follow(server, '?types=session.created,session.ended');
  const everything = await follow(server);

  const wanted = makeSession({ id: 'wanted-abc-1', labels: { team: 'web', env: 'prod', extra: 'x' } });
  const other = makeSession({ id: 'other-abc-2', labels: { team: 'web', env: 'dev' } });
  await journal.append('session.created', wanted); // 1
  await journal.append('session.created', other); // 2
  await journal.append('session.started', wanted); // 3
  await journal.append('session.ended', other); // 4
  await journal.append('session.ended', wanted); // 5

  await receives(t, everything, [1, 2, 3, 4, 5], 'no filter: all');
  await receives(t, bySession, [1, 3, 5], 'session_id');
  await receives(t, byLabels, [1, 3, 5], 'labels: all must match');
  await receives(t, byTypes, [1, 2, 4, 5], 'types');
  const filtered = await follow(server, '?since=0&types=session.ended&label=team=web&session_id=other-abc-2');
  await receives(t, filtered, [4], 'filters combine, on replay too');
  for (const client of [bySession, byLabels, byTypes, everything, filtered]) client.abort();
});

t.test('bad filters and positions are 400 problems', async (t) => {
  const server = await startEventsServer(t, new MemoryJournal());
  for (const query of ['types=session.exploded', 'types=', 'types=session.created,,session.ended', 'label=Team=web', 'label=novalue', 'since=-1', 'since=abc', 'session_id=../x', 'last_event_id=1-2']) {
    const res = await fetch(`${server.url}/v1/events?${query}`, read);
    t.equal(res.status, 400, query);
    t.match(res.headers.get('content-type'), /^application\/problem\+json/);
    t.equal(((await res.json()) as { code: string }).code, 'validation_failed', `${query}: validation_failed`);
  }
});

t.test('reset: a seq older than what is kept, or one never given out, says so first', async (t) => {
  const journal = new MemoryJournal({ retainCount: 5 });
  await appendMany(journal, 20);
  const server = await startEventsServer(t, journal);

  const old = await follow(server, '?since=3');
  await receives(t, old, range(16, 20), 'then everything kept');
  t.equal(old.events[0]?.event, 'reset', 'the first event is reset');
  t.same(JSON.parse(old.events[0]?.data as string), { oldest_seq: 16 });

  const justKept = await follow(server, '?since=15');
  await receives(t, justKept, range(16, 20), 'since = oldest - 1 is still whole');
  t.notOk(justKept.events.some((event) => event.event === 'reset'), 'no reset when nothing was lost');

  const future = await follow(server, '', { 'last-event-id': '999' });
  await receives(t, future, range(16, 20), 'an unknown id replays what is kept');
  t.equal(future.events[0]?.event, 'reset');
  for (const client of [old, justKept, future]) client.abort();
});

t.test('keep-alive comments while nothing happens', async (t) => {
  const server = await startEventsServer(t, new MemoryJournal(), { keepAliveMs: 30 });
  const client = await follow(server);
  await client.until((c) => c.comments.filter((text) => text === 'keep-alive').length >= 2, 5000, 'two keep-alives');
  t.pass('keep-alive comments arrive');
  client.abort();
});

t.test('closeAll ends every stream cleanly; the register is empty after', async (t) => {
  const journal = new MemoryJournal();
  const server = await startEventsServer(t, journal);
  const a = await follow(server);
  const b = await follow(server, '?since=0');
  t.equal(server.streams.count, 2);
  await journal.append('session.created', makeSession());
  await receives(t, a, [1], 'a is live');
  server.streams.closeAll();
  await Promise.all([a.closed(), b.closed()]);
  t.ok(a.endedCleanly && b.endedCleanly, 'the responses ended, not cut');
  t.equal(server.streams.count, 0);
});

t.test('the service shutting down ends open streams (preClose)', async (t) => {
  const server = await startEventsServer(t, new MemoryJournal());
  const client = await follow(server);
  await server.app.close();
  await client.closed();
  t.ok(client.endedCleanly, 'a clean end: EventSource reconnects and resumes');
});

t.test('a client that goes away is unsubscribed', async (t) => {
  const inner = new MemoryJournal();
  let subscriptions = 0;
  const journal: EventJournal = {
    init: () => inner.init(),
    append: (type, session) => inner.append(type, session),
    readAfter: (after, limit) => inner.readAfter(after, limit),
    oldestSeq: () => inner.oldestSeq(),
    lastSeq: () => inner.lastSeq(),
    close: () => inner.close(),
    subscribe(listener) {
      subscriptions++;
      const off = inner.subscribe(listener);
      return () => {
        subscriptions--;
        off();
      };
    },
  };
  const server = await startEventsServer(t, journal);
  const a = await follow(server);
  const b = await follow(server);
  t.equal(server.streams.count, 2);
  t.equal(subscriptions, 1, 'the streams share one subscription');
  a.abort();
  await eventually(() => (server.streams.count === 1 ? true : undefined));
  await journal.append('session.created', makeSession());
  await receives(t, b, [1], 'the other stream goes on');
  b.abort();
  await eventually(() => (server.streams.count === 0 ? true : undefined));
  t.equal(subscriptions, 0, 'no subscription is left behind');
});

t.test('a slow reader: the server holds at most a chunk for it, and it still gets every event in order', async (t) => {
  const dataDir = await tempDir(t, 'sessiond-events-slow-');
  const journal = createFileJournal({ dataDir, log: recordingLog() });
  await journal.init();
  t.teardown(() => journal.close());
  const server = await startEventsServer(t, journal);
  const client = await follow(server);
  // The client stops reading: the kernel's buffers fill, then the server's socket.
  client.res.pause();

  const N = 20000;
  const BURST = 500;
  // About 1.5 kB per event: 30 MB in all, more than the kernel's buffers hold.
  const labels = { team: 'web', note: 'x'.repeat(256), more: 'y'.repeat(256), again: 'z'.repeat(256) };
  let peak = 0;
  for (let i = 0; i < N; i += BURST) {
    await Promise.all(Array.from({ length: BURST }, (_, k) => journal.append('session.status', makeSession({ name: `slow-${i + k}`, labels }))));
    peak = Math.max(peak, server.streams.stats().peakBufferedBytes);
  }
  const stats = server.streams.stats();
  t.equal(stats.catchingUp, 1, 'the paused client fell behind: the server stopped writing to it');
  t.ok(peak < 128 * 1024, `the server never buffered more than ${peak} bytes for it (30 MB were appended)`);
  t.ok(journal.stats().inMemory <= 10000, 'the journal holds at most its window in memory');

  client.res.resume();
  await client.until((c) => c.events.at(-1)?.id === String(N), 60000, `all ${N} events`);
  const got = ids(lifecycle(client));
  t.equal(got.length, N, 'every event arrived');
  t.ok(got.every((id, i) => id === i + 1), 'each once, in seq order (the older ones read back from disk)');
  t.equal(server.streams.stats().catchingUp, 0, 'caught up, it is live again');
  await journal.append('session.ended', makeSession());
  await client.until((c) => c.events.at(-1)?.id === String(N + 1), 10000, 'the next live event');
  client.abort();
});

t.test('a reader slower than retention is told to reset, then gets everything still kept', async (t) => {
  const journal = new MemoryJournal({ retainCount: 100 });
  const server = await startEventsServer(t, journal);
  const client = await follow(server);
  client.res.pause();
  const N = 20000;
  const labels = { note: 'x'.repeat(256), more: 'y'.repeat(256), again: 'z'.repeat(256) };
  for (let i = 0; i < N; i++) await journal.append('session.status', makeSession({ labels }));
  t.equal(server.streams.stats().catchingUp, 1, 'the client fell behind');
  client.res.resume();
  await client.until((c) => c.events.at(-1)?.id === String(N), 60000, `event ${N}`);
  const events = client.events;
  const resets = events.filter((event) => event.event === 'reset');
  t.equal(resets.length, 1, 'one reset');
  const at = events.findIndex((event) => event.event === 'reset');
  const oldest = JSON.parse(events[at]?.data as string).oldest_seq as number;
  const before = ids(events.slice(0, at));
  const after = ids(events.slice(at + 1));
  t.same(before, range(1, before.length), 'before the reset: from the start, no gap');
  t.ok(oldest > before.length + 1, `the reset names what was lost (${before.length + 1}..${oldest - 1})`);
  t.same(after, range(oldest, N), 'after it: from oldest_seq to the newest, no gap');
  client.abort();
});

t.test('who may read: a read token (header or ?access_token=), never no token', async (t) => {
  const journal = new MemoryJournal();
  await appendMany(journal, 1);
  const server = await startEventsServer(t, journal);

  const noToken = await fetch(`${server.url}/v1/events`);
  t.equal(noToken.status, 401);
  t.match(noToken.headers.get('www-authenticate'), /^Bearer/);
  t.equal(((await noToken.json()) as { code: string }).code, 'unauthorized');

  const badToken = await fetch(`${server.url}/v1/events?access_token=nope`);
  t.equal(badToken.status, 401);
  await badToken.body?.cancel();

  const viaQuery = await fetch(`${server.url}/v1/events?since=0&access_token=${TEST_TOKENS.read}`);
  t.equal(viaQuery.status, 200, '?access_token= with a read token');
  const reader = (viaQuery.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  while (!text.includes('id: 1\n')) text += new TextDecoder().decode((await reader.read()).value);
  t.match(text, /event: session\.status\n/, 'and the stream flows');
  await reader.cancel();

  const viaHeader = await fetch(`${server.url}/v1/events`, read);
  t.equal(viaHeader.status, 200, 'Authorization: Bearer with a read token');
  await viaHeader.body?.cancel();

  const head = await fetch(`${server.url}/v1/events`, { method: 'HEAD', ...read });
  t.equal(head.status, 200, 'HEAD answers the headers');
  t.match(head.headers.get('content-type'), /^text\/event-stream/);
  await eventually(() => (server.streams.count === 0 ? true : undefined));
});

t.test('the route documents itself: text/event-stream, its problems, both ways to pass a token', async (t) => {
  const server = await startEventsServer(t, new MemoryJournal(), { withOpenApi: true });
  const spec = (await (await fetch(`${server.url}/openapi.json`)).json()) as any;
  const op = spec.paths['/v1/events'].get;
  t.same(op.tags, ['events']);
  t.ok(op.responses['200'].content['text/event-stream'], '200 is text/event-stream');
  t.ok(op.responses['400'].content['application/problem+json'], '400 is problem+json');
  t.ok(op.responses['500'].content['application/problem+json'], '500 is problem+json');
  t.same(op.security, [{ bearer: ['read'] }, { access_token: ['read'] }]);
  t.same(
    op.parameters.filter((p: { in: string }) => p.in === 'query').map((p: { name: string }) => p.name).sort(),
    ['label', 'last_event_id', 'session_id', 'since', 'types'],
  );
  t.ok(spec.components.schemas.LifecycleEvent, 'LifecycleEvent is a named component');
  t.ok(spec.tags.some((tag: { name: string }) => tag.name === 'events'), 'the events tag');
});
