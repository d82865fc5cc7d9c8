// GET /metrics over inject: the contract's metrics with their types, gauges read from the
// sources, counters fed by lifecycle events, HTTP metrics by route pattern, auth, and no id,
// label value, token or path in any label.
import t from 'tap';
import { SESSION_STATUSES } from '../../schemas/session.js';
import { createMetrics } from '../../src/metrics/registry.js';
import { assertProblem, TEST_TOKENS } from '../helper.js';
import { familySamples, parseExposition, sampleValue } from './exposition.js';
import { buildMetricsApp, eventFor, fakeSources, readAuth, type MetricsApp } from './helper.js';

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

async function scrape({ app }: MetricsApp) {
  const res = await app.inject({ method: 'GET', url: '/metrics', headers: readAuth });
  if (res.statusCode !== 200) throw new Error(`scrape answered ${res.statusCode}: ${res.body}`);
  return { res, exposition: parseExposition(res.body) };
}

t.test('every metric of the contract is there, with its type', async (t) => {
  const ctx = await buildMetricsApp(t);
  const { res, exposition } = await scrape(ctx);
  t.equal(res.headers['content-type'], CONTENT_TYPE);
  const expected: Record<string, string> = {
    sessiond_sessions: 'gauge',
    sessiond_session_starts_total: 'counter',
    sessiond_session_ends_total: 'counter',
    sessiond_session_duration_seconds: 'histogram',
    sessiond_start_seconds: 'histogram',
    sessiond_queue_length: 'gauge',
    sessiond_stream_clients: 'gauge',
    sessiond_webhook_deliveries_total: 'counter',
    sessiond_log_bytes: 'gauge',
    sessiond_http_requests_total: 'counter',
    sessiond_http_request_duration_seconds: 'histogram',
    // The process's own default metrics, under their standard names.
    process_cpu_seconds_total: 'counter',
    process_resident_memory_bytes: 'gauge',
    process_start_time_seconds: 'gauge',
    nodejs_eventloop_lag_seconds: 'gauge',
    nodejs_heap_size_used_bytes: 'gauge',
  };
  for (const [name, type] of Object.entries(expected)) t.equal(exposition.types.get(name), type, `${name} is a ${type}`);
  t.equal(sampleValue(exposition, 'sessiond_session_starts_total'), 0, 'no start yet');
  t.equal(sampleValue(exposition, 'sessiond_start_seconds_count'), 0);
});

t.test('the gauges say what the sources say, every status and kind present', async (t) => {
  const ctx = await buildMetricsApp(t);
  let { exposition } = await scrape(ctx);
  for (const status of [...SESSION_STATUSES, 'queued']) {
    t.equal(sampleValue(exposition, 'sessiond_sessions', { status }), 0, `${status}: 0 when none`);
  }
  t.equal(sampleValue(exposition, 'sessiond_stream_clients', { kind: 'logs' }), 0);
  t.equal(sampleValue(exposition, 'sessiond_stream_clients', { kind: 'events' }), 0);

  ctx.sources.sessions = { running: 3, queued: 2, completed: 7 };
  ctx.sources.queue = 2;
  ctx.sources.streams = { logs: 4, events: 1 };
  ctx.sources.bytes = { stdout: 123456, stderr: 789 };
  ({ exposition } = await scrape(ctx));
  t.equal(sampleValue(exposition, 'sessiond_sessions', { status: 'running' }), 3);
  t.equal(sampleValue(exposition, 'sessiond_sessions', { status: 'queued' }), 2);
  t.equal(sampleValue(exposition, 'sessiond_sessions', { status: 'completed' }), 7);
  t.equal(sampleValue(exposition, 'sessiond_sessions', { status: 'failed' }), 0);
  t.equal(sampleValue(exposition, 'sessiond_queue_length'), 2);
  t.equal(sampleValue(exposition, 'sessiond_stream_clients', { kind: 'logs' }), 4);
  t.equal(sampleValue(exposition, 'sessiond_stream_clients', { kind: 'events' }), 1);
  t.equal(sampleValue(exposition, 'sessiond_log_bytes', { stream: 'stdout' }), 123456);
  t.equal(sampleValue(exposition, 'sessiond_log_bytes', { stream: 'stderr' }), 789);

  // A status that goes away falls back to 0 rather than keeping its last value; one the list
  // does not know yet (a status added later) still shows.
  ctx.sources.sessions = { completed: 8, paused: 1 };
  ({ exposition } = await scrape(ctx));
  t.equal(sampleValue(exposition, 'sessiond_sessions', { status: 'running' }), 0);
  t.equal(sampleValue(exposition, 'sessiond_sessions', { status: 'completed' }), 8);
  t.equal(sampleValue(exposition, 'sessiond_sessions', { status: 'paused' }), 1);
});

