// Delivery to a real receiver: retries with one webhook-id and valid signatures, order per
// endpoint under failures, filters by type and label, giving up and moving on, redirects and
// timeouts as failures, the deliveries log, the test event, and deletion stopping deliveries.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { DeliveryOutcome } from '../../schemas/webhooks.js';
import { MemoryJournal } from '../fakes/memory-journal.js';
import { eventually, tempDir } from '../helper.js';
import { appendEvents, Receiver, session, startService, verifies } from './helper.js';

t.test('a receiver that fails twice gets the event on the third try, same webhook-id, valid signatures', async (t) => {
  const receiver = await Receiver.start(t, (_r, count) => (count <= 2 ? 500 : 200));
  const journal = new MemoryJournal();
  const outcomes: DeliveryOutcome[] = [];
  const service = await startService(t, { dataDir: await tempDir(t), journal, onAttempt: (o) => outcomes.push(o) });
  const created = await service.create({ url: receiver.url });

  const event = await journal.append('session.ended', session('s1'));
  await receiver.delivered([event.seq]);

  t.equal(receiver.received.length, 3, 'three attempts');
  t.same(receiver.received.map((r) => r.status), [500, 500, 200]);
  const ids = new Set(receiver.received.map((r) => r.webhookId));
  t.same([...ids], [`msg_${created.id}_${event.seq}`], 'one webhook-id, stable across retries');
  for (const r of receiver.received) {
    t.ok(verifies(created.secret, r), `attempt ${r.n} verifies with the standardwebhooks package`);
    t.equal(r.headers['content-type'], 'application/json');
    t.equal(r.headers['user-agent'], 'sessiond');
    t.same(r.json, JSON.parse(JSON.stringify(event)), 'the body is the event JSON');
  }

  const log = await eventually(() => {
    const items = service.deliveries(created.id).items;
    return items.length === 3 ? items : undefined;
  });
  t.same(log.map((d) => [d.attempt, d.status_code, d.outcome]), [[3, 200, 'succeeded'], [2, 500, 'failed'], [1, 500, 'failed']], 'newest first');
  t.ok(log[1]?.next_retry_at && log[2]?.next_retry_at, 'failed attempts say when the next one comes');
  t.equal(log[0]?.next_retry_at, null);
  t.equal(log[0]?.message_id, `msg_${created.id}_${event.seq}`);
  t.equal(log[0]?.event_seq, event.seq);
  t.equal(log[0]?.event_type, 'session.ended');
  t.same(outcomes, ['failed', 'failed', 'succeeded'], 'the counter hook sees every attempt');
});

t.test('events reach an endpoint in seq order even when attempts fail (head of line)', async (t) => {
  // The first attempt of every event fails; the first two fail three times.
  const receiver = await Receiver.start(t, (r, count) => (count <= (r.json.seq <= 2 ? 3 : 1) ? 503 : 204));
  const journal = new MemoryJournal();
  const service = await startService(t, { dataDir: await tempDir(t), journal });
  await service.create({ url: receiver.url });
  const seqs = await appendEvents(journal, 6);
  await receiver.delivered(seqs);

  const arrivals = receiver.received.map((r) => r.json.seq);
  t.same([...arrivals].sort((a, b) => a - b), arrivals, `attempts arrive in seq order: ${arrivals.join(',')}`);
  t.same(receiver.succeeded().map((r) => r.json.seq), seqs, 'each event succeeds once, in order');
});

t.test('filters: types and labels (all must match); each endpoint has its own queue', async (t) => {
  const ended = await Receiver.start(t);
  const web = await Receiver.start(t);
  const all = await Receiver.start(t);
  const journal = new MemoryJournal();
  const service = await startService(t, { dataDir: await tempDir(t), journal });
  await service.create({ url: ended.url, types: ['session.ended'] });
  await service.create({ url: web.url, labels: { team: 'web', env: 'prod' } });
  await service.create({ url: all.url });

  await journal.append('session.started', session('a', { team: 'web', env: 'prod' }));
  await journal.append('session.ended', session('b', { team: 'web' }));
  await journal.append('session.created', session('c', { team: 'ops', env: 'prod' }));
  await journal.append('session.deleted', session('d', { team: 'web', env: 'prod', extra: 'x' }));
  // Matches everyone: once it arrived, everything before it was delivered or filtered out.
  const last = await journal.append('session.ended', session('e', { team: 'web', env: 'prod' }));
  await Promise.all([ended.delivered([last.seq]), web.delivered([last.seq]), all.delivered([last.seq])]);

  t.same(ended.received.map((r) => r.json.seq), [2, 5], 'types: only session.ended');
  t.same(web.received.map((r) => r.json.seq), [1, 4, 5], 'labels: only sessions with team=web and env=prod');
  t.same(all.received.map((r) => r.json.seq), [1, 2, 3, 4, 5], 'no filter: every event');
});

t.test('an endpoint gets only events after its creation', async (t) => {
  const receiver = await Receiver.start(t);
  const journal = new MemoryJournal();
  await appendEvents(journal, 3);
  const service = await startService(t, { dataDir: await tempDir(t), journal });
  await service.create({ url: receiver.url });
  const [seq] = await appendEvents(journal, 1);
  await receiver.delivered([seq as number]);
  t.same(receiver.received.map((r) => r.json.seq), [4]);
});

