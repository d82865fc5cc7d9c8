// Agent sessions on the fakes (memory store, scripted processes): the messages and their byte
// offsets, paging, the summary on the session and in lifecycle events (at most once a second),
// parsing that goes on after a restart without reading the log again, continue and fork,
// interrupt, and every error the agent routes answer.
import t, { type Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { createFakeProcessAdapter } from '../fakes/fake-processes.js';
import { createMemoryAgentIndex } from '../fakes/memory-agent-index.js';
import { MemoryJournal } from '../fakes/memory-journal.js';
import { createMemoryStore, type MemoryStore } from '../fakes/memory-store.js';
import { assertProblem, authHeader, buildFakeApp, eventually, testConfig, type FakeApp } from '../helper.js';
import { MODEL, NOT_JSON, RESULT_TEXT, init, transcript } from './fixtures.js';

type Json = Record<string, any>;
const AGENT_SESSION = '6f3b0c8e-8b1a-4a55-9a53-2b1c1d2e3f40';
const lines = (agentSession = AGENT_SESSION) => transcript().map((line) => line.replaceAll('@SESSION@', agentSession));

async function startAgent(ctx: Pick<FakeApp, 'app' | 'root'>, body: Json = {}) {
  return ctx.app.inject({
    method: 'POST',
    url: '/v1/sessions',
    payload: { name: 'Agent run', working_directory: ctx.root, command: 'claude', prompt: 'fix the test', agent: { kind: 'claude' }, ...body },
    // Explicit: the restart test's apps are built without buildFakeApp's default token.
    headers: authHeader('write'),
  });
}

async function messages(ctx: Pick<FakeApp, 'app'>, id: string, query = '') {
  return ctx.app.inject({ url: `/v1/sessions/${id}/agent/messages${query}`, headers: authHeader('read') });
}

async function allMessages(ctx: Pick<FakeApp, 'app'>, id: string, limit = 500): Promise<Json[]> {
  const out: Json[] = [];
  for (let after = 0; ; ) {
    const page = (await messages(ctx, id, `?after=${after}&limit=${limit}`)).json();
    out.push(...page.items);
    if (!page.has_more) return out;
    after = page.next_after;
  }
}

t.test('messages: every line, in order, at its byte offset; paging; the summary on the session', async (t) => {
  const ctx = await buildFakeApp(t);
  const res = await startAgent(ctx, { permission_mode: 'acceptEdits', allowed_tools: ['Read'] });
  t.equal(res.statusCode, 201);
  const session = res.json();
  t.same(
    session.args,
    ['--print', '--verbose', '--output-format', 'stream-json', '--permission-mode', 'acceptEdits', '--allowedTools', 'Read', '--', 'fix the test'],
    'stream-json output, the prompt after --',
  );
  t.match(session.agent, { kind: 'claude', session_id: null, model: null, result: null, message_count: 0, last_message_at: null }, 'a summary from the start, fields null until known');
  t.equal(session.parent_id, null);

  const text = `${lines().join('\n')}\n`;
  await ctx.processes.write(session.id, 'stdout', text);
  const all = await eventually(async () => {
    const got = await allMessages(ctx, session.id, 3);
    return got.length === 8 ? got : undefined;
  });
  const raw = Buffer.from(text);
  t.same(all.map((m) => m.n), [1, 2, 3, 4, 5, 6, 7, 8]);
  for (const [i, m] of all.entries()) {
    const line = raw.subarray(m.offset, m.offset + m.length).toString('utf8');
    t.equal(line, lines()[i], `message ${m.n}: offset and length name its line in stdout, byte for byte`);
    t.same(m.message, m.type === 'text' ? line : JSON.parse(line), `message ${m.n}: as written`);
  }
  t.same(all[5], { n: 6, offset: all[5]?.offset, length: Buffer.byteLength(NOT_JSON), type: 'text', subtype: null, message: NOT_JSON }, 'a non-JSON line is text');
  t.match(all[6], { type: 'vendor_telemetry', subtype: 'tick' }, 'an unknown type is kept');

  const first = (await messages(ctx, session.id, '?limit=3')).json();
  t.same([first.items.length, first.next_after, first.has_more], [3, 3, true]);
  const last = (await messages(ctx, session.id, '?after=6')).json();
  t.same([last.items.map((m: Json) => m.n), last.next_after, last.has_more], [[7, 8], 8, false]);
  const beyond = (await messages(ctx, session.id, '?after=99')).json();
  t.same(beyond, { items: [], next_after: 99, has_more: false }, 'past the end: empty, caught up');

  const read = await eventually(async () => {
    const got = (await ctx.app.inject({ url: `/v1/sessions/${session.id}` })).json();
    return got.agent.result !== null ? got : undefined;
  });
  t.match(read.agent, { session_id: AGENT_SESSION, model: MODEL, num_turns: 3, total_cost_usd: 0.0123, is_error: false, result: RESULT_TEXT, message_count: 8 });
  t.type(read.agent.last_message_at, 'string');
  const listed = (await ctx.app.inject({ url: '/v1/sessions' })).json().items[0];
  t.same(listed.agent, read.agent, 'the list shows it too');
});

t.test('the summary reaches session.status events at most once a second; the end carries the final one', async (t) => {
  const ctx = await buildFakeApp(t);
  const session = (await startAgent(ctx)).json();
  await ctx.processes.write(session.id, 'stdout', `${JSON.stringify({ ...init, session_id: AGENT_SESSION })}\n`);
  // A message every 50 ms for 2.5 s: 50 changes of the summary.
  const began = Date.now();
  for (let i = 0; i < 50; i++) {
    await ctx.processes.write(session.id, 'stdout', `{"type":"stream_event","n":${i}}\n`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // The last line has no newline: it counts once the process has ended.
  await ctx.processes.write(session.id, 'stdout', JSON.stringify({ type: 'result', subtype: 'success', result: 'bye', is_error: false, num_turns: 1 }));
  const elapsed = Date.now() - began;
  await ctx.processes.exit(session.id, 0);

  const events = ctx.journal.all().filter((e) => e.session.id === session.id);
  const updates = events.filter((e) => e.type === 'session.status');
  t.ok(updates.length >= 2, `the summary was reported while it ran (${updates.length} events in ${elapsed} ms)`);
  t.ok(updates.length <= Math.ceil(elapsed / 1000) + 1, 'never more than one a second');
  for (let i = 1; i < updates.length; i++) {
    const gap = Date.parse(updates[i]?.time ?? '') - Date.parse(updates[i - 1]?.time ?? '');
    t.ok(gap >= 990, `${gap} ms between two updates`);
  }
  t.ok(updates.every((e) => e.session.status === 'running' && e.session.agent?.session_id === AGENT_SESSION), 'each carries the summary');
  const ended = events.find((e) => e.type === 'session.ended');
  t.match(ended?.session.agent, { message_count: 52, result: 'bye', num_turns: 1 }, 'the end carries every message, the unterminated last one too');
  t.equal((await allMessages(ctx, session.id)).length, 52);
});

t.test('after a restart, parsing goes on from its checkpoint: the log is not read again', async (t) => {
  const config = await testConfig(t);
  const store = createMemoryStore();
  const processes = createFakeProcessAdapter({ onOutput: (id, stream, data) => store.appendLog(id, stream, data) });
  const agentIndex = createMemoryAgentIndex();
  const journal = new MemoryJournal();
  const build = (log: MemoryStore | ReturnType<typeof counting>) =>
    buildApp({ config, store: log, processes, journal, agentIndex, logger: false, forceCloseConnections: true });
  const root = config.workspaceRoots[0] as string;

  const first = await build(store);
  const session = (await startAgent({ app: first, root } as FakeApp)).json();
  const before = `${lines().slice(0, 4).join('\n')}\n${'{"type":"user","partial":'}`;
  await processes.write(session.id, 'stdout', before);
  await eventually(async () => ((await messages({ app: first } as FakeApp, session.id)).json().items.length === 4 ? true : undefined));
  await first.close();

  // The second service reads the store through a counter of the stdout bytes it reads.
  const counted = counting(store);
  const second = await build(counted);
  t.teardown(() => second.close());
  await processes.write(session.id, 'stdout', `"x"}\n${lines().slice(4).join('\n')}\n`);
  // Parsed, as the summary says (reading the messages reads the log to serve them).
  await eventually(async () => {
    const got = (await second.inject({ url: `/v1/sessions/${session.id}`, headers: authHeader('read') })).json();
    return got.agent.message_count === 9 ? true : undefined;
  });
  const partialStart = Buffer.byteLength(`${lines().slice(0, 4).join('\n')}\n`);
  t.equal(counted.stdoutBytesFrom(), partialStart, 'the second service read stdout from the unfinished line on, never before it');
  const all = await allMessages({ app: second } as FakeApp, session.id);
  t.same(all.map((m) => m.n), [1, 2, 3, 4, 5, 6, 7, 8, 9], 'no message lost or counted twice');
  t.match(all[4], { type: 'user', offset: partialStart, message: { type: 'user', partial: 'x' } }, 'the line cut by the restart, whole');
});

/** The memory store, counting the lowest stdout offset read. */
function counting(store: MemoryStore) {
  let lowest = Number.POSITIVE_INFINITY;
  return Object.assign(Object.create(store) as MemoryStore, {
    async readLog(id: string, stream: 'stdout' | 'stderr', start: number, end: number) {
      if (stream === 'stdout') lowest = Math.min(lowest, start);
      return store.readLog(id, stream, start, end);
    },
    stdoutBytesFrom: () => lowest,
  });
}

async function endedAgent(t: Test, ctx: FakeApp, text: string, body: Json = {}): Promise<Json> {
  const session = (await startAgent(ctx, body)).json();
  await ctx.processes.write(session.id, 'stdout', text);
  await ctx.processes.exit(session.id, 0);
  const read = (await ctx.app.inject({ url: `/v1/sessions/${session.id}` })).json();
  t.equal(read.status, 'exited');
  return read;
}

t.test('continue and fork: claude --resume <agent session id> [--fork-session] -- <prompt>, parent_id set', async (t) => {
  const ctx = await buildFakeApp(t);
  const parent = await endedAgent(t, ctx, `${lines().join('\n')}\n`, { labels: { team: 'core' }, permission_mode: 'plan', max_runtime_ms: 600000 });
  t.equal(parent.agent.session_id, AGENT_SESSION);

  const res = await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${parent.id}/continue`, payload: { prompt: '-now add a test' } });
  t.equal(res.statusCode, 201);
  const child = res.json();
  t.equal(res.headers.location, `/v1/sessions/${child.id}`);
  t.match(child, { parent_id: parent.id, name: parent.name, working_directory: parent.working_directory, command: 'claude', labels: { team: 'core' }, max_runtime_ms: 600000 });
  t.same(child.args, ['--print', '--verbose', '--output-format', 'stream-json', '--permission-mode', 'plan', '--resume', AGENT_SESSION, '--', '-now add a test']);
  t.match(child.agent, { kind: 'claude', session_id: null, message_count: 0 }, 'a fresh summary');
  await ctx.processes.exit(child.id, 0);

  const fork = await ctx.app.inject({
    method: 'POST',
    url: `/v1/sessions/${parent.id}/continue`,
    payload: { prompt: 'try another way', fork: true, name: 'Fork', labels: { try: '2' } },
    headers: { 'idempotency-key': 'fork-1' },
  });
  t.equal(fork.statusCode, 201);
  t.match(fork.json(), { name: 'Fork', labels: { try: '2' }, parent_id: parent.id });
  t.same(fork.json().args.slice(-5), ['--resume', AGENT_SESSION, '--fork-session', '--', 'try another way']);
  const again = await ctx.app.inject({
    method: 'POST',
    url: `/v1/sessions/${parent.id}/continue`,
    payload: { prompt: 'try another way', fork: true, name: 'Fork', labels: { try: '2' } },
    headers: { 'idempotency-key': 'fork-1' },
  });
  t.equal(again.json().id, fork.json().id, 'a retry with the same Idempotency-Key answers the same session');
  t.equal(again.headers['idempotent-replayed'], 'true');
  t.equal(ctx.processes.launched.length, 3, 'and starts nothing');
});

t.test('interrupt: SIGINT to the process group; the session goes on', async (t) => {
  const ctx = await buildFakeApp(t);
  const session = (await startAgent(ctx)).json();
  const res = await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${session.id}/interrupt` });
  t.equal(res.statusCode, 200);
  t.equal(res.json().status, 'running');
  t.same(ctx.processes.signals, [{ sessionId: session.id, signal: 'SIGINT' }]);
  t.ok(ctx.processes.isRunning(session.id));
});

t.test('every error of the agent routes and fields', async (t) => {
  const ctx = await buildFakeApp(t, { env: { SESSIOND_MAX_RUNNING: '1' } });
  const bad = async (body: Json, why: string) => {
    const res = await startAgent(ctx, body);
    assertProblem(t, res, 400, 'validation_failed');
    t.comment(`${why}: ${res.json().detail}`);
  };
  await bad({ command: 'bash' }, 'an agent session runs claude');
  await bad({ args: ['--print', 'x'] }, 'its arguments are built by sessiond');
  await bad({ prompt: undefined }, 'it needs a prompt');
  await bad({ agent: { kind: 'claude', input: true, stream_json: false } }, 'input needs stream-json output');
  await bad({ agent: { kind: 'claude', input: true }, prompt: 'x'.repeat(300 * 1024) }, 'with input the prompt is the first message: at most 256 KiB');
  await bad({ agent: { kind: 'codex' } }, 'only claude');
  await bad({ agent: { kind: 'claude', extra: 1 } }, 'no unknown field');
  t.match((await startAgent(ctx, { agent: { kind: 'claude', input: true, stream_json: false } })).json().detail, /needs agent.stream_json/);

  // A plain (non-agent) session, still running: it holds the one place.
  const plain = (await ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'plain', working_directory: ctx.root, command: 'bash', args: ['-c', 'true'] } })).json();
  assertProblem(t, await messages(ctx, plain.id), 409, 'session_not_agent');
  assertProblem(t, await ctx.app.inject({ url: `/v1/sessions/${plain.id}/logs/stream?format=agent` }), 409, 'session_not_agent');
  assertProblem(t, await messages(ctx, 'no-such-session-1'), 404, 'session_not_found');
  for (const query of ['?limit=0', '?limit=501', '?after=-1', '?after=x', '?limit=1e999']) assertProblem(t, await messages(ctx, plain.id, query), 400, 'validation_failed');
  assertProblem(t, await ctx.app.inject({ url: `/v1/sessions/${plain.id}/logs/stream?format=json` }), 400, 'validation_failed');

  const cont = (id: string, payload: unknown) => ctx.app.inject({ method: 'POST', url: `/v1/sessions/${id}/continue`, payload: payload as Json });
  assertProblem(t, await cont(plain.id, { prompt: 'more' }), 409, 'session_running');
  const queued = (await startAgent(ctx, { queue: true })).json();
  t.equal(queued.status, 'queued');
  assertProblem(t, await cont(queued.id, { prompt: 'more' }), 409, 'session_running');
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${queued.id}/interrupt` }), 409, 'session_not_running');
  await ctx.processes.exit(plain.id, 0);
  assertProblem(t, await cont(plain.id, { prompt: 'more' }), 409, 'agent_session_unknown');
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${plain.id}/interrupt` }), 409, 'session_not_running');

  // The queued agent session starts now; it ends without ever saying its session id.
  const started = await eventually(async () => ((await ctx.app.inject({ url: `/v1/sessions/${queued.id}` })).json().status === 'running' ? true : undefined));
  t.ok(started);
  await ctx.processes.write(queued.id, 'stdout', 'no json at all\n');
  await ctx.processes.exit(queued.id, 1);
  assertProblem(t, await cont(queued.id, { prompt: 'more' }), 409, 'agent_session_unknown');
  t.match((await cont(queued.id, { prompt: 'more' })).json().detail, /no system\/init/);

  assertProblem(t, await cont('no-such-session-1', { prompt: 'more' }), 404, 'session_not_found');
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: '/v1/sessions/no-such-session-1/interrupt' }), 404, 'session_not_found');
  for (const payload of [{}, { prompt: '' }, { prompt: 'x', fork: 'yes' }, { prompt: 'x', args: ['--x'] }, { prompt: 'a\u0000b' }]) {
    assertProblem(t, await cont(queued.id, payload), 400, 'validation_failed');
  }
  const read = await ctx.app.inject({ url: `/v1/sessions/${queued.id}/agent/messages`, headers: authHeader('read') });
  t.equal(read.statusCode, 200, 'a read token reads messages');
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${queued.id}/continue`, payload: { prompt: 'x' }, headers: authHeader('read') }), 403, 'forbidden');
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${queued.id}/interrupt`, headers: authHeader('read') }), 403, 'forbidden');
});

