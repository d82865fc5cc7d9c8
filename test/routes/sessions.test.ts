// Session routes on the fakes: the contract's success paths, statuses and every 4xx, through app.inject.
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { assertProblem, buildFakeApp, TEST_TOKENS, tempDir, type FakeApp } from '../helper.js';
import { StoreError } from '../../src/store/errors.js';

type Json = Record<string, unknown>;

async function start(ctx: FakeApp, body: Json = {}) {
  return ctx.app.inject({
    method: 'POST',
    url: '/v1/sessions',
    payload: { name: 'Demo run', working_directory: ctx.root, command: 'bash', args: ['-c', 'true'], ...body },
  });
}


t.test('start answers 201 with the running session and a Location', async (t) => {
  const ctx = await buildFakeApp(t);
  const res = await start(ctx, { mission_id: 'm-1', executive: 'CTO' });
  t.equal(res.statusCode, 201);
  const session = res.json();
  t.equal(res.headers.location, `/v1/sessions/${session.id}`);
  t.match(session.id, /^demo-run-[0-9a-z]+-[0-9a-z]{10}$/);
  t.equal(session.status, 'running');
  t.type(session.pid, 'number');
  t.equal(session.executive, 'CTO');
  t.equal(session.mission_id, 'm-1');
  t.equal(session.assignment_id, null, 'absent values are null, never missing');
  t.equal(session.exit_signal, null);
  t.equal(session.repository_write_allowed, true);
  t.equal(session.expects_report, false);
  t.notOk('handle' in session, 'internal fields are not sent');
  t.same(ctx.processes.launched.map((l) => [l.args, l.cwd]), [[['-c', 'true'], ctx.root]]);
  t.match(ctx.processes.launched[0]?.command, /^\/.*\/bash$/, 'the name was resolved on PATH to the file that runs');
  t.equal(session.command, 'bash', 'the session shows the command as asked');

  const read = await ctx.app.inject({ url: res.headers.location as string });
  t.equal(read.statusCode, 200);
  t.same(read.json(), { ...session, last_activity: read.json().last_activity });
});

t.test('the claude arguments are built from prompt, permission mode and tools', async (t) => {
  const ctx = await buildFakeApp(t);
  const res = await start(ctx, {
    command: 'claude',
    args: undefined,
    prompt: 'Fix the flaky test',
    permission_mode: 'acceptEdits',
    allowed_tools: ['Read', 'Bash(git:*)'],
  });
  t.equal(res.statusCode, 201);
  t.same(res.json().args, ['--print', '--verbose', '--permission-mode', 'acceptEdits', '--allowedTools', 'Read', 'Bash(git:*)', '--', 'Fix the flaky test']);
  const defaulted = await start(ctx, { command: undefined, args: undefined, prompt: 'hello' });
  t.equal(defaulted.json().command, 'claude', 'the default command');
  t.same(defaulted.json().args, ['--print', '--verbose', '--', 'hello']);
  const meta = await ctx.app.inject({ url: `/v1/sessions/${defaulted.json().id}/metadata` });
  t.equal(meta.statusCode, 200);
  t.match(meta.json(), { prompt: 'hello', created_by: 'HQ01 operator', command: 'claude', executive: 'Unassigned' });
});

t.test('the child environment is filtered', async (t) => {
  const ctx = await buildFakeApp(t, { env: { SESSIOND_TOKENS: `${TEST_TOKENS.write}:write,abcdefghijklmnopqrstuvwxyz:read`, CLAUDE_X: '1', SECRET_THING: 'x' } });
  await start(ctx);
  const env = ctx.processes.launched[0]?.env ?? {};
  t.equal(env.CLAUDE_X, '1');
  t.notOk('SECRET_THING' in env);
  t.notOk(Object.keys(env).some((k) => k.startsWith('SESSIOND_')), 'no SESSIOND_ variable');
  t.notOk(Object.values(env).some((v) => v.includes('abcdefghijklmnopqrstuvwxyz')), 'no token');
});

