// The enqueuer's cursor on disk: written after a batch that enqueued something, not for events no
// endpoint wants (a service without endpoints writes nothing per event), and at most
// CURSOR_LAG_MAX events behind; re-reading the unwritten part after a restart enqueues nothing.
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { WebhookRecord } from '../../schemas/webhooks.js';
import { CURSOR_FILE, Enqueuer, type EnqueueTarget } from '../../src/events/webhooks/enqueuer.js';
import { Outbox } from '../../src/events/webhooks/outbox.js';
import { MemoryJournal } from '../fakes/memory-journal.js';
import { tempDir } from '../helper.js';
import { appendEvents, session, silentLog } from './helper.js';

const cursorOnDisk = async (root: string): Promise<number | null> => {
  try {
    return (JSON.parse(await readFile(join(root, CURSOR_FILE), 'utf8')) as { enqueued_through: number }).enqueued_through;
  } catch {
    return null;
  }
};

async function target(root: string, name: string, record: Partial<WebhookRecord>): Promise<EnqueueTarget & { woken: number }> {
  const outbox = await Outbox.open(join(root, `${name}.jsonl`), silentLog());
  const made = { record: { after_seq: 0, types: null, labels: {}, ...record } as WebhookRecord, outbox, woken: 0, wake: () => made.woken++ };
  return made;
}

t.test('events no endpoint wants cost no cursor write; a batch that enqueued writes it', async (t) => {
  const root = await tempDir(t);
  const journal = new MemoryJournal();
  const targets: EnqueueTarget[] = [];
  const enqueuer = new Enqueuer({ journal, root, targets: () => targets, log: silentLog() });
  await enqueuer.start();
  t.teardown(() => enqueuer.close());
  await appendEvents(journal, 10);
  await enqueuer.pump();
  t.equal(enqueuer.enqueuedThrough, 10, 'read through the last event');
  t.equal(await cursorOnDisk(root), null, 'no endpoint: nothing written');

  const wanting = await target(root, 'a', { after_seq: 10, labels: { team: 'web' } });
  targets.push(wanting);
  await appendEvents(journal, 3);
  await enqueuer.pump();
  t.equal(await cursorOnDisk(root), null, 'an endpoint that wants none of them (labels): still nothing written');
  t.equal(wanting.outbox.size, 0);

  await appendEvents(journal, 2, { team: 'web' });
  await enqueuer.pump();
  t.equal(wanting.outbox.size, 2, 'the wanted events are in the outbox');
  t.equal(await cursorOnDisk(root), 15, 'and the cursor is written through them');
  await access(join(root, CURSOR_FILE));
});

t.test('the cursor lags at most CURSOR_LAG_MAX events; a restart re-reads the rest and enqueues nothing twice', async (t) => {
  const root = await tempDir(t);
  const journal = new MemoryJournal();
  const early = await target(root, 'early', { after_seq: 0, types: ['session.ended'] });
  const first = new Enqueuer({ journal, root, targets: () => [early], log: silentLog() });
  await first.start();
  await appendEvents(journal, 1500); // session.started: not wanted
  await first.pump();
  const lagging = await cursorOnDisk(root);
  t.ok(lagging !== null && lagging >= 1000 && lagging <= 1500, `written once it fell 1000 behind (${lagging})`);
  await first.close();

  // A restart: the unwritten part is read again; an endpoint made since wants nothing before it.
  const late = await target(root, 'late', { after_seq: journal.lastSeq() });
  const second = new Enqueuer({ journal, root, targets: () => [early, late], log: silentLog() });
  await second.start();
  t.teardown(() => second.close());
  t.equal(second.enqueuedThrough, 1500, 'caught up');
  t.equal(early.outbox.size + late.outbox.size, 0, 'nothing enqueued by the re-read');
  await journal.append('session.ended', session('s-end'));
  await second.pump();
  t.same([early.outbox.size, late.outbox.size], [1, 1], 'a wanted event reaches both');
  t.equal(await cursorOnDisk(root), 1501);
});
