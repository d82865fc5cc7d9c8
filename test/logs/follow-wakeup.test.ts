// A follower that has read to the end of its log sleeps until the next wake-up rather than reading
// once more. These show that costs nothing: `atEnd` says when a read reached the end, and bytes
// that land while a chunk is being sent (before the stream sleeps) still go out at once.
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import t from 'tap';
import type { Session } from '../../schemas/session.js';
import { LogFollower } from '../../src/logs/follower.js';
import { LogHub } from '../../src/logs/hub.js';
import { runRawFollow } from '../../src/logs/raw-follow.js';
import { SessionWatch } from '../../src/logs/session-watch.js';
import { toSession } from '../../src/sessions/session-view.js';
import { createMemoryStore } from '../fakes/memory-store.js';
import { DEMO_ID, makeMetadata, makeRecord } from '../fakes/records.js';

async function storeWithSession() {
  const store = createMemoryStore();
  const record = makeRecord();
  await store.create(record, makeMetadata());
  return { store, session: toSession(record) };
}

t.test('atEnd: a read that came short reached the end; a full one did not; nothing new is the end', async (t) => {
  const { store } = await storeWithSession();
  store.appendLog(DEMO_ID, 'stdout', 'abcdef');
  const follower = new LogFollower(store, DEMO_ID, 'stdout', 0);
  t.teardown(() => follower.close());
  t.equal(follower.atEnd, false, 'nothing read yet');
  let read = await follower.read(4);
  t.equal(read.kind === 'data' && read.chunk.toString(), 'abcd');
  t.equal(follower.atEnd, false, 'a full read: more may be there');
  read = await follower.read(4);
  t.equal(read.kind === 'data' && read.chunk.toString(), 'ef');
  t.equal(follower.atEnd, true, 'a short read: the end as it was');
  store.appendLog(DEMO_ID, 'stdout', 'g');
  read = await follower.read(4);
  t.equal(read.kind === 'data' && read.chunk.toString(), 'g');
  t.equal(follower.atEnd, true);
  read = await follower.read(4);
  t.equal(read.kind, 'idle');
  t.equal(follower.atEnd, true, 'idle is the end too');
  store.truncateLog(DEMO_ID, 'stdout', 2);
  read = await follower.read(4);
  t.equal(read.kind, 'truncated');
  t.equal(follower.atEnd, false, 'after a truncation it reads on before sleeping');
});

/** The part of a ServerResponse the raw follow uses; `onWrite` runs inside each write. */
function fakeResponse(onWrite: (chunk: Buffer, count: number) => void) {
  const res = new EventEmitter() as EventEmitter & { chunks: Buffer[] } & Record<string, unknown>;
  res.chunks = [];
  res.destroyed = false;
  res.writableEnded = false;
  res.writableNeedDrain = false;
  res.write = (chunk: Buffer) => {
    res.chunks.push(Buffer.from(chunk));
    onWrite(chunk, res.chunks.length);
    return true;
  };
  res.end = () => {
    res.writableEnded = true;
    res.emit('finish');
  };
  res.destroy = () => {
    res.destroyed = true;
    res.emit('close');
  };
  return res as unknown as ServerResponse & { chunks: Buffer[] };
}

t.test('raw follow: bytes written while a chunk is sent go out without waiting for another change', async (t) => {
  const { store, session } = await storeWithSession();
  const changes = new EventEmitter<{ change: [{ type: string; session: Session }] }>();
  const watch = new SessionWatch({ get: async () => session, changes });
  // A hub whose safety poll never runs within the test: only the store's change notices wake.
  const hub = new LogHub(store, 3_600_000);
  t.teardown(() => {
    hub.close();
    watch.close();
  });
  let delivered!: () => void;
  const second = new Promise<void>((resolve) => (delivered = resolve));
  const res = fakeResponse((_chunk, count) => {
    // The session writes again while the first chunk is being sent: its change notice comes
    // before the follower goes to sleep, and must not be lost.
    if (count === 1) store.appendLog(DEMO_ID, 'stdout', 'second\n');
    if (count === 2) delivered();
  });
  store.appendLog(DEMO_ID, 'stdout', 'first\n');
  const following = runRawFollow({ store, hub, watch, session, stream: 'stdout', start: 0, timestamps: false, res });
  await second;
  t.equal(Buffer.concat(res.chunks).toString(), 'first\nsecond\n', 'both chunks, in order');
  changes.emit('change', { type: 'session.exited', session: { ...session, status: 'exited', exit_code: 0 } });
  await following;
  t.equal(res.writableEnded, true, 'ends with the session');
});