t.test('bad start requests are problem+json and write nothing', async (t) => {
  const ctx = await buildFakeApp(t);
  const outside = await tempDir(t);
  await fs.writeFile(path.join(ctx.root, 'file.txt'), 'x');
  await fs.symlink(outside, path.join(ctx.root, 'escape'));
  const cases: Array<[string, Json, number, string]> = [
    ['missing name', { name: undefined }, 400, 'validation_failed'],
    ['empty name', { name: '' }, 400, 'validation_failed'],
    ['long name', { name: 'x'.repeat(201) }, 400, 'validation_failed'],
    ['control characters in name', { name: 'a\u0007b' }, 400, 'validation_failed'],
    ['unknown field', { colour: 'red' }, 400, 'validation_failed'],
    ['args not strings', { args: [1, 2] }, 400, 'validation_failed'],
    ['option-like permission mode', { permission_mode: '--dangerously-skip-permissions' }, 400, 'validation_failed'],
    ['relative directory', { working_directory: 'relative/dir' }, 400, 'working_directory_invalid'],
    ['missing directory', { working_directory: path.join(ctx.root, 'nope') }, 400, 'working_directory_invalid'],
    ['a file', { working_directory: path.join(ctx.root, 'file.txt') }, 400, 'working_directory_invalid'],
    ['outside the roots', { working_directory: outside }, 400, 'working_directory_invalid'],
    ['through a symlink', { working_directory: path.join(ctx.root, 'escape') }, 400, 'working_directory_invalid'],
    ['through ..', { working_directory: path.join(ctx.root, '..', path.basename(outside)) }, 400, 'working_directory_invalid'],
    ['runtime root outside', { runtime_write_root: outside }, 400, 'working_directory_invalid'],
    ['command not allowed', { command: 'python3' }, 403, 'command_not_allowed'],
    ['absolute path not allowed', { command: '/bin/bash' }, 403, 'command_not_allowed'],
    ['shell syntax', { command: 'bash; rm -rf /' }, 403, 'command_not_allowed'],
  ];
  for (const [label, body, status, code] of cases) {
    const res = await start(ctx, body);
    t.test(label, async (t) => assertProblem(t, res, status, code));
  }
  t.same(await ctx.store.list(), [], 'no record was written');
  t.same(ctx.processes.launched, [], 'no process was started');
});

t.test('bodies that are not JSON objects', async (t) => {
  const ctx = await buildFakeApp(t);
  const notJson = await ctx.app.inject({ method: 'POST', url: '/v1/sessions', headers: { 'content-type': 'application/json' }, payload: '{"name":' });
  assertProblem(t, notJson, 400, 'validation_failed');
  const text = await ctx.app.inject({ method: 'POST', url: '/v1/sessions', headers: { 'content-type': 'text/plain' }, payload: 'hi' });
  assertProblem(t, text, 415, 'unsupported_media_type');
  const huge = await ctx.app.inject({
    method: 'POST',
    url: '/v1/sessions',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ name: 'x', working_directory: ctx.root, prompt: 'y'.repeat(2 * 1024 * 1024) }),
  });
  assertProblem(t, huge, 413, 'payload_too_large');
});

t.test('a failed spawn answers a failed session with the reason', async (t) => {
  const ctx = await buildFakeApp(t);
  ctx.processes.failNextLaunch = 'command not found: bash';
  const res = await start(ctx);
  t.equal(res.statusCode, 201);
  t.match(res.json(), { status: 'failed', status_reason: 'command not found: bash', pid: null });
  t.type(res.json().stopped_at, 'string');
  const stored = await ctx.store.get(res.json().id);
  t.equal(stored?.status, 'failed', 'the record is whole and terminal');
});

t.test('more than SESSIOND_MAX_RUNNING live sessions is 429', async (t) => {
  const ctx = await buildFakeApp(t, { env: { SESSIOND_MAX_RUNNING: '2' } });
  const first = await start(ctx);
  await start(ctx);
  assertProblem(t, await start(ctx), 429, 'limit_exceeded');
  await ctx.processes.exit(first.json().id, 0);
  t.equal((await start(ctx)).statusCode, 201, 'room again once one ended');
});

t.test('unknown and malformed ids are 404 session_not_found', async (t) => {
  const ctx = await buildFakeApp(t);
  for (const id of ['nope-1-2', '..%2F..%2Fetc', 'a%00b', 'UPPER']) {
    const res = await ctx.app.inject({ url: `/v1/sessions/${id}` });
    t.test(id, async (t) => {
      t.ok([400, 404].includes(res.statusCode), 'not found or rejected');
      t.match(String(res.headers['content-type']), /^application\/problem\+json/);
    });
  }
  assertProblem(t, await ctx.app.inject({ url: '/v1/sessions/nope-1-2' }), 404, 'session_not_found');
  for (const [method, url] of [
    ['GET', '/v1/sessions/nope-1-2/metadata'],
    ['POST', '/v1/sessions/nope-1-2/stop'],
    ['POST', '/v1/sessions/nope-1-2/wait'],
    ['DELETE', '/v1/sessions/nope-1-2'],
    ['GET', '/v1/sessions/nope-1-2/logs'],
    ['GET', '/v1/sessions/nope-1-2/logs/stdout'],
    ['GET', '/v1/sessions/nope-1-2/report'],
  ] as const) {
    assertProblem(t, await ctx.app.inject({ method, url }), 404, 'session_not_found');
  }
  assertProblem(t, await ctx.app.inject({ url: '/v1/nothing' }), 404, 'not_found');
});

