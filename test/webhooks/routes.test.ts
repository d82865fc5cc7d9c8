// The webhook routes over inject, on a Fastify app with the production error, auth and OpenAPI
// plugins: 201 + Location with the secret once, reads without it, 404 webhook_not_found, 400 on
// bad input, 204 on delete, the deliveries list, the test route, scopes, and the spec.
import t, { type Test } from 'tap';
import { MemoryJournal } from '../fakes/memory-journal.js';
import { assertProblem, authHeader, eventually, tempDir } from '../helper.js';
import { appendEvents, buildWebhookApp, Receiver, startService, type Responder } from './helper.js';

async function setup(t: Test, respond?: Responder) {
  const receiver = await Receiver.start(t, respond);
  const journal = new MemoryJournal();
  const webhooks = await startService(t, { dataDir: await tempDir(t), journal, maxWebhooks: 3 });
  const app = await buildWebhookApp(t, webhooks);
  const post = (payload: unknown) => app.inject({ method: 'POST', url: '/v1/webhooks', headers: authHeader(), payload: payload as object });
  return { receiver, journal, webhooks, app, post };
}

t.test('create, read, list, delete', async (t) => {
  const { app, post, receiver } = await setup(t);
  const res = await post({ url: receiver.url, types: ['session.ended', 'session.started'], labels: { team: 'web' }, description: 'ops alerts' });
  t.equal(res.statusCode, 201);
  const created = res.json();
  t.equal(res.headers.location, `/v1/webhooks/${created.id}`);
  t.match(created.id, /^wh_[a-z0-9]{20}$/);
  t.match(created.secret, /^whsec_/);
  t.same(Object.keys(created).sort(), ['created_at', 'description', 'id', 'labels', 'secret', 'types', 'url']);
  t.match(created, { url: receiver.url, types: ['session.ended', 'session.started'], labels: { team: 'web' }, description: 'ops alerts' });

  const bare = (await post({ url: receiver.url })).json();
  t.match(bare, { types: null, labels: {}, description: null }, 'absent filters: every event; nulls, never missing keys');

  const one = await app.inject({ url: `/v1/webhooks/${created.id}`, headers: authHeader('read') });
  t.equal(one.statusCode, 200);
  const { secret: _secret, ...withoutSecret } = created;
  t.same(one.json(), withoutSecret, 'a read is the resource without the secret');

  const list = await app.inject({ url: '/v1/webhooks', headers: authHeader('read') });
  t.same(list.json().items.map((w: { id: string }) => w.id), [created.id, bare.id], 'oldest first');
  t.notMatch(list.body, /secret/);

  const del = await app.inject({ method: 'DELETE', url: `/v1/webhooks/${created.id}`, headers: authHeader() });
  t.equal(del.statusCode, 204);
  t.equal(del.body, '');
  assertProblem(t, await app.inject({ url: `/v1/webhooks/${created.id}`, headers: authHeader() }), 404, 'webhook_not_found');
  assertProblem(t, await app.inject({ method: 'DELETE', url: `/v1/webhooks/${created.id}`, headers: authHeader() }), 404, 'webhook_not_found');
});

t.test('unknown ids are 404 webhook_not_found on every route', async (t) => {
  const { app } = await setup(t);
  for (const [method, url] of [
    ['GET', '/v1/webhooks/wh_nothere'],
    ['DELETE', '/v1/webhooks/wh_nothere'],
    ['GET', '/v1/webhooks/wh_nothere/deliveries'],
    ['POST', '/v1/webhooks/wh_nothere/test'],
    ['GET', '/v1/webhooks/..%2F..%2Fetc'],
  ] as const) {
    assertProblem(t, await app.inject({ method, url, headers: authHeader() }), 404, 'webhook_not_found');
  }
  assertProblem(t, await app.inject({ url: `/v1/webhooks/${'x'.repeat(65)}`, headers: authHeader() }), 400, 'validation_failed');
});

t.test('bad bodies are 400 validation_failed', async (t) => {
  const { post, receiver, webhooks } = await setup(t);
  const bad: Array<[string, unknown]> = [
    ['no url', {}],
    ['an unknown field', { url: receiver.url, secret: 'whsec_mine' }],
    ['an unknown event type', { url: receiver.url, types: ['session.exploded'] }],
    ['webhook.test is not a filter', { url: receiver.url, types: ['webhook.test'] }],
    ['an empty types list', { url: receiver.url, types: [] }],
    ['a repeated type', { url: receiver.url, types: ['session.ended', 'session.ended'] }],
    ['a bad label key', { url: receiver.url, labels: { 'Bad Key': 'x' } }],
    ['a label value that is not a string', { url: receiver.url, labels: { team: 1 } }],
    ['a long description', { url: receiver.url, description: 'd'.repeat(501) }],
    ['a url that is not a string', { url: 42 }],
  ];
  for (const [what, payload] of bad) {
    const res = await post(payload);
    t.equal(res.statusCode, 400, what);
    t.equal(res.json().code, 'validation_failed', what);
  }
  t.same(webhooks.list(), []);
  t.equal((await post({ url: receiver.url, description: 'd'.repeat(500) })).statusCode, 201, '500 characters of description is fine');
});

