// Bad input sent to the real service over a real socket, with real processes (issue 9, point 8;
// test/security/bad-input.test.ts and bounded-reads.test.ts show the same on the fakes).
// v1: a lone surrogate in a name made GET /v1/sessions invalid JSON for jq; C1 controls and
// control characters in allowed_tools were accepted and launched; `limit=Infinity` and
// `tail_bytes=Infinity` went past `maximum` (Ajv's coercion).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { deploy, type Deployment, type Json, type Reply } from '../reliability/server-process.js';

const HAS_JQ = spawnSync('jq', ['--version']).status === 0;

/** The body parses as JSON, and (where jq is installed) jq reads it too: jq refuses an escaped lone surrogate. */
function assertStrictJson(t: Test, reply: Reply, what: string): void {
  const lone: string[] = [];
  // With the u flag, \p{Cs} matches a surrogate only when it is not half of a pair.
  t.doesNotThrow(() => JSON.parse(reply.text, (_key, value: unknown) => (typeof value === 'string' && /\p{Cs}/u.test(value) && lone.push(value), value)), `${what}: JSON.parse reads the raw text`);
  t.same(lone, [], `${what}: no string holds a lone surrogate`);
  if (HAS_JQ) {
    const jq = spawnSync('jq', ['.'], { input: reply.bytes });
    t.equal(jq.status, 0, `${what}: jq . reads it (${jq.stderr.toString().trim()})`);
  }
}

function assertValidationFailed(t: Test, reply: Reply, what: string): void {
  t.equal(reply.status, 400, `${what}: 400 (${reply.text.slice(0, 200)})`);
  t.match(String(reply.headers['content-type']), /^application\/problem\+json/, `${what}: problem+json`);
  t.equal(reply.json().code, 'validation_failed', `${what}: validation_failed`);
  assertStrictJson(t, reply, `${what}: the problem`);
}

/** POST /v1/sessions with `fields` spliced in as raw JSON text (escapes kept as the client wrote them). */
function rawStart(d: Deployment, fields: string, script: string): Promise<Reply> {
  const body = `{"working_directory":${JSON.stringify(d.root)},"command":"bash","args":["-c",${JSON.stringify(script)}],${fields}}`;
  return d.request('POST', '/v1/sessions', { body });
}

/** What a refused start must leave: no session listed, nothing under <data>/sessions, no marker written. */
async function assertNothingLaunched(t: Test, d: Deployment): Promise<void> {
  const list = await d.request('GET', '/v1/sessions');
  t.equal(list.status, 200, 'the list answers');
  t.same(list.json().items, [], 'no session is listed');
  const stored = await fs.readdir(path.join(d.dataDir, 'sessions')).catch(() => [] as string[]);
  t.same(stored, [], 'nothing under <data>/sessions');
  const markers = (await fs.readdir(d.root)).filter((name) => name.startsWith('launched-'));
  t.same(markers, [], 'no refused start ran its script');
}