t.test('lifecycle events move the start and end counters and the duration histogram', async (t) => {
  const ctx = await buildMetricsApp(t);
  const started = '2025-01-02T03:00:00.000Z';
  ctx.metrics.observeEvent(eventFor('session.created', { id: 'a-1', status: 'starting', started_at: started }, 1));
  ctx.metrics.observeEvent(eventFor('session.started', { id: 'a-1', started_at: started }, 2));
  ctx.metrics.observeEvent(eventFor('session.started', { id: 'b-2', started_at: started }, 3));
  ctx.metrics.observeEvent(eventFor('session.status', { id: 'a-1', status: 'running' }, 4));
  ctx.metrics.observeEvent(
    eventFor('session.ended', { id: 'a-1', status: 'exited', started_at: started, stopped_at: '2025-01-02T03:00:30.000Z', stop_reason: null }, 5),
  );
  ctx.metrics.observeEvent(
    eventFor('session.ended', { id: 'b-2', status: 'stopped', started_at: started, stopped_at: '2025-01-02T05:00:00.000Z', stop_reason: 'max_runtime' }, 6),
  );
  ctx.metrics.observeEvent(eventFor('session.deleted', { id: 'a-1', status: 'exited' }, 7));
  ctx.metrics.observeStart(0.2);
  ctx.metrics.observeStart(3);

  const { exposition } = await scrape(ctx);
  t.equal(sampleValue(exposition, 'sessiond_session_starts_total'), 2, 'two starts; created and status do not count');
  t.equal(sampleValue(exposition, 'sessiond_session_ends_total', { status: 'exited', stop_reason: 'none' }), 1, 'ended by itself: none');
  t.equal(sampleValue(exposition, 'sessiond_session_ends_total', { status: 'stopped', stop_reason: 'max_runtime' }), 1);
  t.equal(familySamples(exposition, 'sessiond_session_ends_total').length, 2, 'deleted is not an end');
  t.equal(sampleValue(exposition, 'sessiond_session_duration_seconds_count'), 2);
  t.equal(sampleValue(exposition, 'sessiond_session_duration_seconds_sum'), 30 + 7200);
  t.equal(sampleValue(exposition, 'sessiond_session_duration_seconds_bucket', { le: '60' }), 1, '30 s is under a minute');
  t.equal(sampleValue(exposition, 'sessiond_session_duration_seconds_bucket', { le: '+Inf' }), 2);
  t.equal(sampleValue(exposition, 'sessiond_start_seconds_count'), 2);
  t.equal(sampleValue(exposition, 'sessiond_start_seconds_bucket', { le: '0.25' }), 1);
  t.equal(sampleValue(exposition, 'sessiond_start_seconds_sum'), 3.2);
});

t.test('webhook outcomes are counted; anything but a short word counts as other', async (t) => {
  const ctx = await buildMetricsApp(t);
  ctx.metrics.webhookAttempt('delivered');
  ctx.metrics.webhookAttempt('delivered');
  ctx.metrics.webhookAttempt('failed');
  ctx.metrics.webhookAttempt('connect ECONNREFUSED 10.0.0.1:443');
  const { exposition } = await scrape(ctx);
  t.equal(sampleValue(exposition, 'sessiond_webhook_deliveries_total', { outcome: 'delivered' }), 2);
  t.equal(sampleValue(exposition, 'sessiond_webhook_deliveries_total', { outcome: 'failed' }), 1);
  t.equal(sampleValue(exposition, 'sessiond_webhook_deliveries_total', { outcome: 'other' }), 1);
  t.notMatch((await scrape(ctx)).res.body, /ECONNREFUSED/);
});