t.test('list: newest first, filters, pages', async (t) => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const ctx = await buildFakeApp(t, { clock: () => new Date(now) });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await start(ctx, { name: `run ${i}`, mission_id: i % 2 === 0 ? 'even' : 'odd' });
    ids.push(res.json().id);
    now += 1000;
  }
  await ctx.processes.exit(ids[0] as string, 0);
  const all = (await ctx.app.inject({ url: '/v1/sessions' })).json();
  t.equal(all.items.length, 5);
  t.equal(all.next_cursor, null);
  t.same(all.items.map((s: Json) => s.id), [...ids].reverse(), 'newest started_at first');

  const even = (await ctx.app.inject({ url: '/v1/sessions?mission_id=even' })).json();
  t.same(even.items.map((s: Json) => s.mission_id), ['even', 'even', 'even']);
  const exited = (await ctx.app.inject({ url: '/v1/sessions?status=exited' })).json();
  t.same(exited.items.map((s: Json) => s.id), [ids[0]]);
  const either = (await ctx.app.inject({ url: '/v1/sessions?status=exited&status=running' })).json();
  t.equal(either.items.length, 5, 'status is repeatable');

  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: Json = (await ctx.app.inject({ url: `/v1/sessions?limit=2${cursor ? `&cursor=${cursor}` : ''}` })).json();
    const items = page.items as Json[];
    t.ok(items.length <= 2);
    seen.push(...items.map((s) => s.id as string));
    cursor = page.next_cursor as string | null;
  } while (cursor);
  t.same(seen, all.items.map((s: Json) => s.id), 'pages cover the list once, in order');

  assertProblem(t, await ctx.app.inject({ url: '/v1/sessions?limit=0' }), 400, 'validation_failed');
  assertProblem(t, await ctx.app.inject({ url: '/v1/sessions?limit=501' }), 400, 'validation_failed');
  assertProblem(t, await ctx.app.inject({ url: '/v1/sessions?status=sleeping' }), 400, 'validation_failed');
  assertProblem(t, await ctx.app.inject({ url: '/v1/sessions?cursor=garbage' }), 400, 'validation_failed');
});