t.test('lone surrogates and C1 controls in a name: 400 over a real socket, and the list stays valid JSON', async (t) => {
  const d = await deploy(t);
  await d.start();
  // Raw JSON text: `\ud800` is the six characters a client's encoder writes for a lone surrogate;
  // the C1 characters go both escaped and as their raw UTF-8 bytes.
  const refused: Array<[string, string]> = [
    ['a lone high surrogate, escaped (the v1 jq breaker)', '"name":"a\\ud800"'],
    ['a lone low surrogate, escaped', '"name":"\\udc00b"'],
    ['a high surrogate followed by a non-surrogate escape', '"name":"\\ud800\\u0041"'],
    ['C1 NEL (U+0085), escaped', '"name":"a\\u0085b"'],
    ['C1 NEL (U+0085), raw UTF-8', `"name":"a\u0085b"`],
    ['C1 CSI (U+009B), escaped', '"name":"a\\u009b31m"'],
    ['C1 CSI (U+009B), raw UTF-8', `"name":"a\u009b31m"`],
  ];
  for (const [i, [what, fields]] of refused.entries()) {
    assertValidationFailed(t, await rawStart(d, fields, `touch launched-${i}`), what);
  }
  await assertNothingLaunched(t, d);

  // Real characters beyond ASCII are fine: an escaped surrogate pair is one emoji.
  const fine = await rawStart(d, '"name":"Ünïcødé \\ud83d\\ude00 ✓"', 'touch launched-fine');
  t.equal(fine.status, 201, `an escaped surrogate pair (one emoji): 201 (${fine.text.slice(0, 200)})`);
  const ended = await d.waitEnded(fine.json().id as string);
  t.match(ended, { status: 'exited', exit_code: 0 }, 'and it runs');

  const list = await d.request('GET', '/v1/sessions');
  t.equal(list.status, 200, 'GET /v1/sessions: 200');
  assertStrictJson(t, list, 'GET /v1/sessions');
  const items = list.json().items as Json[];
  t.equal(items.length, 1, 'only the accepted session is listed');
  t.equal(items[0]?.name, 'Ünïcødé 😀 ✓', 'its name round-trips');
  const one = await d.request('GET', `/v1/sessions/${fine.json().id as string}`);
  assertStrictJson(t, one, 'GET /v1/sessions/:id');
});

t.test('control characters in allowed_tools and in names: 400, nothing launched, with real processes', async (t) => {
  const d = await deploy(t);
  await d.start();
  const refused: Array<[string, Json]> = [
    ['NUL in a tool', { allowed_tools: ['Bash\u0000'] }],
    ['ESC in a tool', { allowed_tools: ['Read', 'Bash\u001b[2J'] }],
    ['a line feed in a tool', { allowed_tools: ['Read\nBash'] }],
    ['C1 NEL in a tool', { allowed_tools: ['Read\u0085'] }],
    ['C1 CSI in a tool', { allowed_tools: ['Read\u009b31m'] }],
    ['a lone surrogate in a tool', { allowed_tools: ['Read\udfff'] }],
    ['a line feed as a tool’s first character', { allowed_tools: ['\nRead'] }],
    ['NUL in the name', { name: 'a\u0000b' }],
    ['ESC in the name', { name: 'a\u001b[31mred' }],
    ['a line feed in the name', { name: 'two\nlines' }],
    ['a carriage return in the name', { name: 'over\rwrite' }],
    ['DEL in the name', { name: 'a\u007fb' }],
    ['C1 NEL in the name', { name: 'a\u0085b' }],
  ];
  for (const [i, [what, body]] of refused.entries()) {
    assertValidationFailed(t, await d.startSession({ args: ['-c', `touch launched-${i}`], ...body }), what);
  }
  await assertNothingLaunched(t, d);

  // The same starts without the bad characters run, and write their marker: the refusals above
  // were the characters, and a launched start would have shown.
  const fine = await d.startSession({ name: 'tools', allowed_tools: ['Read', 'Bash'], args: ['-c', 'touch launched-fine'] });
  t.equal(fine.status, 201, `clean tools and name: 201 (${fine.text.slice(0, 200)})`);
  t.match(await d.waitEnded(fine.json().id as string), { status: 'exited', exit_code: 0 }, 'and it runs');
  t.same((await fs.readdir(d.root)).filter((name) => name.startsWith('launched-')), ['launched-fine'], 'only its marker exists');
  t.equal((await d.request('GET', '/v1/sessions')).json().items.length, 1, 'and it is the only session');
});

