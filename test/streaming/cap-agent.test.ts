// Agent messages under the log cap: a stand-in claude writes 3,000 stream-json lines (330 KB)
// under a 64 KiB cap. The messages route and the format=agent stream give only messages whose
// line is still kept, each exactly the line written at its offset (never a hole's zeros).
import t from 'tap';
import { installStandIn } from '../agent/stand-in.js';
import { startServer, type Json } from '../e2e/helper.js';
import { authHeader, eventually } from '../helper.js';
import { SseClient } from './helper.js';

const CAP = 64 * 1024;
const LINES = 3000;
const message = (n: number) => ({ type: 'assistant', n, pad: `${String(n).padStart(6, '0')}${'x'.repeat(60)}` });

t.test('agent messages under a 64 KiB cap: only kept lines, each the one written at its offset', async (t) => {
  const claude = await installStandIn(t);
  const s = await startServer(t, { env: { SESSIOND_ALLOWED_COMMANDS: 'claude', SESSIOND_MAX_LOG_BYTES: String(CAP), PATH: `${claude.bin}:${process.env.PATH ?? ''}` } });
  await claude.scenario('many', Array.from({ length: LINES }, (_, i) => ({ line: JSON.stringify(message(i + 1)) })));
  const started = await s.request('POST', '/v1/sessions', { body: { name: 'agent', working_directory: s.root, command: 'claude', prompt: 'many', agent: { kind: 'claude' } } });
  t.equal(started.status, 201);
  const id = started.json().id as string;
  await s.waitEnded(id);
  let retained = 0;
  await eventually(async () => {
    retained = (await s.request('GET', `/v1/sessions/${id}/logs?tail_bytes=0`)).json().stdout_retained_from as number;
    return retained > 0;
  });
  const kept = (await s.request('GET', `/v1/sessions/${id}/logs/stdout`)).bytes.toString();
  t.ok(kept.startsWith('{"type":"assistant","n":'), 'the window starts at a line start');

  // Kept, and exactly the line written there: the raw log (from the window on) holds it at that offset.
  const check = (item: Json) =>
    item.offset >= retained && JSON.stringify(item.message) === JSON.stringify(message(item.message.n)) && kept.slice(item.offset - retained, item.offset - retained + item.length) === JSON.stringify(item.message);
  const items: Json[] = [];
  for (let after = 0; ; ) {
    const page = (await s.request('GET', `/v1/sessions/${id}/agent/messages?after=${after}&limit=500`)).json();
    items.push(...page.items);
    if (!page.has_more) break;
    after = page.next_after;
  }
  t.ok(items.length > 0, `${items.length} messages listed`);
  t.equal(items.filter((item) => !check(item)).length, 0, 'every listed message is kept and is the line written at its offset');
  t.equal(items.at(-1)?.message.n, LINES, 'up to the last');

  const sse = await SseClient.open(`${s.url}/v1/sessions/${id}/logs/stream?format=agent&from=start`, { headers: authHeader('write') });
  await sse.untilEnd(30000);
  const streamed = sse.events.filter((e) => e.event === 'agent').map((e) => JSON.parse(e.data) as Json);
  t.ok(streamed.length > 0);
  t.equal(streamed.filter((item) => !check(item)).length, 0, 'format=agent: only kept messages, each exact');
  t.equal(streamed.at(-1)?.message.n, LINES);
});
