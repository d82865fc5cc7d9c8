// The webhook timing the contract fixes (api.md, Webhooks): `SESSIOND_WEBHOOK_RETRY_MS` (default
// 5000) sets the first retry delay, and "a delivery times out after 10 s". Checked in the config,
// and through the whole app (config -> app.ts -> webhook service -> a real receiver), since a
// value read but never passed on would pass a config test alone. The delivery timeout has no
// setting in the contract: its default is the service's, so it is checked through the app too.
import t, { type Test } from 'tap';
import type { WebhookDelivery } from '../../schemas/webhooks.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { DEFAULT_FIRST_RETRY_MS } from '../../src/events/webhooks/backoff.js';
import { DEFAULT_DELIVERY_TIMEOUT_MS } from '../../src/events/webhooks/sender.js';
import { MemoryJournal } from '../fakes/memory-journal.js';
import { buildFakeApp, eventually, tempDir, type FakeApp } from '../helper.js';
import { appendEvents, Receiver, startService, type Responder } from './helper.js';

/** The app on the fakes with a webhook to a real receiver, then one session started (created + started events). */
async function appWithHook(t: Test, env: Record<string, string>, respond: Responder) {
  const receiver = await Receiver.start(t, respond);
  const ctx = await buildFakeApp(t, { env });
  const created = await ctx.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: receiver.url } });
  t.equal(created.statusCode, 201, 'the webhook is registered');
  const hookId = created.json().id as string;
  const started = await ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'hooked', working_directory: ctx.root, command: 'bash', args: [] } });
  t.equal(started.statusCode, 201, 'a session starts (its events go to the webhook)');
  return { ctx, receiver, hookId };
}

/** The deliveries log, oldest first, once `ready` accepts it. */
async function deliveries(ctx: FakeApp, hookId: string, ready: (items: WebhookDelivery[]) => boolean): Promise<WebhookDelivery[]> {
  return eventually(async () => {
    const res = await ctx.app.inject({ url: `/v1/webhooks/${hookId}/deliveries` });
    const items = (res.json().items as WebhookDelivery[]).slice().reverse();
    return ready(items) ? items : undefined;
  }, 20_000);
}

/** Milliseconds from a failed attempt to the retry it scheduled (the jittered delay, plus the attempt's own time). */
const scheduledDelay = (d: WebhookDelivery) => Date.parse(d.next_retry_at as string) - Date.parse(d.attempted_at);

t.test('config: SESSIOND_WEBHOOK_RETRY_MS is 5000 by default, takes a value, refuses nonsense', async (t) => {
  t.equal(loadConfig({}, '/w').webhookRetryMs, 5000, 'the contract’s default');
  t.equal(DEFAULT_FIRST_RETRY_MS, 5000, 'the service’s own default agrees');
  t.equal(loadConfig({ SESSIOND_WEBHOOK_RETRY_MS: '250' }, '/w').webhookRetryMs, 250);
  t.equal(loadConfig({ SESSIOND_WEBHOOK_RETRY_MS: ' 60000 ' }, '/w').webhookRetryMs, 60000);
  t.throws(() => loadConfig({ SESSIOND_WEBHOOK_RETRY_MS: '0' }, '/w'), /SESSIOND_WEBHOOK_RETRY_MS must be between/);
  t.throws(() => loadConfig({ SESSIOND_WEBHOOK_RETRY_MS: 'soon' }, '/w'), /SESSIOND_WEBHOOK_RETRY_MS must be a whole number/);
  t.throws(() => loadConfig({ SESSIOND_WEBHOOK_RETRY_MS: '-5' }, '/w'), ConfigError);
});

