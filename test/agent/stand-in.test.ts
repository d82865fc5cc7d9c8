// Agent sessions with real processes: the real server (file store, keepers) runs a stand-in
// `claude` that plays SDK-typed transcripts. Offsets are checked byte for byte against the raw
// log, a 3 MiB tool result comes back exactly as written, the format=agent stream resumes with
// Last-Event-ID without gap or duplicate, continue and fork pass --resume (and --fork-session),
// and interrupt reaches the agent as SIGINT while the session goes on.
import fs from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { startServer, type Json, type Server } from '../e2e/helper.js';
import { eventually } from '../helper.js';
import { StreamClient } from '../reliability/server-process.js';
import { NOT_JSON, RESULT_TEXT, TRANSCRIPT_TYPES, init, result, toolResult, transcript } from './fixtures.js';
import { installStandIn, standInArgs, type StandIn, type Step } from './stand-in.js';

const MiB = 1024 * 1024;

async function server(t: Test): Promise<{ s: Server; claude: StandIn }> {
  const claude = await installStandIn(t);
  const s = await startServer(t, { env: { SESSIOND_ALLOWED_COMMANDS: 'claude,bash', PATH: `${claude.bin}:${process.env.PATH ?? ''}` } });
  return { s, claude };
}

const startAgent = (s: Server, prompt: string, body: Json = {}) =>
  s.request('POST', '/v1/sessions', { body: { name: 'agent', working_directory: s.root, command: 'claude', prompt, agent: { kind: 'claude' }, ...body } });

async function allMessages(s: Server, id: string): Promise<{ items: Json[]; pages: Buffer[] }> {
  const items: Json[] = [];
  const pages: Buffer[] = [];
  for (let after = 0; ; ) {
    const res = await s.request('GET', `/v1/sessions/${id}/agent/messages?after=${after}&limit=4`);
    if (res.status !== 200) throw new Error(`messages: ${res.status} ${res.text}`);
    pages.push(res.bytes);
    const page = res.json();
    items.push(...page.items);
    if (!page.has_more) return { items, pages };
    after = page.next_after;
  }
}

const touch = (s: Server, name: string) => fs.writeFile(path.join(s.root, name), '');

t.test('a whole transcript: every message at its offset, byte for byte; a 3 MiB tool result as written; the summary at the end', async (t) => {
  const { s, claude } = await server(t);
  const [before, after] = JSON.stringify(toolResult('@FILL@')).split('@FILL@') as [string, string];
  const lines = transcript();
  const steps: Step[] = lines.map((line) => ({ line }));
  // The tool result (4th message) becomes 3 MiB of 1-, 2- and 3-byte characters.
  steps[3] = { big: { before, fill: 'é✓ ', bytes: 3 * MiB, after } };
  await claude.scenario('transcript', steps);

  const res = await startAgent(s, '--transcript');
  t.equal(res.status, 201);
  const ended = await s.waitEnded(res.json().id);
  t.match(ended, { status: 'exited', exit_code: 0 });
  const args = (await standInArgs(s.root))[0] ?? [];
  t.same(args.slice(-2), ['--', '--transcript'], 'the prompt starting with dashes came after --, and claude took it for the prompt');
  t.ok(args.includes('--output-format') && args.includes('stream-json'));

  const raw = (await s.request('GET', `/v1/sessions/${ended.id}/logs/stdout`)).bytes;
  const { items, pages } = await allMessages(s, ended.id);
  t.equal(items.length, 8, 'eight lines, eight messages');
  let expectedOffset = 0;
  for (const m of items) {
    t.equal(m.offset, expectedOffset, `message ${m.n} starts where the previous line ended`);
    const line = raw.subarray(m.offset, m.offset + m.length);
    t.equal(raw[m.offset + m.length], 0x0a, 'a newline follows it');
    expectedOffset = m.offset + m.length + 1;
    if (m.type === 'text') t.equal(m.message, line.toString('utf8'));
    else {
      t.same(m.message, JSON.parse(line.toString('utf8')), `message ${m.n} (${m.type}) parses to what was written`);
      t.ok(pages.some((page) => page.includes(line)), `message ${m.n} is served as its exact bytes`);
    }
  }
  t.equal(expectedOffset, raw.length, 'every byte of stdout is in a message');
  const big = items[3] as Json;
  t.equal(big.type, 'user');
  const agentSession = (items[0] as Json).message.session_id as string;
  t.equal(big.length, Buffer.byteLength(before) + 3 * MiB + Buffer.byteLength(after.replace('@SESSION@', agentSession)));
  t.equal(big.message.message.content[0].content.length, MiB * 1.5, 'the tool result whole: 3 MiB of é✓ and spaces');
  t.equal(pages.filter((page) => page.includes(raw.subarray(big.offset, big.offset + big.length))).length, 1, 'it came alone in its page (over the page budget) and exactly once');
  t.same(items.map((m) => [m.type, m.subtype]), TRANSCRIPT_TYPES, 'types as written; the unknown type kept');
  t.equal(items[5]?.message, NOT_JSON, 'the line that is not JSON, kept as text');

  t.match(agentSession, /^[0-9a-f-]{36}$/, 'the stand-in named its session');
  t.match(ended.agent, {
    kind: 'claude',
    session_id: agentSession,
    model: init.model,
    num_turns: result.num_turns,
    total_cost_usd: result.total_cost_usd,
    is_error: false,
    result: RESULT_TEXT,
    result_truncated: false,
    message_count: 8,
  }, 'the ended session carries the final summary');
});

