// A NUL in args, sent to the real service over a real socket (issue 9, point 7). v1 launched it:
// Node refused the spawn and the caller got a `failed` session whose reason was Node's internal
// message. Now: 400 validation_failed, and no session is created, recorded or run.
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { deploy } from '../reliability/server-process.js';

t.test('POST /v1/sessions with "args": ["a\\u0000b"]: 400 validation_failed, no session created', async (t) => {
  const d = await deploy(t);
  await d.start();
  // The body on the wire holds the JSON escape \u0000, as a client's JSON encoder writes it.
  const body = JSON.stringify({ name: 'nul', working_directory: d.root, command: 'bash', args: ['a\u0000b'] });
  t.ok(body.includes('\\u0000'), 'the request carries a NUL in args');
  const res = await d.request('POST', '/v1/sessions', { body });
  t.equal(res.status, 400, `400 (${res.text.slice(0, 200)})`);
  t.match(String(res.headers['content-type']), /^application\/problem\+json/, 'problem+json');
  t.equal(res.json().code, 'validation_failed', 'validation_failed');
  t.notMatch(res.text, /ERR_INVALID_ARG_VALUE|null bytes/i, 'not Node’s internal message');

  // A NUL inside a bash script too (the v1 reproduction: `-c 'echo a<NUL>b'`).
  const script = await d.startSession({ args: ['-c', 'echo a\u0000b'] });
  t.equal(script.status, 400, 'a NUL inside a -c script: 400');
  t.equal(script.json().code, 'validation_failed', 'validation_failed');

  const list = await d.request('GET', '/v1/sessions');
  t.equal(list.status, 200, 'the list answers');
  t.same(list.json().items, [], 'the list holds no session');
  const stored = await fs.readdir(path.join(d.dataDir, 'sessions')).catch(() => [] as string[]);
  t.same(stored, [], 'nothing was recorded in the data directory');

  // The same start without the NUL is accepted: the refusal was the NUL.
  const fine = await d.startSession({ args: ['-c', 'echo ab'] });
  t.equal(fine.status, 201, 'without the NUL: 201');
  const ended = await d.waitEnded(fine.json().id as string);
  t.match(ended, { status: 'exited', exit_code: 0 }, 'and runs');
  t.equal((await d.request('GET', '/v1/sessions')).json().items.length, 1, 'and it is the only session');
});