t.test('stop: graceful, forced, idempotent', async (t) => {
  const ctx = await buildFakeApp(t);
  const id = (await start(ctx)).json().id;
  const stopped = await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${id}/stop` });
  t.equal(stopped.statusCode, 200);
  t.match(stopped.json(), { status: 'stopped', exit_signal: 'SIGTERM' });
  t.type(stopped.json().stopped_at, 'string');
  const again = await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${id}/stop`, headers: { 'content-type': 'application/json' }, payload: '' });
  t.equal(again.statusCode, 200);
  t.same(again.json(), stopped.json(), 'a second stop answers the session unchanged');
  t.same(ctx.processes.signals.filter((s) => s.sessionId === id).map((s) => s.signal), ['SIGTERM'], 'signalled once');

  const stubborn = (await start(ctx)).json().id;
  ctx.processes.ignoreTerm(stubborn);
  const killed = await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${stubborn}/stop`, payload: { grace_ms: 10 } });
  t.match(killed.json(), { status: 'stopped', exit_signal: 'SIGKILL' });
  t.same(ctx.processes.signals.filter((s) => s.sessionId === stubborn).map((s) => s.signal), ['SIGTERM', 'SIGKILL']);

  const reporter = (await start(ctx, { expects_report: true })).json().id;
  const terminated = await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${reporter}/stop` });
  t.equal(terminated.json().status, 'terminated', 'stopping a report-expecting session is terminated');

  assertProblem(t, await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${id}/stop`, payload: { grace_ms: -1 } }), 400, 'validation_failed');
});

t.test('ending by itself: exited, completed, completed_missing_report', async (t) => {
  const ctx = await buildFakeApp(t);
  const plain = (await start(ctx)).json().id;
  await ctx.processes.exit(plain, 3);
  t.match((await ctx.app.inject({ url: `/v1/sessions/${plain}` })).json(), { status: 'exited', exit_code: 3, exit_signal: null });

  const missing = (await start(ctx, { expects_report: true })).json().id;
  await ctx.processes.exit(missing, 0);
  t.match((await ctx.app.inject({ url: `/v1/sessions/${missing}` })).json(), { status: 'completed_missing_report', exit_code: 0 });
  assertProblem(t, await ctx.app.inject({ url: `/v1/sessions/${missing}/report` }), 404, 'report_not_found');

  const workdir = path.join(ctx.root, 'work');
  await fs.mkdir(path.join(workdir, 'outputs'), { recursive: true });
  const done = (await start(ctx, { expects_report: true, working_directory: workdir })).json().id;
  await fs.writeFile(path.join(workdir, 'outputs', 'report.md'), '# Done\n');
  await ctx.processes.exit(done, 0);
  t.match((await ctx.app.inject({ url: `/v1/sessions/${done}` })).json(), { status: 'completed' });
  const report = await ctx.app.inject({ url: `/v1/sessions/${done}/report` });
  t.equal(report.statusCode, 200);
  t.match(String(report.headers['content-type']), /^text\/markdown/);
  t.equal(report.body, '# Done\n');

  const runtime = path.join(ctx.root, 'runtime');
  await fs.mkdir(runtime);
  const viaRuntime = (await start(ctx, { expects_report: true, runtime_write_root: runtime })).json().id;
  await fs.writeFile(path.join(runtime, 'report.md'), 'ok');
  await ctx.processes.exit(viaRuntime, 0);
  t.match((await ctx.app.inject({ url: `/v1/sessions/${viaRuntime}` })).json(), { status: 'completed', runtime_write_root: runtime });
});

t.test('wait: until the end or the timeout', async (t) => {
  const ctx = await buildFakeApp(t);
  const id = (await start(ctx)).json().id;
  const timedOut = await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${id}/wait`, payload: { timeout_ms: 20 } });
  t.equal(timedOut.statusCode, 200);
  t.equal(timedOut.json().status, 'running', 'the status says the timeout passed');
  const waiting = ctx.app.inject({ method: 'POST', url: `/v1/sessions/${id}/wait` });
  setTimeout(() => ctx.processes.exit(id, 0), 20);
  t.match((await waiting).json(), { status: 'exited', exit_code: 0 });
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${id}/wait`, payload: { timeout_ms: 300001 } }), 400, 'validation_failed');
});

t.test('delete: 409 while running, force stops first, then gone', async (t) => {
  const ctx = await buildFakeApp(t);
  const id = (await start(ctx)).json().id;
  assertProblem(t, await ctx.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}` }), 409, 'session_running');
  t.ok(ctx.processes.isRunning(id), 'a refused delete leaves it running');
  const forced = await ctx.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}?force=true` });
  t.equal(forced.statusCode, 204);
  t.equal(forced.body, '');
  t.notOk(ctx.processes.isRunning(id), 'force stopped it');
  assertProblem(t, await ctx.app.inject({ url: `/v1/sessions/${id}` }), 404, 'session_not_found');

  const ended = (await start(ctx)).json().id;
  await ctx.processes.exit(ended, 0);
  t.equal((await ctx.app.inject({ method: 'DELETE', url: `/v1/sessions/${ended}` })).statusCode, 204);
  t.equal(await ctx.store.get(ended), undefined, 'record and logs removed');
});

t.test('list: a change the store refused (a full disk) is listed as the service knows it, in order', async (t) => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const ctx = await buildFakeApp(t, { clock: () => new Date(now) });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    ids.push((await start(ctx, { name: `run ${i}` })).json().id);
    now += 1000;
  }
  const put = ctx.store.put.bind(ctx.store);
  ctx.store.put = async () => {
    throw new StoreError('io', 'no space left on the device (ENOSPC)');
  };
  await ctx.processes.exit(ids[1] as string, 0);
  const exited = (await ctx.app.inject({ url: '/v1/sessions?status=exited' })).json();
  t.same(exited.items.map((s: Json) => s.id), [ids[1]], 'the end kept in memory is what the list filters on');
  const all = (await ctx.app.inject({ url: '/v1/sessions?limit=2' })).json();
  t.same(all.items.map((s: Json) => s.status), ['running', 'exited'], 'and what it shows');
  const rest = (await ctx.app.inject({ url: `/v1/sessions?limit=2&cursor=${all.next_cursor}` })).json();
  t.same(rest.items.map((s: Json) => s.id), [ids[0]], 'the cursor goes on in the same order');
  ctx.store.put = put;
});