// Found by this file: the tool pattern (NotAnOption in schemas/requests.ts) once kept the first
// character only from being `-` or white space, so a control character or a lone surrogate there
// passed, the session started, and a lone surrogate made the list invalid JSON for jq again.
t.test('a control character or lone surrogate as the first character of a tool: 400, nothing launched', async (t) => {
  const d = await deploy(t);
  await d.start();
  const refused: Array<[string, Json]> = [
    ['NUL first', { allowed_tools: ['\u0000Bash'] }],
    ['ESC first', { allowed_tools: ['Read', '\u001b[2JBash'] }],
    ['DEL first', { allowed_tools: ['\u007fRead'] }],
    ['C1 CSI first', { allowed_tools: ['\u009b31mRead'] }],
    ['a lone surrogate first', { allowed_tools: ['\ud800Read'] }],
  ];
  for (const [i, [what, body]] of refused.entries()) {
    const res = await d.startSession({ args: ['-c', `touch launched-${i}`], ...body });
    t.equal(res.status, 400, `${what}: 400 (${res.text.slice(0, 120)})`);
    t.equal(res.json().code, 'validation_failed', `${what}: validation_failed`);
    if (res.status === 201) await d.waitEnded(res.json().id as string);
  }
  const list = await d.request('GET', '/v1/sessions');
  t.same(list.json().items, [], 'no session is listed');
  if (HAS_JQ) {
    const jq = spawnSync('jq', ['.'], { input: list.bytes });
    t.equal(jq.status, 0, `jq . reads GET /v1/sessions (${jq.stderr.toString().trim()})`);
  }
  const stored = await fs.readdir(path.join(d.dataDir, 'sessions')).catch(() => [] as string[]);
  t.same(stored, [], 'nothing under <data>/sessions');
  t.same((await fs.readdir(d.root)).filter((name) => name.startsWith('launched-')), [], 'no refused start ran its script');
});

t.test('Infinity, 1e999 and friends in numeric query parameters: 400 validation_failed over a real socket', async (t) => {
  const d = await deploy(t);
  await d.start();
  const session = await d.run('echo hello');
  await d.waitEnded(session.id as string);
  const id = session.id as string;

  // The issue's own reproductions first.
  for (const url of ['/v1/sessions?limit=Infinity', '/v1/sessions?limit=1e999', `/v1/sessions/${id}/logs?tail_bytes=Infinity`]) {
    const res = await d.request('GET', url, { timeoutMs: 10_000 });
    assertValidationFailed(t, res, `GET ${url}`);
  }

  // Then every numeric query parameter the service documents, on a real session.
  const spec = (await d.request('GET', '/openapi.json')).json();
  const params: Array<{ route: string; name: string }> = [];
  for (const [route, methods] of Object.entries(spec.paths as Record<string, Record<string, Json>>)) {
    for (const param of (methods.get?.parameters ?? []) as Json[]) {
      const types = [param.schema?.type, ...((param.schema?.anyOf ?? []) as Json[]).map((s) => s.type)].flat();
      if (param.in === 'query' && types.some((type) => type === 'integer' || type === 'number')) params.push({ route, name: param.name as string });
    }
  }
  const names = params.map((p) => `${p.route}?${p.name}`);
  for (const expected of ['/v1/sessions?limit', '/v1/sessions/{id}/logs?tail_bytes', '/v1/sessions/{id}/logs/{stream}?tail_bytes', '/v1/events?since']) {
    t.ok(names.includes(expected), `the document lists ${expected}`);
  }
  for (const { route, name } of params) {
    const url = route.replace('{id}', id).replace('{stream}', 'stdout');
    for (const value of ['Infinity', '-Infinity', '1e999', '-1e999', 'NaN']) {
      // A stream route that took the value would hang: the timeout turns that into a failure.
      const res = await d.request('GET', `${url}?${name}=${encodeURIComponent(value)}`, { timeoutMs: 10_000 });
      assertValidationFailed(t, res, `GET ${url}?${name}=${value}`);
      t.ok((res.json().errors as Json[] | undefined)?.some((e) => e.path === `/querystring/${name}`), `the problem names /querystring/${name}`);
    }
  }

  // Finite values within bounds are answered.
  t.equal((await d.request('GET', '/v1/sessions?limit=500')).status, 200, 'limit=500: 200');
  const tail = await d.request('GET', `/v1/sessions/${id}/logs?tail_bytes=1048576`);
  t.equal(tail.status, 200, 'tail_bytes=1048576: 200');
  t.equal(tail.json().stdout, 'hello\n', 'and the log is read');
});
