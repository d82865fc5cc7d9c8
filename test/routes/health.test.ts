// Health routes and the error handler's promises: problem+json everywhere, no stack or path in a 5xx.
import t from 'tap';
import { assertProblem, buildFakeApp } from '../helper.js';
import { createMemoryStore } from '../fakes/memory-store.js';

t.test('healthz and readyz', async (t) => {
  const ctx = await buildFakeApp(t);
  const health = await ctx.app.inject({ url: '/healthz' });
  t.equal(health.statusCode, 200);
  t.same(health.json(), { status: 'ok' });
  const ready = await ctx.app.inject({ url: '/readyz' });
  t.equal(ready.statusCode, 200);
  t.same(ready.json(), { status: 'ok', sessions: 0, damaged_records: 0, containment: 'process-group', warnings: [] });
  // The probe's outcome answers for 5 s (test/security/readyz-probe.test.ts): a fresh app sees the failure.
  const failing = await buildFakeApp(t);
  failing.store.failProbe = true;
  assertProblem(t, await failing.app.inject({ url: '/readyz' }), 503, 'unavailable');
});

t.test('a fault inside answers 500 internal with no stack and no server path', async (t) => {
  const store = createMemoryStore();
  store.get = async () => {
    throw new Error('EACCES: permission denied, open /srv/secret/data/sessions/x/session.json');
  };
  const ctx = await buildFakeApp(t, { store });
  const res = await ctx.app.inject({ url: '/v1/sessions/some-id-1' });
  assertProblem(t, res, 500, 'internal');
  t.notMatch(res.body, /\/srv\/secret/);
  t.notMatch(res.body, /at .*\.js/);
  t.notMatch(res.body, /EACCES/);
});

t.test('the spec and the docs are served', async (t) => {
  const ctx = await buildFakeApp(t);
  const spec = await ctx.app.inject({ url: '/openapi.json' });
  t.equal(spec.statusCode, 200);
  t.equal(spec.json().openapi, '3.1.0');
  t.ok(spec.json().paths['/v1/sessions'], 'has the routes');
  const page = await ctx.app.inject({ url: '/docs/' });
  t.equal(page.statusCode, 200);
  t.match(String(page.headers['content-type']), /^text\/html/);
  t.match(page.body, /swagger-ui/i, 'Swagger UI answers');
});
