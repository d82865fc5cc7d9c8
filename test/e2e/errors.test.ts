// End to end: every 4xx of the contract over real HTTP, each problem+json with its code, and
// a start that fails at spawn time.
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { tempDir } from '../helper.js';
import { assertProblemReply, startServer, type Json } from './helper.js';

t.test('400 validation_failed: bad fields, an unknown field, invalid JSON', async (t) => {
  const s = await startServer(t);
  const cases: Array<[string, Json]> = [
    ['missing name', { name: undefined }],
    ['empty name', { name: '' }],
    ['unknown field', { colour: 'red' }],
    ['args not strings', { args: ['-c', 1] }],
    ['expects_report not a boolean', { expects_report: 'yes' }],
  ];
  for (const [label, body] of cases) {
    const res = await s.start({ args: ['-c', 'true'], ...body });
    t.test(label, async (t) => assertProblemReply(t, res, 400, 'validation_failed'));
  }
  const unknown = (await s.start({ args: ['-c', 'true'], colour: 'red' })).json();
  t.match(unknown.detail, /colour/, 'the detail names the unknown field');

  const notJson = await s.request('POST', '/v1/sessions', { body: '{"name": "x", ', headers: { 'content-type': 'application/json' } });
  assertProblemReply(t, notJson, 400, 'validation_failed');
  const badWait = await s.request('POST', '/v1/sessions/nope-1-2/wait', { body: { timeout_ms: -5 } });
  assertProblemReply(t, badWait, 400, 'validation_failed');
  const badList = await s.request('GET', '/v1/sessions?limit=0');
  assertProblemReply(t, badList, 400, 'validation_failed');
  t.same((await s.request('GET', '/v1/sessions')).json().items, [], 'no session was created');
});

t.test('400 working_directory_invalid', async (t) => {
  const s = await startServer(t);
  const outside = await tempDir(t, 'sessiond-outside-');
  await fs.writeFile(path.join(s.root, 'file.txt'), 'x');
  for (const [label, dir] of [
    ['missing', path.join(s.root, 'nope')],
    ['outside the roots', outside],
    ['a file', path.join(s.root, 'file.txt')],
    ['relative', 'some/dir'],
  ]) {
    const res = await s.start({ working_directory: dir, args: ['-c', 'true'] });
    t.test(label as string, async (t) => assertProblemReply(t, res, 400, 'working_directory_invalid'));
  }
});

t.test('403 command_not_allowed', async (t) => {
  const s = await startServer(t, { env: { SESSIOND_ALLOWED_COMMANDS: 'bash' } });
  assertProblemReply(t, await s.start({ command: 'sh', args: ['-c', 'true'] }), 403, 'command_not_allowed');
  assertProblemReply(t, await s.start({ command: '/bin/bash', args: ['-c', 'true'] }), 403, 'command_not_allowed');
  assertProblemReply(t, await s.start({ command: 'bash -c true' }), 403, 'command_not_allowed');
  // The default command (claude) is not allowed here either.
  assertProblemReply(t, await s.start({ command: undefined, prompt: 'hi' }), 403, 'command_not_allowed');
});

t.test('404 session_not_found on every session route', async (t) => {
  const s = await startServer(t);
  for (const [method, url] of [
    ['GET', '/v1/sessions/nope-1-2'],
    ['GET', '/v1/sessions/nope-1-2/metadata'],
    ['POST', '/v1/sessions/nope-1-2/stop'],
    ['POST', '/v1/sessions/nope-1-2/wait'],
    ['DELETE', '/v1/sessions/nope-1-2'],
    ['GET', '/v1/sessions/nope-1-2/logs'],
    ['GET', '/v1/sessions/nope-1-2/logs/stdout'],
    ['GET', '/v1/sessions/nope-1-2/report'],
  ] as const) {
    const res = await s.request(method, url);
    t.test(`${method} ${url}`, async (t) => assertProblemReply(t, res, 404, 'session_not_found'));
  }
});

t.test('409 session_running on delete of a live session', async (t) => {
  const s = await startServer(t);
  const session = await s.run('sleep 300');
  assertProblemReply(t, await s.request('DELETE', `/v1/sessions/${session.id}`), 409, 'session_running');
  assertProblemReply(t, await s.request('DELETE', `/v1/sessions/${session.id}?force=false`), 409, 'session_running');
  t.equal((await s.request('GET', `/v1/sessions/${session.id}`)).json().status, 'running');
});

t.test('413 payload_too_large for a 2 MiB body', async (t) => {
  const s = await startServer(t);
  const body = JSON.stringify({ name: 'big', working_directory: s.root, command: 'bash', prompt: 'y'.repeat(2 * 1024 * 1024) });
  const res = await s.request('POST', '/v1/sessions', { body, headers: { 'content-type': 'application/json' } });
  assertProblemReply(t, res, 413, 'payload_too_large');
  t.same((await s.request('GET', '/v1/sessions')).json().items, [], 'nothing started');
});