t.test('format=agent: agent events with byte-offset ids, resumed with Last-Event-ID, no gap, no duplicate, then end', async (t) => {
  const { s, claude } = await server(t);
  const message = (i: number) => JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text: `step ${i} ✓\r` }] }, session_id: '@SESSION@' });
  await claude.scenario('live', [
    { line: JSON.stringify(init) },
    ...[1, 2, 3].map((i) => ({ line: message(i) })),
    { wait: 'go1' },
    ...[4, 5].map((i) => ({ line: message(i) })),
    { raw: '{"type":"result","subtype":"success","result":"' },
    { wait: 'go2' },
    { line: 'all done","is_error":false,"num_turns":5}' },
  ]);
  const session = (await startAgent(s, 'live')).json();
  const path1 = `/v1/sessions/${session.id}/logs/stream?format=agent&from=start`;
  const first = await StreamClient.open(s.url, path1);
  t.equal(first.status, 200);
  await first.until((c) => c.events().filter((e) => e.event === 'agent').length === 4, 20_000, 'four messages');
  const got = first.events().filter((e) => e.event === 'agent');
  first.abort();
  const parsed = got.map((e) => JSON.parse(e.data) as Json);
  t.same(parsed.map((m) => m.n), [1, 2, 3, 4]);
  for (const [i, e] of got.entries()) t.equal(e.id, `${(parsed[i]?.offset as number) + (parsed[i]?.length as number) + 1}-0`, 'the id is the stdout offset after the message');
  t.equal(parsed[1]?.message.message.content[0].text, 'step 1 ✓\r', 'a carriage return inside a string arrives (escaped) as written');

  // Reconnect after the second message, as EventSource would.
  const second = await StreamClient.open(s.url, `/v1/sessions/${session.id}/logs/stream?format=agent`, { 'last-event-id': got[1]?.id as string });
  await second.until((c) => c.events().filter((e) => e.event === 'agent').length === 2, 20_000, 'the two after the resume point');
  await touch(s, 'go1');
  await second.until((c) => c.events().filter((e) => e.event === 'agent').length === 4, 20_000, 'the live ones');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(second.events().filter((e) => e.event === 'agent').length, 4, 'the unfinished result line is not a message yet');
  await touch(s, 'go2');
  await second.until((c) => c.events().some((e) => e.event === 'end'), 20_000, 'end');
  const resumed = second.events().filter((e) => e.event === 'agent').map((e) => JSON.parse(e.data) as Json);
  t.same(resumed.map((m) => m.n), [3, 4, 5, 6, 7], 'from the message after the resume point, each once');
  t.match(resumed[4], { type: 'result', subtype: 'success', message: { result: 'all done' } }, 'the line written in two parts, whole');
  const end = JSON.parse(second.events().find((e) => e.event === 'end')?.data ?? '{}') as Json;
  t.match(end, { status: 'exited', agent: { result: 'all done', num_turns: 5, message_count: 7 } });
  t.notOk(second.text.includes('\r'), 'no carriage return in the stream itself');
  await second.done;
  t.ok(second.endedCleanly, 'the stream ends after end');
});

