// A webhook service in a process of its own, for the crash test to SIGKILL: it registers an
// endpoint, appends events to its memory journal, prints the endpoint once they are all in the
// outbox, and goes on retrying (the receiver is down) until it is killed.
// argv: <dataDir> <receiver url> <event count>
import pino from 'pino';
import { createWebhookService } from '../../src/events/webhooks/service.js';
import { MemoryJournal } from '../fakes/memory-journal.js';
import { appendEvents } from './helper.js';

const [dataDir, url, count] = process.argv.slice(2) as [string, string, string];
const journal = new MemoryJournal();
const service = createWebhookService({ dataDir, journal, log: pino({ level: 'silent' }), firstRetryMs: 20, maxRetryDelayMs: 50 });
await service.init();
const created = await service.create({ url });
const seqs = await appendEvents(journal, Number(count));
while (service.enqueuedThrough() < (seqs.at(-1) ?? 0)) await new Promise((resolve) => setTimeout(resolve, 5));
process.stdout.write(`${JSON.stringify({ id: created.id, secret: created.secret })}\n`);
setInterval(() => undefined, 1 << 30);
