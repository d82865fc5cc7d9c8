// The files under <dataDir>/webhooks: the outbox keeps what is pending (and never takes an event
// twice) through compaction and reopening; the deliveries log keeps the last 100 attempts across
// a restart; loading finishes a cut-short deletion and leaves a damaged endpoint alone.
import { mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { LifecycleEvent } from '../../schemas/events.js';
import type { WebhookDelivery } from '../../schemas/webhooks.js';
import { DeliveryLog } from '../../src/events/webhooks/delivery-log.js';
import { Outbox } from '../../src/events/webhooks/outbox.js';
import { createWebhookService } from '../../src/events/webhooks/service.js';
import { MemoryJournal } from '../fakes/memory-journal.js';
import { tempDir } from '../helper.js';
import { captureLog, session, silentLog, startService } from './helper.js';

const event = (seq: number): LifecycleEvent => ({ seq, type: 'session.started', time: new Date(0).toISOString(), session: session(`s${seq}`) });

t.test('the outbox: order, retry state, compaction, and no event twice after reopening', async (t) => {
  const path = join(await tempDir(t), 'outbox.jsonl');
  const outbox = await Outbox.open(path, silentLog());
  const taken: boolean[] = [];
  for (let seq = 1; seq <= 200; seq++) taken.push(await outbox.enqueue(event(seq)));
  t.ok(taken.every(Boolean), '200 events enqueued');
  t.equal(await outbox.enqueue(event(150)), false, 'an event it has already is not taken again');
  await outbox.retry(1, 3, '2026-01-01T00:00:00.000Z', '2026-01-01T00:01:00.000Z');
  for (let seq = 2; seq <= 195; seq++) await outbox.done(seq);
  const lines = (await readFile(path, 'utf8')).split('\n').length - 1;
  t.ok(lines < 100, `compacted: ${lines} lines for 6 pending`);
  await outbox.close();

  const reopened = await Outbox.open(path, silentLog());
  t.equal(reopened.size, 6);
  t.match(reopened.head(), { seq: 1, attempts: 3, firstAttemptAt: '2026-01-01T00:00:00.000Z', nextAttemptAt: '2026-01-01T00:01:00.000Z' });
  t.equal(reopened.enqueuedThrough, 200, 'it remembers the highest seq even after the rows are gone');
  t.equal(await reopened.enqueue(event(180)), false, 'so a re-read journal does not enqueue a finished event again');
  await reopened.done(1);
  t.equal(reopened.head()?.seq, 196, 'then the next in order');
  await reopened.close();
  t.equal(await reopened.enqueue(event(500)), false, 'closed: nothing more is written');
});

t.test('a damaged outbox line is skipped, the rest kept, and the file repaired', async (t) => {
  const path = join(await tempDir(t), 'outbox.jsonl');
  const good = (seq: number) => JSON.stringify({ op: 'enqueue', seq, event: event(seq), attempts: 0, first_attempt_at: null, next_attempt_at: null });
  await writeFile(path, `${good(1)}\n{"op":"nonsense"}\n${good(2)}\n{"op":"done","se`);
  const capture = captureLog();
  const outbox = await Outbox.open(path, capture.log);
  t.same([outbox.head()?.seq, outbox.size], [1, 2]);
  t.match(capture.text(), /damaged lines/);
  await outbox.enqueue(event(3));
  const text = await readFile(path, 'utf8');
  t.ok(text.split('\n').slice(0, -1).every((line) => JSON.parse(line).op !== 'nonsense'), 'rewritten before the next append');
  await outbox.close();
  t.equal((await Outbox.open(path, silentLog())).size, 3);
});

t.test('the deliveries log keeps the last 100, newest first, across reopening', async (t) => {
  const path = join(await tempDir(t), 'deliveries.jsonl');
  const log = await DeliveryLog.open(path);
  const delivery = (n: number): WebhookDelivery => ({
    id: `dlv_${n}`,
    webhook_id: 'wh_aaaaaaaaaaaaaaaaaaaa',
    event_seq: n,
    event_type: 'session.started',
    message_id: `msg_wh_aaaaaaaaaaaaaaaaaaaa_${n}`,
    attempt: 1,
    attempted_at: new Date(n * 1000).toISOString(),
    status_code: 200,
    error: null,
    outcome: 'succeeded',
    next_retry_at: null,
    duration_ms: 1,
  });
  for (let n = 1; n <= 250; n++) await log.record(delivery(n));
  t.equal(log.list().length, 100);
  t.equal(log.list()[0]?.event_seq, 250, 'newest first');
  t.ok((await readFile(path, 'utf8')).split('\n').length - 1 <= 200, 'the file stays bounded');
  await log.close();
  await writeFile(path, `${await readFile(path, 'utf8')}{"id":"dlv_torn`);
  const reopened = await DeliveryLog.open(path);
  t.same(reopened.list().map((d) => d.event_seq), Array.from({ length: 100 }, (_, i) => 250 - i), 'the same 100 after a restart, torn line dropped');
  await reopened.close();
});

t.test('loading: a cut-short deletion is finished; a damaged endpoint is left alone and reported', async (t) => {
  const dataDir = await tempDir(t);
  const journal = new MemoryJournal();
  const first = createWebhookService({ dataDir, journal, log: silentLog() });
  await first.init();
  const kept = await first.create({ url: 'http://127.0.0.1:9/a' });
  const halfDeleted = await first.create({ url: 'http://127.0.0.1:9/b' });
  const damaged = await first.create({ url: 'http://127.0.0.1:9/c' });
  await first.close();

  const root = join(dataDir, 'webhooks');
  // What a crash between the two steps of a delete leaves: the folder without its endpoint.json.
  await unlink(join(root, halfDeleted.id, 'endpoint.json'));
  await writeFile(join(root, damaged.id, 'endpoint.json'), '{"id":');
  await mkdir(join(root, 'not-a-webhook'));

  const capture = captureLog();
  const second = await startService(t, { dataDir, journal, log: capture.log });
  t.same(second.list().map((w) => w.id), [kept.id], 'only the whole endpoint is served');
  const names = await readdir(root);
  t.notOk(names.includes(halfDeleted.id), 'the half-deleted folder is removed');
  t.ok(names.includes(damaged.id), 'the damaged one is kept for the operator');
  t.match(capture.text(), /endpoint\.json is damaged/);
  t.notMatch(capture.text(), kept.secret);
});