t.test('through the app: a failed delivery is retried after SESSIOND_WEBHOOK_RETRY_MS (default 5 s), less jitter', async (t) => {
  // The backoff takes up to a quarter off the nominal delay: the first retry is due within
  // (0.75 * first, first] after the attempt ended. Read from the deliveries log, not waited for.
  for (const [env, first] of [
    [{}, 5000],
    [{ SESSIOND_WEBHOOK_RETRY_MS: '60000' }, 60_000],
  ] as const) {
    const { ctx, hookId } = await appWithHook(t, env, () => 500);
    const [failed] = await deliveries(ctx, hookId, (items) => items.length >= 1);
    t.match(failed, { attempt: 1, outcome: 'failed', status_code: 500 });
    const delay = scheduledDelay(failed as WebhookDelivery);
    const slack = (failed?.duration_ms ?? 0) + 20;
    t.ok(delay >= 0.75 * first && delay <= first + slack, `retry ${delay} ms after the first attempt, for a first delay of ${first}`);
  }
});

t.test('through the app: with SESSIOND_WEBHOOK_RETRY_MS=200 the retry really comes that soon, with the same webhook-id', async (t) => {
  const first = 200;
  const { ctx, receiver, hookId } = await appWithHook(t, { SESSIOND_WEBHOOK_RETRY_MS: String(first) }, (_r, count) => (count === 1 ? 503 : 200));
  const log = await deliveries(ctx, hookId, (items) => items.some((d) => d.outcome === 'succeeded'));
  const [failed, succeeded] = log;
  t.match(failed, { attempt: 1, outcome: 'failed', status_code: 503 });
  t.match(succeeded, { attempt: 2, outcome: 'succeeded', status_code: 200, message_id: failed?.message_id });
  t.same(
    receiver.received.filter((r) => r.webhookId === failed?.message_id).map((r) => r.status),
    [503, 200],
    'the receiver saw the same webhook-id fail once, then succeed',
  );
  const delay = scheduledDelay(failed as WebhookDelivery);
  t.ok(delay >= 0.75 * first && delay <= first + (failed?.duration_ms ?? 0) + 20, `the retry was scheduled ${delay} ms after the attempt`);
  const gap = Date.parse(succeeded?.attempted_at as string) - Date.parse(failed?.attempted_at as string);
  t.ok(gap >= 0.75 * first - 5, `and made no earlier than that (${gap} ms later)`);
});

t.test('the delivery timeout is 10 s by default, through the app (there is no setting for it)', async (t) => {
  t.equal(DEFAULT_DELIVERY_TIMEOUT_MS, 10_000);
  t.notOk(Object.keys(loadConfig({}, '/w')).some((key) => /webhook.*timeout/i.test(key)), 'the config has no webhook timeout: the contract names none');
  // A receiver that takes the request and never answers; a long first retry delay, so the one
  // attempt is all the test sees.
  let requests = 0;
  const { ctx, hookId } = await appWithHook(t, { SESSIOND_WEBHOOK_RETRY_MS: '3600000' }, () => {
    requests += 1;
    return new Promise<number>(() => undefined);
  });
  const [timedOut] = await deliveries(ctx, hookId, (items) => items.length >= 1);
  t.match(timedOut, { attempt: 1, outcome: 'failed', status_code: null, error: 'timed out after 10000 ms' });
  t.ok((timedOut?.duration_ms ?? 0) >= 9990, `the attempt waited the full 10 s (${timedOut?.duration_ms} ms)`);
  t.equal(requests, 1, 'the receiver had the request (it never answered): the wait was for its answer');
});

t.test('the service’s timeoutMs option changes the limit (what a setting would pass on)', async (t) => {
  let requests = 0;
  const receiver = await Receiver.start(t, () => {
    requests += 1;
    return new Promise<number>(() => undefined);
  });
  const journal = new MemoryJournal();
  const service = await startService(t, { dataDir: await tempDir(t), journal, timeoutMs: 150, firstRetryMs: 3_600_000 });
  const created = await service.create({ url: receiver.url });
  await appendEvents(journal, 1);
  const [attempt] = await eventually(() => {
    const items = service.deliveries(created.id).items;
    return items.length >= 1 ? items : undefined;
  });
  t.match(attempt, { outcome: 'failed', status_code: null, error: 'timed out after 150 ms' });
  t.ok((attempt?.duration_ms ?? 0) >= 145, `cut off at the limit (${attempt?.duration_ms} ms)`);
  t.equal(requests, 1, 'the receiver had the request');
});
