// SSE framing (formatEvent) and the writer's keep-alive, checked against what an SSE parser
// (the WHATWG algorithm, as in test/streaming/helper.ts) makes of the bytes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { RETRY_MS, SSE_HEADERS, SseWriter, formatEvent } from '../../src/logs/sse.js';
import { SseParser } from '../streaming/helper.js';

const parse = (text: string) => {
  const parser = new SseParser();
  return parser.push(Buffer.from(text, 'utf8'));
};

t.test('formatEvent: id, event, one data field per line, blank line', async (t) => {
  t.equal(formatEvent('stdout', ['a', 'b'], '4-0'), 'id: 4-0\nevent: stdout\ndata: a\ndata: b\n\n');
  t.equal(formatEvent('status', ['{"x":1}']), 'event: status\ndata: {"x":1}\n\n', 'no id line without an id');
  t.equal(formatEvent('stdout', [''], '1-0'), 'id: 1-0\nevent: stdout\ndata: \n\n', 'an empty line is an empty data field');
});

t.test('what a client parses out of formatEvent', async (t) => {
  const text =
    formatEvent('stdout', ['first', '', ' leading space', 'ünïcödé ✓', 'data: looks like a field', ':colon'], '10-0') +
    formatEvent('stderr', ['err'], '10-4') +
    formatEvent('status', ['{"status":"running"}']);
  const items = parse(text);
  t.same(items, [
    { type: 'event', id: '10-0', event: 'stdout', data: 'first\n\n leading space\nünïcödé ✓\ndata: looks like a field\n:colon' },
    { type: 'event', id: '10-4', event: 'stderr', data: 'err' },
    { type: 'event', id: undefined, event: 'status', data: '{"status":"running"}' },
  ]);
  const lone = parse(formatEvent('stdout', [''], '1-0'));
  t.same(lone, [{ type: 'event', id: '1-0', event: 'stdout', data: '' }], 'an event of one empty line is still dispatched');
});

t.test('constants the contract names', async (t) => {
  t.equal(RETRY_MS, 2000);
  t.match(SSE_HEADERS['content-type'], /^text\/event-stream/);
  t.equal(SSE_HEADERS['cache-control'], 'no-cache');
  t.equal(SSE_HEADERS['x-accel-buffering'], 'no');
});

t.test('SseWriter: keep-alive comments while quiet, none right after a write, nothing after end', async (t) => {
  let writer: SseWriter | null = null;
  const server = http.createServer((_req, res) => {
    res.writeHead(200, SSE_HEADERS);
    writer = new SseWriter(res, 50);
    void writer.write('retry: 2000\n\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  const res = await fetch(`http://127.0.0.1:${port}/`);
  const reader = res.body!.getReader();
  const parser = new SseParser();
  const seen: string[] = [];
  while (seen.filter((c) => c === 'keep-alive').length < 3) {
    const { value, done } = await reader.read();
    if (done) break;
    for (const item of parser.push(Buffer.from(value))) if (item.type === 'comment') seen.push(item.text);
  }
  t.same(seen.slice(0, 3), ['keep-alive', 'keep-alive', 'keep-alive'], 'a quiet stream gets `: keep-alive`');
  t.ok(writer, 'the server made a writer');
  const w = writer as unknown as SseWriter;
  t.equal(w.isClosed, false);
  w.end();
  t.equal(w.isClosed, true);
  await w.write('data: after end\n\n');
  let rest = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += Buffer.from(value).toString();
  }
  t.notMatch(rest, /after end/, 'a write after end is dropped, not thrown');
});