t.test('429 limit_exceeded beyond SESSIOND_MAX_RUNNING', async (t) => {
  const s = await startServer(t, { env: { SESSIOND_MAX_RUNNING: '2' } });
  const first = await s.run('sleep 300');
  await s.run('sleep 300');
  const third = await s.start({ args: ['-c', 'sleep 300'] });
  assertProblemReply(t, third, 429, 'limit_exceeded');
  t.equal((await s.request('GET', '/v1/sessions')).json().items.length, 2, 'the refused start wrote nothing');

  await s.request('POST', `/v1/sessions/${first.id}/stop`, { body: { grace_ms: 5000 } });
  const again = await s.start({ args: ['-c', 'exit 0'] });
  t.equal(again.status, 201, 'room again once one ended');
  await s.waitEnded(again.json().id);
});

t.test('a burst of starts cannot overshoot SESSIOND_MAX_RUNNING', async (t) => {
  const s = await startServer(t, { env: { SESSIOND_MAX_RUNNING: '2' } });
  const replies = await Promise.all(Array.from({ length: 8 }, () => s.start({ args: ['-c', 'sleep 300'] })));
  const statuses = replies.map((r) => r.status).sort();
  t.same(statuses, [201, 201, 429, 429, 429, 429, 429, 429], 'exactly two started');
  for (const r of replies.filter((r) => r.status === 429)) assertProblemReply(t, r, 429, 'limit_exceeded');
  const live = (await s.request('GET', '/v1/sessions?status=running')).json().items;
  t.equal(live.length, 2);
});

t.test('416 on a range past the end', async (t) => {
  const s = await startServer(t);
  const session = await s.run('printf 0123456789');
  await s.waitEnded(session.id);
  const past = await s.request('GET', `/v1/sessions/${session.id}/logs/stdout`, { headers: { range: 'bytes=10-' } });
  assertProblemReply(t, past, 416, 'range_not_satisfiable');
  t.equal(past.headers.get('content-range'), 'bytes */10');
  const backwards = await s.request('GET', `/v1/sessions/${session.id}/logs/stdout`, { headers: { range: 'bytes=5-2' } });
  t.equal(backwards.status, 200, 'a malformed range is ignored (RFC 9110): the whole log');
  t.equal(backwards.text, '0123456789');
  const emptyLog = await s.request('GET', `/v1/sessions/${session.id}/logs/stderr`, { headers: { range: 'bytes=0-0' } });
  assertProblemReply(t, emptyLog, 416, 'range_not_satisfiable');
  const fine = await s.request('GET', `/v1/sessions/${session.id}/logs/stdout`, { headers: { range: 'bytes=8-100' } });
  t.equal(fine.status, 206, 'an end past the size is cut to it');
  t.equal(fine.text, '89');
  t.equal(fine.headers.get('content-range'), 'bytes 8-9/10');
});

t.test('a command that cannot be spawned: 201 failed with a reason, and GET says the same', async (t) => {
  const s = await startServer(t, { env: { SESSIOND_ALLOWED_COMMANDS: '*' } });
  const res = await s.start({ command: 'no-such-cmd-xyz', args: ['--help'] });
  t.equal(res.status, 201);
  const session = res.json();
  t.equal(res.headers.get('location'), `/v1/sessions/${session.id}`);
  t.match(session, { status: 'failed', pid: null, exit_code: null, command: 'no-such-cmd-xyz' });
  t.match(session.status_reason, /no-such-cmd-xyz/, 'the reason names the command');
  t.type(session.stopped_at, 'string');
  const read = await s.request('GET', `/v1/sessions/${session.id}`);
  t.equal(read.status, 200);
  t.same(read.json(), session, 'GET shows the same');
  const stop = await s.request('POST', `/v1/sessions/${session.id}/stop`);
  t.same(stop.json(), session, 'stop changes nothing');
  t.equal((await s.request('DELETE', `/v1/sessions/${session.id}`)).status, 204, 'a failed session deletes without force');
});

t.test('a command that is not executable: 201 failed, saying so', async (t) => {
  const s = await startServer(t, { env: { SESSIOND_ALLOWED_COMMANDS: '*' } });
  const file = path.join(s.root, 'not-executable');
  await fs.writeFile(file, '#!/bin/sh\necho hi\n', { mode: 0o644 });
  const res = await s.start({ command: file, args: [] });
  t.equal(res.status, 201);
  t.match(res.json(), { status: 'failed', pid: null });
  t.match(res.json().status_reason, /not executable|EACCES/);
  t.same((await s.request('GET', `/v1/sessions/${res.json().id}`)).json(), res.json());
});