t.test('after the retry window an event is given up and the next one goes', async (t) => {
  const receiver = await Receiver.start(t, (r) => (r.json.seq === 1 ? 500 : 200));
  const journal = new MemoryJournal();
  const outcomes: DeliveryOutcome[] = [];
  const service = await startService(t, { dataDir: await tempDir(t), journal, retryWindowMs: 60, onAttempt: (o) => outcomes.push(o) });
  const created = await service.create({ url: receiver.url });
  await appendEvents(journal, 2);
  await receiver.delivered([2]);

  const first = receiver.received.filter((r) => r.json.seq === 1);
  t.ok(first.length >= 2, `the failing event was retried (${first.length} attempts)`);
  const log = service.deliveries(created.id).items;
  const gaveUp = log.find((d) => d.event_seq === 1 && d.outcome === 'gave_up');
  t.ok(gaveUp, 'its last attempt is gave_up');
  t.equal(gaveUp?.next_retry_at, null);
  t.ok(outcomes.includes('gave_up'), 'the counter hook saw gave_up');
  t.equal(receiver.received.at(-1)?.json.seq, 2, 'the next event came after it');
});

t.test('a redirect is a failure and is not followed; so is a timeout', async (t) => {
  const receiver = await Receiver.start(t, async (r, count) => {
    if (r.json.seq === 1) return count === 1 ? 302 : 200;
    if (count === 1) await new Promise((resolve) => setTimeout(resolve, 400));
    return 200;
  });
  const journal = new MemoryJournal();
  const service = await startService(t, { dataDir: await tempDir(t), journal, timeoutMs: 100 });
  const created = await service.create({ url: receiver.url });
  await appendEvents(journal, 2);
  await receiver.delivered([1, 2]);

  t.notOk(receiver.received.some((r) => r.path === '/elsewhere'), 'the Location was not visited');
  const log = await eventually(() => {
    const items = service.deliveries(created.id).items;
    return items.length >= 4 ? items.reverse() : undefined;
  });
  t.match(log[0], { event_seq: 1, status_code: 302, outcome: 'failed', error: null });
  t.match(log[2], { event_seq: 2, status_code: null, outcome: 'failed', error: /timed out after 100 ms/ });
});

t.test('an unreachable receiver is a failure with the reason', async (t) => {
  const receiver = await Receiver.start(t);
  const url = receiver.url;
  await receiver.close();
  const journal = new MemoryJournal();
  const service = await startService(t, { dataDir: await tempDir(t), journal });
  const created = await service.create({ url });
  await appendEvents(journal, 1);
  const failed = await eventually(() => service.deliveries(created.id).items[0]);
  t.match(failed, { status_code: null, outcome: 'failed', error: /ECONNREFUSED/ });
});

t.test('the test event: sent now, beside a blocked queue, answered with its delivery', async (t) => {
  const receiver = await Receiver.start(t, (r) => (r.json.type === 'webhook.test' ? 200 : 500));
  const journal = new MemoryJournal();
  const outcomes: DeliveryOutcome[] = [];
  const service = await startService(t, { dataDir: await tempDir(t), journal, firstRetryMs: 60_000, maxRetryDelayMs: 60_000, onAttempt: (o) => outcomes.push(o) });
  const created = await service.create({ url: receiver.url });
  await appendEvents(journal, 1);
  // The queue is blocked: its head failed and waits a minute for its retry.
  await eventually(() => service.deliveries(created.id).items.find((d) => d.event_seq === 1 && d.outcome === 'failed'));

  const delivery = await service.test(created.id);
  t.match(delivery, { webhook_id: created.id, event_seq: 0, event_type: 'webhook.test', attempt: 1, status_code: 200, outcome: 'succeeded', next_retry_at: null, error: null });
  const request = await receiver.waitFor((r) => r.json.type === 'webhook.test');
  t.same(Object.keys(request.json), ['seq', 'type', 'time', 'session']);
  t.match(request.json, { seq: 0, type: 'webhook.test', session: null });
  t.equal(request.webhookId, delivery.message_id);
  t.match(delivery.message_id, new RegExp(`^msg_${created.id}_test_[0-9a-f]+$`));
  t.ok(verifies(created.secret, request), 'signed like every delivery');
  t.same(service.deliveries(created.id).items.map((d) => d.event_seq), [0, 1], 'it is in the deliveries log, newest first');
  t.not((await service.test(created.id)).message_id, delivery.message_id, 'each test has its own webhook-id');

  receiver.respond = () => 404;
  t.match(await service.test(created.id), { status_code: 404, outcome: 'gave_up' }, 'a failed test is final');
  t.same(outcomes.filter((o) => o !== 'failed'), ['succeeded', 'succeeded', 'gave_up']);
});

t.test('deleting an endpoint stops its deliveries and removes its files', async (t) => {
  const receiver = await Receiver.start(t, () => 500);
  const dataDir = await tempDir(t);
  const journal = new MemoryJournal();
  const service = await startService(t, { dataDir, journal });
  const keep = await service.create({ url: receiver.url, types: ['session.created'] });
  const gone = await service.create({ url: receiver.url, types: ['session.started'] });
  t.ok((await readdir(join(dataDir, 'webhooks'))).includes(gone.id), 'each endpoint has its folder');

  await appendEvents(journal, 1);
  await receiver.waitFor((r) => r.webhookId.startsWith(`msg_${gone.id}_`));
  await service.remove(gone.id);
  const after = receiver.received.length;

  // A later event for the kept endpoint: once it arrived, the deleted one had its chance to show up.
  receiver.respond = () => 200;
  const created = await journal.append('session.created', session('x'));
  await receiver.delivered([created.seq]);
  t.notOk(receiver.received.slice(after).some((r) => r.webhookId.startsWith(`msg_${gone.id}_`)), 'nothing more to the deleted endpoint');
  t.notOk((await readdir(join(dataDir, 'webhooks'))).includes(gone.id), 'its folder is gone');
  t.throws(() => service.get(gone.id), { code: 'webhook_not_found' });
  t.same(service.list().map((w) => w.id), [keep.id]);
});
