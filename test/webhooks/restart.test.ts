// Restarts and crashes lose no delivery: a service SIGKILLed while its receiver is down delivers
// everything once a new one starts on the same data dir (each webhook-id succeeding once, in
// order, even with a torn last outbox line); events appended while no service ran are delivered
// after it starts; the deliveries log is still there.
import { spawn } from 'node:child_process';
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { MemoryJournal } from '../fakes/memory-journal.js';
import { eventually, tempDir } from '../helper.js';
import { appendEvents, Receiver, startService, verifies } from './helper.js';

const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url));

t.test('kill -9 with deliveries pending: a new service on the same data dir delivers them all, once each', async (t) => {
  let down = true;
  const receiver = await Receiver.start(t, () => (down ? 503 : 200));
  const dataDir = await tempDir(t);

  const child = spawn(process.execPath, [CHILD, dataDir, receiver.url, '3'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  t.teardown(() => void child.kill('SIGKILL'));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0] as string);
    });
    child.once('exit', () => reject(new Error('the child exited before it was ready')));
  });
  const { id, secret } = JSON.parse(line) as { id: string; secret: string };
  // The head has been retried, so its retry state is on disk too; then the process dies at once.
  await receiver.waitFor((r) => r.json.seq === 1 && receiver.received.filter((x) => x.json.seq === 1).length >= 2);
  child.kill('SIGKILL');
  t.equal(await exited, 'SIGKILL', 'the service was killed, not closed');
  t.notOk(receiver.succeeded().length, 'nothing was delivered before the crash');

  // A crash in the middle of an append leaves half a line; it must not cost what came before.
  await appendFile(join(dataDir, 'webhooks', id, 'outbox.jsonl'), '{"op":"retry","seq":1,"att');

  // The journal after the restart: the same events (seq 1-3), and two appended while no service ran.
  const journal = new MemoryJournal();
  await appendEvents(journal, 5);
  down = false;
  const service = await startService(t, { dataDir, journal });
  await receiver.delivered([1, 2, 3, 4, 5]);

  const succeeded = receiver.succeeded();
  t.same(succeeded.map((r) => r.webhookId), [1, 2, 3, 4, 5].map((seq) => `msg_${id}_${seq}`), 'each webhook-id succeeded once, in order');
  t.ok(succeeded.every((r) => verifies(secret, r)), 'signed with the secret from before the crash');
  const seq1 = receiver.received.filter((r) => r.json.seq === 1).map((r) => r.webhookId);
  t.equal(new Set(seq1).size, 1, 'the same webhook-id before and after the crash');

  // The receiver answers before the service records: wait for the last record.
  const log = await eventually(() => {
    const items = service.deliveries(id).items;
    return items.some((d) => d.event_seq === 5) ? items : undefined;
  });
  // The first attempt was recorded before the second was sent (the kill may cut the second's record).
  t.ok(log.some((d) => d.event_seq === 1 && d.outcome === 'failed' && d.attempt === 1), 'attempts made before the crash are still in the deliveries log');
  t.ok(log.some((d) => d.event_seq === 1 && d.outcome === 'succeeded' && d.attempt >= 2), 'the attempt count went on from before the crash');
  const outbox = await readFile(join(dataDir, 'webhooks', id, 'outbox.jsonl'), 'utf8');
  t.ok(outbox.endsWith('\n') && outbox.split('\n').slice(0, -1).every((l) => JSON.parse(l)), 'the torn outbox was repaired');
});

t.test('closed, then events appended while it was down: delivered after it starts, nothing twice', async (t) => {
  const receiver = await Receiver.start(t);
  const dataDir = await tempDir(t);
  const journal = new MemoryJournal();
  const first = await startService(t, { dataDir, journal });
  const created = await first.create({ url: receiver.url });
  await appendEvents(journal, 1);
  await receiver.delivered([1]);
  // The receiver answers before the service records: a close before that would cut the attempt
  // off, and it would rightly be made again (at least once). Closed once it is settled.
  await eventually(() => (first.deliveries(created.id).items.length === 1 ? true : undefined));
  await first.close();

  await appendEvents(journal, 2);
  const second = await startService(t, { dataDir, journal });
  await receiver.delivered([2, 3]);
  t.same(receiver.received.map((r) => r.webhookId), [1, 2, 3].map((seq) => `msg_${created.id}_${seq}`), 'each event once, in order');
  t.same(second.list().map((w) => w.id), [created.id], 'the endpoint is back');
  await eventually(() => (second.deliveries(created.id).items.length === 3 ? true : undefined));
  t.same(second.deliveries(created.id).items.map((d) => d.event_seq), [3, 2, 1], 'its deliveries log goes on');
});

t.test('closing with a retry pending, then starting again: the retry is made', async (t) => {
  const receiver = await Receiver.start(t, (_r, count) => (count === 1 ? 500 : 200));
  const dataDir = await tempDir(t);
  const journal = new MemoryJournal();
  const first = await startService(t, { dataDir, journal, firstRetryMs: 60_000, maxRetryDelayMs: 60_000 });
  const created = await first.create({ url: receiver.url });
  await appendEvents(journal, 1);
  await receiver.waitFor((r) => r.status === 500);
  await first.close();

  // The retry is due in a minute; a clock a minute ahead makes it due now.
  const later = () => new Date(Date.now() + 61_000);
  await startService(t, { dataDir, journal, clock: later });
  const [delivered] = await receiver.delivered([1]);
  t.equal(delivered?.webhookId, `msg_${created.id}_1`);
});
