// GET /metrics over a real socket with fetch, and a long-lived stream counted when it ends,
// including one whose client went away.
import t from 'tap';
import { eventually } from '../helper.js';
import { parseExposition, sampleValue } from './exposition.js';
import { buildMetricsApp, readAuth } from './helper.js';

t.test('a scraper over HTTP reads the metrics; a dropped stream is counted once it closes', async (t) => {
  const { app } = await buildMetricsApp(t);
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const read = async () => {
    const res = await fetch(`${base}/metrics`, { headers: readAuth });
    if (res.status !== 200) throw new Error(`scrape answered ${res.status}`);
    return parseExposition(await res.text());
  };
  const streamLabels = { method: 'GET', route: '/v1/stream', status_code: '200' };

  const res = await fetch(`${base}/metrics`, { headers: readAuth });
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const first = parseExposition(await res.text());
  t.equal(first.types.get('sessiond_http_requests_total'), 'counter');
  t.equal(first.types.get('process_cpu_seconds_total'), 'counter');

  const abort = new AbortController();
  const stream = await fetch(`${base}/v1/stream`, { headers: readAuth, signal: abort.signal });
  t.equal(stream.status, 200, 'the stream is open');
  const open = await read();
  t.throws(() => sampleValue(open, 'sessiond_http_requests_total', streamLabels), 'an open stream is not counted yet');

  abort.abort();
  const after = await eventually(async () => {
    const exposition = await read();
    return exposition.samples.some((s) => s.name === 'sessiond_http_requests_total' && s.labels.route === '/v1/stream') ? exposition : undefined;
  });
  t.equal(sampleValue(after, 'sessiond_http_requests_total', streamLabels), 1, 'counted once, when it closed');
  t.equal(sampleValue(after, 'sessiond_http_request_duration_seconds_count', streamLabels), 1);
  t.ok(sampleValue(after, 'sessiond_http_requests_total', { route: '/metrics', status_code: '200' }) >= 2, 'scrapes count themselves');
});

t.test('a request whose client gives up before any answer counts as 499', async (t) => {
  const { app, hanging } = await buildMetricsApp(t);
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const abort = new AbortController();
  const pending = fetch(`${base}/v1/hang`, { headers: readAuth, signal: abort.signal }).catch((err: Error) => err);
  await eventually(() => (hanging.count === 1 ? true : undefined));
  abort.abort();
  t.equal((await pending as Error).name, 'AbortError');
  const labels = { method: 'GET', route: '/v1/hang', status_code: '499' };
  const exposition = await eventually(async () => {
    const res = await fetch(`${base}/metrics`, { headers: readAuth });
    const text = await res.text();
    return text.includes('route="/v1/hang"') ? parseExposition(text) : undefined;
  });
  t.equal(sampleValue(exposition, 'sessiond_http_requests_total', labels), 1);
  t.equal(exposition.samples.filter((s) => s.labels.route === '/v1/hang' && s.name === 'sessiond_http_requests_total').length, 1, 'counted once');
});