t.test('the number of endpoints is bounded', async (t) => {
  const { post, receiver } = await setup(t);
  for (let i = 0; i < 3; i++) t.equal((await post({ url: receiver.url })).statusCode, 201);
  const res = await post({ url: receiver.url });
  t.equal(res.statusCode, 429);
  t.equal(res.json().code, 'limit_exceeded');
});

t.test('deliveries list and the test route', async (t) => {
  const { app, post, receiver, journal } = await setup(t, (r, count) => (r.json.seq === 1 && count === 1 ? 500 : 200));
  const { id } = (await post({ url: receiver.url })).json();
  const empty = await app.inject({ url: `/v1/webhooks/${id}/deliveries`, headers: authHeader('read') });
  t.same(empty.json(), { items: [] });

  await appendEvents(journal, 1);
  await receiver.delivered([1]);
  const items = await eventually(async () => {
    const res = await app.inject({ url: `/v1/webhooks/${id}/deliveries`, headers: authHeader('read') });
    const list = res.json().items as Array<Record<string, unknown>>;
    return list.length === 2 ? list : undefined;
  });
  t.match(items, [
    { webhook_id: id, event_seq: 1, event_type: 'session.started', message_id: `msg_${id}_1`, attempt: 2, status_code: 200, error: null, outcome: 'succeeded', next_retry_at: null },
    { event_seq: 1, attempt: 1, status_code: 500, outcome: 'failed', next_retry_at: String },
  ]);
  t.same(Object.keys(items[0] as object).sort(), ['attempt', 'attempted_at', 'duration_ms', 'error', 'event_seq', 'event_type', 'id', 'message_id', 'next_retry_at', 'outcome', 'status_code', 'webhook_id']);

  const test = await app.inject({ method: 'POST', url: `/v1/webhooks/${id}/test`, headers: authHeader() });
  t.equal(test.statusCode, 200);
  t.match(test.json(), { webhook_id: id, event_seq: 0, event_type: 'webhook.test', outcome: 'succeeded', status_code: 200 });
  const got = await receiver.waitFor((r) => r.json.type === 'webhook.test');
  t.match(got.json, { seq: 0, type: 'webhook.test', session: null });
});

t.test('scopes: reads need read, changes need write', async (t) => {
  const { app, receiver } = await setup(t);
  const anonymous = await app.inject({ method: 'GET', url: '/v1/webhooks' });
  assertProblem(t, anonymous, 401, 'unauthorized');
  const readOnly = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: authHeader('read'), payload: { url: receiver.url } });
  assertProblem(t, readOnly, 403, 'forbidden');
  t.equal((await app.inject({ url: '/v1/webhooks', headers: authHeader('read') })).statusCode, 200);
});

t.test('the spec documents every webhook route with its responses and components', async (t) => {
  const { app } = await setup(t);
  const spec = (await app.inject({ url: '/openapi.json' })).json();
  const expected: Record<string, Record<string, string[]>> = {
    '/v1/webhooks': { post: ['201', '400', '413', '415', '429', '500'], get: ['200'] },
    '/v1/webhooks/{id}': { get: ['200', '400', '404', '500'], delete: ['204', '400', '404', '500'] },
    '/v1/webhooks/{id}/deliveries': { get: ['200', '400', '404', '500'] },
    '/v1/webhooks/{id}/test': { post: ['200', '400', '404', '500', '503'] },
  };
  for (const [path, methods] of Object.entries(expected)) {
    for (const [method, codes] of Object.entries(methods)) {
      const op = spec.paths[path]?.[method];
      t.ok(op, `${method} ${path}`);
      t.same(op.tags, ['webhooks']);
      t.type(op.summary, 'string');
      for (const code of codes) t.ok(op.responses[code], `${method} ${path} documents ${code}`);
    }
  }
  t.ok(spec.tags.some((tag: { name: string }) => tag.name === 'webhooks'));
  for (const name of ['Webhook', 'WebhookCreated', 'WebhookList', 'WebhookDelivery', 'WebhookDeliveryList', 'WebhookTestEvent', 'CreateWebhookBody']) {
    t.ok(spec.components.schemas[name], `${name} is a component`);
  }
  t.notOk(spec.components.schemas.Webhook.properties.secret, 'the Webhook resource has no secret');
  t.same(spec.paths['/v1/webhooks'].post.security, [{ bearer: ['write'] }]);
  t.same(spec.paths['/v1/webhooks'].get.security, [{ bearer: ['read'] }]);
});
