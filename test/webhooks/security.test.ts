// What must never leak or be accepted: the secret in a log, the URL's credentials in an answer or
// a log line, a readable secret file, a URL that is not http(s).
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { maskUrl, parseWebhookUrl, requestTarget } from '../../src/events/webhooks/url.js';
import { MemoryJournal } from '../fakes/memory-journal.js';
import { authHeader, eventually, tempDir } from '../helper.js';
import { appendEvents, buildWebhookApp, captureLog, Receiver, startService } from './helper.js';

t.test('the secret and the URL credentials never reach the log, whatever happens', async (t) => {
  const receiver = await Receiver.start(t, (_r, count) => (count === 1 ? 500 : 200));
  const capture = captureLog();
  const journal = new MemoryJournal();
  const webhooks = await startService(t, { dataDir: await tempDir(t), journal, log: capture.log });
  const app = await buildWebhookApp(t, webhooks, capture.stream);
  const url = receiver.url.replace('http://', 'http://alice:pa%24%24word-9f3@');

  const res = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: authHeader(), payload: { url } });
  t.equal(res.statusCode, 201);
  const { id, secret, url: shown } = res.json();
  t.equal(shown, receiver.url.replace('http://', 'http://***@'), 'the answer masks the credentials');

  // A failure then a success, a test event, a failing test, a listing, a deletion: every code path that logs.
  await appendEvents(journal, 1);
  await receiver.delivered([1]);
  const sent = await receiver.waitFor((r) => r.status === 200);
  t.equal(sent.headers.authorization, `Basic ${Buffer.from('alice:pa$$word-9f3').toString('base64')}`, 'credentials are sent as Basic auth');
  await app.inject({ method: 'POST', url: `/v1/webhooks/${id}/test`, headers: authHeader() });
  receiver.respond = () => 500;
  await app.inject({ method: 'POST', url: `/v1/webhooks/${id}/test`, headers: authHeader() });
  for (const path of ['/v1/webhooks', `/v1/webhooks/${id}`, `/v1/webhooks/${id}/deliveries`]) {
    const read = await app.inject({ url: path, headers: authHeader('read') });
    t.equal(read.statusCode, 200);
    t.notMatch(read.body, secret, `${path} has no secret`);
    t.notMatch(read.body, 'pa%24%24word', `${path} has no password`);
    t.notMatch(read.body, 'alice', `${path} has no user name`);
  }
  await app.inject({ method: 'DELETE', url: `/v1/webhooks/${id}`, headers: authHeader() });

  const log = capture.text();
  t.match(log, /webhook created/, 'the log was captured');
  t.match(log, /webhook delivery failed/);
  t.match(log, /\*\*\*@127\.0\.0\.1/, 'URLs are logged masked');
  t.notMatch(log, secret, 'no secret');
  t.notMatch(log, secret.slice('whsec_'.length), 'not even its base64 part');
  t.notMatch(log, /pa%24%24word|pa\$\$word|alice/, 'no credentials');
});

t.test('files: the secret is in a 0600 file, in 0700 folders', async (t) => {
  const dataDir = await tempDir(t);
  const webhooks = await startService(t, { dataDir, journal: new MemoryJournal() });
  const { id, secret } = await webhooks.create({ url: 'https://example.com/hook' });
  const dir = join(dataDir, 'webhooks', id);
  const holders: string[] = [];
  for (const name of await readdir(dir)) {
    if ((await readFile(join(dir, name), 'utf8')).includes(secret)) holders.push(name);
  }
  t.same(holders, ['endpoint.json'], 'the secret is kept in one file');
  t.equal((await stat(join(dir, 'endpoint.json'))).mode & 0o777, 0o600, 'endpoint.json is 0600');
  t.equal((await stat(dir)).mode & 0o777, 0o700, 'its folder is 0700');
  t.equal((await stat(join(dataDir, 'webhooks'))).mode & 0o777, 0o700, 'the webhooks folder is 0700');
});

t.test('only http and https URLs, parsed and bounded', async (t) => {
  const webhooks = await startService(t, { dataDir: await tempDir(t), journal: new MemoryJournal() });
  const app = await buildWebhookApp(t, webhooks);
  for (const url of ['file:///etc/passwd', 'ftp://example.com/x', 'javascript:alert(1)', 'data:text/plain,hi', 'http://', 'https://exa mple.com/', 'http:/example.com', 'example.com/hook', `https://example.com/${'a'.repeat(2048)}`]) {
    const res = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: authHeader(), payload: { url } });
    t.equal(res.statusCode, 400, `${url.slice(0, 40)} is refused`);
    t.equal(res.json().code, 'validation_failed');
  }
  t.same(webhooks.list(), [], 'nothing was registered');
  t.equal(parseWebhookUrl('HTTPS://Example.COM/a b'), 'https://example.com/a%20b', 'kept normalized');
  t.throws(() => parseWebhookUrl('gopher://example.com/'), { code: 'validation_failed' }, 'the service checks too, not only the schema');
});

t.test('masking and sending URLs with credentials', async (t) => {
  t.equal(maskUrl('https://u:p@example.com:8443/x?y=1'), 'https://***@example.com:8443/x?y=1');
  t.equal(maskUrl('https://token@example.com/'), 'https://***@example.com/', 'a user name alone is a credential too');
  t.equal(maskUrl('https://example.com/'), 'https://example.com/', 'nothing to mask');
  t.same(requestTarget('https://us%40er:p%3Ass@example.com/x#frag'), {
    url: 'https://example.com/x',
    authorization: `Basic ${Buffer.from('us@er:p:ss').toString('base64')}`,
  });
  t.same(requestTarget('http://example.com/x'), { url: 'http://example.com/x', authorization: null });
});

t.test('the outbox and the deliveries log hold no secret', async (t) => {
  const receiver = await Receiver.start(t, () => 500);
  const dataDir = await tempDir(t);
  const journal = new MemoryJournal();
  const webhooks = await startService(t, { dataDir, journal });
  const { id, secret } = await webhooks.create({ url: receiver.url });
  await appendEvents(journal, 1);
  await eventually(() => (webhooks.deliveries(id).items.length > 0 ? true : undefined));
  const onDisk = await readFile(join(dataDir, 'webhooks', id, 'deliveries.jsonl'), 'utf8');
  t.notMatch(onDisk, secret, 'the deliveries log holds no secret');
  t.notMatch(await readFile(join(dataDir, 'webhooks', id, 'outbox.jsonl'), 'utf8'), secret, 'nor does the outbox');
});