t.test('input: the prompt is the first message on stdin; each POST writes one whole user message', async (t) => {
  const ctx = await buildFakeApp(t);
  const res = await startAgent(ctx, { agent: { kind: 'claude', input: true }, prompt: '-starts with a dash' });
  t.equal(res.statusCode, 201);
  const session = res.json();
  t.same(
    session.args,
    ['--print', '--verbose', '--output-format', 'stream-json', '--input-format', 'stream-json'],
    'stream-json both ways; no prompt argument: claude reads it from stdin',
  );
  const spec = ctx.processes.launched.at(-1);
  t.equal(spec?.input, true, 'launched with a stdin pipe');
  t.same(JSON.parse(spec?.initialInput ?? 'null'), { type: 'user', message: { role: 'user', content: '-starts with a dash' }, parent_tool_use_id: null, session_id: '' }, 'the prompt as the first user message');
  t.match(spec?.initialInput, /\n$/, 'one line');

  const send = (payload: unknown, token: 'write' | 'read' = 'write') =>
    ctx.app.inject({ method: 'POST', url: `/v1/sessions/${session.id}/input`, payload: payload as Json, headers: authHeader(token) });
  const text = await send({ text: 'and now\nthe tests' });
  t.equal(text.statusCode, 200);
  t.equal(text.json().id, session.id);
  const whole = { type: 'user', message: { role: 'user', content: [{ type: 'text', text: 'block' }] }, parent_tool_use_id: null, session_id: 'x' };
  t.equal((await send({ message: whole })).statusCode, 200);
  t.same(
    ctx.processes.inputs.map((i) => i.text),
    [
      `${JSON.stringify({ type: 'user', message: { role: 'user', content: 'and now\nthe tests' }, parent_tool_use_id: null, session_id: '' })}\n`,
      `${JSON.stringify(whole)}\n`,
    ],
    'each a single line: newlines inside are escaped',
  );

  for (const payload of [{}, { text: '' }, { text: 1 }, { message: { type: 'assistant' } }, { message: 'x' }, { text: 'a', message: whole }, { text: 'a', extra: 1 }]) {
    assertProblem(t, await send(payload), 400, 'validation_failed');
  }
  assertProblem(t, await send({ message: { type: 'user', pad: 'x'.repeat(300 * 1024) } }), 413, 'payload_too_large');
  assertProblem(t, await send({ text: 'x' }, 'read'), 403, 'forbidden');
  t.equal(ctx.processes.inputs.length, 2, 'nothing more was written');

  const plain = (await startAgent(ctx)).json();
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${plain.id}/input`, payload: { text: 'x' } }), 409, 'session_not_interactive');
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: '/v1/sessions/no-such-session-1/input', payload: { text: 'x' } }), 404, 'session_not_found');

  await ctx.processes.exit(session.id, 0);
  const ended = await send({ text: 'too late' });
  assertProblem(t, ended, 409, 'session_not_running');
  t.match(ended.json().detail, /exited/, 'says the session has ended');
});

t.test('input: concurrent POSTs to one session are written one at a time, whole, in the order they came', async (t) => {
  const ctx = await buildFakeApp(t);
  const session = (await startAgent(ctx, { agent: { kind: 'claude', input: true } })).json();
  // A slow pipe: each write takes a while; two writes in flight at once would interleave.
  const write = ctx.processes.writeInput.bind(ctx.processes);
  let inFlight = 0;
  let overlapped = false;
  ctx.processes.writeInput = async (handle, bytes) => {
    inFlight += 1;
    if (inFlight > 1) overlapped = true;
    await new Promise((resolve) => setTimeout(resolve, 5));
    const outcome = await write(handle, bytes);
    inFlight -= 1;
    return outcome;
  };
  const texts = Array.from({ length: 8 }, (_, i) => `message ${i}`);
  const replies = await Promise.all(texts.map((text) => ctx.app.inject({ method: 'POST', url: `/v1/sessions/${session.id}/input`, payload: { text } })));
  t.same(replies.map((r) => r.statusCode), texts.map(() => 200));
  t.notOk(overlapped, 'never two writes at once');
  t.same(ctx.processes.inputs.map((i) => JSON.parse(i.text).message.content), texts, 'in the order the requests came');
});
