// /metrics of the whole app over a real socket: a session's start and end move the counters and
// gauges a Prometheus scrape reads, and nothing of the session (id, labels, paths) becomes a label.
import t from 'tap';
import { TEST_TOKENS, buildFakeApp } from '../helper.js';
import { parseExposition, sampleValue } from './exposition.js';

t.test('scraped and parsed: sessions by status, starts, ends, start time, streams, log bytes', async (t) => {
  const ctx = await buildFakeApp(t);
  await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = ctx.app.server.address() as { port: number };
  const scrape = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${TEST_TOKENS.read}` } });
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    return { text: await res.clone().text(), parsed: parseExposition(await res.text()) };
  };
  const started = await ctx.app.inject({
    method: 'POST',
    url: '/v1/sessions',
    payload: { name: 'metered', working_directory: ctx.root, command: 'bash', args: [], labels: { secretteam: 'do-not-leak' } },
  });
  const id = started.json().id as string;
  await ctx.processes.write(id, 'stdout', 'x'.repeat(100));
  let { parsed } = await scrape();
  t.equal(sampleValue(parsed, 'sessiond_sessions', { status: 'running' }), 1);
  t.equal(sampleValue(parsed, 'sessiond_session_starts_total'), 1);
  t.equal(sampleValue(parsed, 'sessiond_start_seconds_count'), 1);
  t.equal(sampleValue(parsed, 'sessiond_log_bytes', { stream: 'stdout' }), 100);
  await ctx.processes.exit(id, 0);
  const scraped = await scrape();
  parsed = scraped.parsed;
  t.equal(sampleValue(parsed, 'sessiond_sessions', { status: 'running' }), 0);
  t.equal(sampleValue(parsed, 'sessiond_sessions', { status: 'exited' }), 1);
  t.equal(sampleValue(parsed, 'sessiond_session_ends_total', { status: 'exited', stop_reason: 'none' }), 1);
  t.equal(sampleValue(parsed, 'sessiond_session_duration_seconds_count'), 1);
  t.ok(sampleValue(parsed, 'sessiond_http_requests_total', { method: 'POST', route: '/v1/sessions', status_code: '201' }) >= 1);
  for (const secret of [id, 'do-not-leak', TEST_TOKENS.read, TEST_TOKENS.write, ctx.root]) {
    t.notOk(scraped.text.includes(secret), `${secret.slice(0, 24)} is not in the metrics`);
  }
});