t.test('continue resumes the agent session; fork starts a new one from it', async (t) => {
  const { s, claude } = await server(t);
  await claude.scenario('hello', [{ line: JSON.stringify(init) }, { line: JSON.stringify(result) }]);
  const parent = await s.waitEnded((await startAgent(s, 'hello', { labels: { app: 'web' } })).json().id);
  const sid = parent.agent.session_id as string;
  t.match(sid, /^[0-9a-f-]{36}$/);

  const cont = await s.request('POST', `/v1/sessions/${parent.id}/continue`, { body: { prompt: 'hello' } });
  t.equal(cont.status, 201);
  const child = await s.waitEnded(cont.json().id);
  t.match(child, { parent_id: parent.id, status: 'exited', labels: { app: 'web' }, working_directory: parent.working_directory });
  t.equal(child.agent.session_id, sid, 'claude went on with the same agent session');

  const fork = await s.request('POST', `/v1/sessions/${parent.id}/continue`, { body: { prompt: 'hello', fork: true } });
  t.equal(fork.status, 201);
  const forked = await s.waitEnded(fork.json().id);
  t.equal(forked.parent_id, parent.id);
  t.not(forked.agent.session_id, sid, 'a fork has an agent session of its own');
  t.match(forked.agent.session_id, /^[0-9a-f-]{36}$/);

  const runs = await standInArgs(s.root);
  t.same(runs.map((args) => args.slice(args.indexOf('--output-format') + 2)), [
    ['--', 'hello'],
    ['--resume', sid, '--', 'hello'],
    ['--resume', sid, '--fork-session', '--', 'hello'],
  ]);
});

t.test('interrupt: SIGINT reaches the agent; the session goes on', async (t) => {
  const { s, claude } = await server(t);
  await claude.scenario('patient', [
    { sigint: '{"type":"system","subtype":"interrupted"}' },
    { line: JSON.stringify(init) },
    { wait: 'finish' },
    { line: JSON.stringify(result) },
  ]);
  const session = (await startAgent(s, 'patient')).json();
  // Once init is out, the handler is in place.
  await eventually(async () => ((await s.request('GET', `/v1/sessions/${session.id}/agent/messages`)).json().items.length === 1 ? true : undefined));
  const res = await s.request('POST', `/v1/sessions/${session.id}/interrupt`);
  t.equal(res.status, 200);
  t.equal(res.json().status, 'running');
  const items = await eventually(async () => {
    const page = (await s.request('GET', `/v1/sessions/${session.id}/agent/messages`)).json();
    return page.items.length === 2 ? (page.items as Json[]) : undefined;
  });
  t.match(items[1], { type: 'system', subtype: 'interrupted' }, 'the agent heard SIGINT');
  t.equal((await s.request('GET', `/v1/sessions/${session.id}`)).json().status, 'running', 'and goes on');
  await touch(s, 'finish');
  t.match(await s.waitEnded(session.id), { status: 'exited', exit_code: 0, exit_signal: null, agent: { message_count: 3 } });
  const again = await s.request('POST', `/v1/sessions/${session.id}/interrupt`);
  t.equal(again.status, 409);
  t.equal(again.json().code, 'session_not_running');
});
