// The service watches and tells, end to end: a real server process, real sessions, /v1/events over
// a real socket, webhooks to a real receiver verified with the standardwebhooks package, and a
// kill -9 of the service while a session ends and the receiver is down.
import http from 'node:http';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Webhook } from 'standardwebhooks';
import { TEST_TOKENS, eventually } from '../helper.js';
import { deploy } from '../reliability/server-process.js';
import { SseClient, useToken, type SseEvent } from '../streaming/helper.js';

type Json = Record<string, any>;

const data = (e: SseEvent): Json => JSON.parse(e.data) as Json;
const lifecycle = (client: SseClient) => client.events.filter((e) => e.event.startsWith('session.'));
const forSession = (client: SseClient, id: string) => lifecycle(client).filter((e) => data(e).session.id === id);

/** Streams are opened with the read token: what a dashboard would hold. */
const readToken = () => useToken({ tokens: [{ token: TEST_TOKENS.read, scope: 'read' }] });

/** A webhook receiver on 127.0.0.1: answers 500 to the first `fail` deliveries, then 204. */
async function receiver(t: Test, options: { port?: number; fail?: number } = {}) {
  const deliveries: Array<{ headers: http.IncomingHttpHeaders; body: string; answered: number }> = [];
  const waiters = new Set<() => void>();
  let failures = options.fail ?? 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answered = failures > 0 ? 500 : 204;
      if (failures > 0) failures -= 1;
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered });
      res.writeHead(answered).end();
      for (const w of [...waiters]) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/hook`,
    deliveries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    until: (predicate: () => boolean, ms = 20_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!predicate()) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`receiver: condition not met within ${ms} ms (${deliveries.length} deliveries)`));
        }, ms);
        waiters.add(check);
        check();
      }),
  };
}

t.test('an end with nobody reading arrives as an event within 1 s, after created and started', async (t) => {
  const d = await deploy(t);
  const server = await d.start();
  readToken();
  const events = await SseClient.open(`${server.url}/v1/events`);
  t.teardown(() => events.abort());
  t.equal(events.status, 200);
  const flag = path.join(d.root, 'go');
  const session = await d.run(`while [ ! -e ${flag} ]; do sleep 0.02; done; exit 3`, { labels: { team: 'a' } });
  await events.until((c) => forSession(c, session.id).length >= 2, 10_000, 'created and started');
  await writeFile(flag, '');
  await events.until((c) => forSession(c, session.id).length >= 3, 10_000, 'ended');
  const arrived = Date.now();
  const mine = forSession(events, session.id);
  t.same(mine.map((e) => e.event), ['session.created', 'session.started', 'session.ended']);
  const ended = data(mine[2] as SseEvent);
  t.match(ended.session, { status: 'exited', exit_code: 3, labels: { team: 'a' } });
  t.ok(arrived - Date.parse(ended.session.stopped_at) < 1000, `heard ${arrived - Date.parse(ended.session.stopped_at)} ms after the end`);
  const seqs = mine.map((e) => Number(e.id));
  t.ok(seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as number)), 'ids strictly increase');
  t.same(seqs, mine.map((e) => data(e).seq), 'the id is the seq');
});

t.test('resume with Last-Event-ID or since: no gap, no duplicate; label and type filters', async (t) => {
  const d = await deploy(t);
  const server = await d.start();
  readToken();
  const a = await d.run('exit 0', { labels: { team: 'a' } });
  const b = await d.run('exit 0', { labels: { team: 'b' } });
  await d.waitEnded(a.id);
  await d.waitEnded(b.id);
  const all = await SseClient.open(`${server.url}/v1/events?since=0`);
  t.teardown(() => all.abort());
  await all.until((c) => lifecycle(c).length >= 6, 10_000, 'six events');
  const full = lifecycle(all).map((e) => Number(e.id));
  const cut = full[2] as number;
  const resumed = await SseClient.open(`${server.url}/v1/events`, { headers: { 'last-event-id': String(cut) } });
  t.teardown(() => resumed.abort());
  await resumed.until((c) => lifecycle(c).length >= full.length - 3, 10_000, 'the rest');
  t.same(lifecycle(resumed).map((e) => Number(e.id)), full.slice(3), 'exactly the events after the cut');
  const since = await SseClient.open(`${server.url}/v1/events?since=${cut}`);
  t.teardown(() => since.abort());
  await since.until((c) => lifecycle(c).length >= full.length - 3, 10_000, 'the rest');
  t.same(lifecycle(since).map((e) => Number(e.id)), full.slice(3), '?since= alike');

  const onlyA = await SseClient.open(`${server.url}/v1/events?since=0&label=team=a&types=session.ended`);
  t.teardown(() => onlyA.abort());
  const c = await d.run('exit 0', { labels: { team: 'a' } });
  await onlyA.until((x) => lifecycle(x).some((e) => data(e).session.id === c.id), 10_000, 'the third session ends');
  t.ok(lifecycle(onlyA).every((e) => e.event === 'session.ended' && data(e).session.labels.team === 'a'), 'only ended events of team a');
  t.same(lifecycle(onlyA).map((e) => data(e).session.id), [a.id, c.id]);
});

t.test('a webhook receiver that fails twice gets the delivery on the third try, signed', async (t) => {
  const d = await deploy(t, { env: { SESSIOND_WEBHOOK_RETRY_MS: '50' } });
  await d.start();
  const hook = await receiver(t, { fail: 2 });
  const created = await d.request('POST', '/v1/webhooks', { body: { url: hook.url, types: ['session.ended'] } });
  t.equal(created.status, 201);
  const secret = created.json().secret as string;
  t.match(secret, /^whsec_[A-Za-z0-9+/=]{32,}$/);
  const session = await d.run('exit 4');
  await hook.until(() => hook.deliveries.some((x) => x.answered === 204));
  t.same(hook.deliveries.map((x) => x.answered), [500, 500, 204]);
  const ids = new Set(hook.deliveries.map((x) => x.headers['webhook-id']));
  t.equal(ids.size, 1, 'one webhook-id across the retries');
  const verifier = new Webhook(secret);
  for (const delivery of hook.deliveries) {
    const event = verifier.verify(delivery.body, delivery.headers as Record<string, string>) as Json;
    t.match(event, { type: 'session.ended', session: { id: session.id, exit_code: 4 } }, 'signature verified');
  }
  const log = await eventually(async () => {
    const res = (await d.request('GET', `/v1/webhooks/${created.json().id}/deliveries`)).json();
    return res.items?.some((x: Json) => x.outcome === 'succeeded') ? res : undefined;
  });
  t.ok(log.items.length >= 3, 'the deliveries log shows the attempts');
});

t.test('kill -9 while the receiver is down and a session ends: after the restart the end is an event and is delivered once', async (t) => {
  const d = await deploy(t, { env: { SESSIOND_WEBHOOK_RETRY_MS: '50' } });
  await d.start();
  // Reserve a port for the receiver, then leave it closed: deliveries fail until it is up.
  const probe = await receiver(t);
  const port = probe.port;
  await probe.close();
  const created = await d.request('POST', '/v1/webhooks', { body: { url: `http://127.0.0.1:${port}/hook` } });
  const secret = created.json().secret as string;
  const flag = path.join(d.root, 'finish');
  const session = await d.run(`while [ ! -e ${flag} ]; do sleep 0.02; done; exit 9`);
  await d.server.kill('SIGKILL');
  // The session ends while nothing watches it: its keeper records the exit code.
  await writeFile(flag, '');
  await eventually(async () => {
    try {
      process.kill(session.pid as number, 0);
      return undefined;
    } catch {
      return true;
    }
  });
  const hook = await receiver(t, { port });
  const server = await d.start();
  readToken();
  await hook.until(() => hook.deliveries.some((x) => JSON.parse(x.body).type === 'session.ended'));
  const verifier = new Webhook(secret);
  const events = hook.deliveries.map((x) => verifier.verify(x.body, x.headers as Record<string, string>) as Json);
  t.same(events.map((e) => e.type), ['session.created', 'session.started', 'session.ended'], 'every event, in order');
  t.match(events[2], { session: { id: session.id, status: 'exited', exit_code: 9 } }, 'the end has the right exit code');
  const succeeded = hook.deliveries.filter((x) => x.answered === 204).map((x) => x.headers['webhook-id']);
  t.equal(new Set(succeeded).size, succeeded.length, 'each webhook-id succeeded once');
  const stream = await SseClient.open(`${server.url}/v1/events?since=0`);
  t.teardown(() => stream.abort());
  await stream.until((c) => forSession(c, session.id).length >= 3, 10_000, 'the journal has it too');
  t.match(data(forSession(stream, session.id)[2] as SseEvent).session, { status: 'exited', exit_code: 9 });
});