t.test('HTTP metrics are labelled by route pattern, unmatched for unknown paths', async (t) => {
  const ctx = await buildMetricsApp(t);
  for (const id of ['first-aaa111', 'second-bbb222']) {
    t.equal((await ctx.app.inject({ method: 'GET', url: `/v1/sessions/${id}`, headers: readAuth })).statusCode, 200);
  }
  t.equal((await ctx.app.inject({ method: 'GET', url: '/no/such/path-ccc333', headers: readAuth })).statusCode, 404);
  t.equal((await ctx.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);

  const { exposition } = await scrape(ctx);
  const labels = { method: 'GET', route: '/v1/sessions/:id', status_code: '200' };
  t.equal(sampleValue(exposition, 'sessiond_http_requests_total', labels), 2, 'both ids under one pattern');
  t.equal(sampleValue(exposition, 'sessiond_http_request_duration_seconds_count', labels), 2);
  t.equal(sampleValue(exposition, 'sessiond_http_requests_total', { route: 'unmatched', status_code: '404' }), 1);
  t.equal(sampleValue(exposition, 'sessiond_http_requests_total', { route: '/metrics', status_code: '401' }), 1, 'refused requests count too');
  const routes = new Set(familySamples(exposition, 'sessiond_http_requests_total').map((s) => s.labels.route));
  t.same([...routes].sort(), ['/metrics', '/v1/sessions/:id', 'unmatched']);
});

t.test('a read token may scrape; no token or a bad one is 401', async (t) => {
  const ctx = await buildMetricsApp(t);
  t.equal((await ctx.app.inject({ method: 'GET', url: '/metrics', headers: readAuth })).statusCode, 200, 'read');
  const write = await ctx.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TEST_TOKENS.write}` } });
  t.equal(write.statusCode, 200, 'write covers read');
  const none = await ctx.app.inject({ method: 'GET', url: '/metrics' });
  assertProblem(t, none, 401, 'unauthorized');
  t.notMatch(none.body, /sessiond_/);
  assertProblem(t, await ctx.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer not-a-token' } }), 401, 'unauthorized');
  // The header is the only way: metrics are no stream, so ?access_token= is not taken.
  assertProblem(t, await ctx.app.inject({ method: 'GET', url: `/metrics?access_token=${TEST_TOKENS.read}` }), 401, 'unauthorized');
});

t.test('no session id, label value, token or path ever appears in the metrics', async (t) => {
  const ctx = await buildMetricsApp(t);
  const secrets = {
    id: 'secretive-mzx81q-k2p9',
    label: 'team-zebra-9731',
    token: TEST_TOKENS.read,
    queryToken: 'query-token-q8w7e6r5',
    path: '/tmp/wsroot-4471/project',
    unknownPath: 'unknown-path-v6b5n4',
  };
  await ctx.app.inject({ method: 'GET', url: `/v1/sessions/${secrets.id}?labels=team%3D${secrets.label}`, headers: readAuth });
  await ctx.app.inject({ method: 'GET', url: `/v1/stream-not?access_token=${secrets.queryToken}` });
  await ctx.app.inject({ method: 'GET', url: `/${secrets.unknownPath}/${secrets.id}`, headers: readAuth });
  await ctx.app.inject({ method: 'DELETE', url: `/v1/sessions/${secrets.id}`, headers: readAuth });
  const session = { id: secrets.id, labels: { team: secrets.label }, working_directory: secrets.path, log_path: `${secrets.path}/out.log` };
  ctx.metrics.observeEvent(eventFor('session.started', session, 1));
  ctx.metrics.observeEvent(eventFor('session.ended', { ...session, status: 'completed', stopped_at: '2025-01-02T04:00:00.000Z' }, 2));

  const { res, exposition } = await scrape(ctx);
  for (const [what, value] of Object.entries(secrets)) t.notOk(res.body.includes(value), `no ${what} in the text`);
  t.notMatch(res.body, /secretive|zebra|wsroot|access_token/);
  // Every label value is one of a few known words, a pattern or a number.
  const known = /^(?:[A-Z]+|\/metrics|\/v1\/sessions\/:id|unmatched|\d{3}|[a-z_]+|[\d.e+-]+|\+Inf)$/;
  for (const sample of exposition.samples.filter((s) => s.name.startsWith('sessiond_'))) {
    for (const [key, value] of Object.entries(sample.labels)) {
      if (!known.test(value)) t.fail(`${sample.name}{${key}="${value}"}`);
    }
  }
});

t.test('each app has its own registry: counts do not leak between them', async (t) => {
  const one = await buildMetricsApp(t);
  const two = await buildMetricsApp(t);
  one.metrics.observeEvent(eventFor('session.started', {}));
  t.equal(sampleValue((await scrape(one)).exposition, 'sessiond_session_starts_total'), 1);
  t.equal(sampleValue((await scrape(two)).exposition, 'sessiond_session_starts_total'), 0);
  const third = createMetrics(fakeSources());
  // The process's own metrics are collected once (one event-loop monitor), shown by every app.
  for (const other of [two.metrics, third]) {
    t.equal(other.registry.getSingleMetric('process_cpu_seconds_total'), one.metrics.registry.getSingleMetric('process_cpu_seconds_total'));
  }
  t.match(await third.scrape(), /^nodejs_eventloop_lag_seconds /m);
});

t.test('a source that fails makes the scrape a 500 problem, not a partial answer', async (t) => {
  const ctx = await buildMetricsApp(t);
  ctx.sources.logBytes = () => {
    throw new Error('disk gone at /secret/place');
  };
  const res = await ctx.app.inject({ method: 'GET', url: '/metrics', headers: readAuth });
  assertProblem(t, res, 500, 'internal');
  t.notMatch(res.body, /secret/);
});
