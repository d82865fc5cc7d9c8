// Hostile input: commands off the list, paths out of the roots, traversal ids, secrets in the
// log, oversized bodies, rate limits, and a few hundred random requests that must never 5xx.
import fs from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { filterChildEnv } from '../../src/config.js';
import { assertProblem, authHeader, buildFakeApp, TEST_TOKENS, tempDir, testConfig, type FakeApp } from '../helper.js';
import { createFakeProcessAdapter } from '../fakes/fake-processes.js';
import { createMemoryStore } from '../fakes/memory-store.js';

const start = (ctx: FakeApp, body: Record<string, unknown>) =>
  ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'attack', working_directory: ctx.root, ...body } });

t.test('commands: only the allowed ones, resolved on PATH, no shell syntax', async (t) => {
  const ctx = await buildFakeApp(t, { env: { SESSIOND_ALLOWED_COMMANDS: 'bash' } });
  const refused = ['sh', 'python3', '/bin/sh', '/usr/bin/env', 'bash;id', 'bash -c id', '$(id)', '`id`', 'bash|id', '../bin/bash', './bash', '/bin/../bin/bash', 'bash\nid', '-bash', ''];
  for (const command of refused) {
    const res = await start(ctx, { command });
    t.test(JSON.stringify(command), async (t) => assertProblem(t, res, command === '' ? 400 : 403, command === '' ? 'validation_failed' : 'command_not_allowed'));
  }
  t.same(ctx.processes.launched, [], 'nothing was started');
  const bashPath = ctx.processes.launched[0]?.command;
  t.equal(bashPath, undefined);
  const allowed = await start(ctx, { command: 'bash', args: [] });
  t.equal(allowed.statusCode, 201, 'the allowed name');
  const resolved = ctx.processes.launched[0]?.command as string;
  t.ok(path.isAbsolute(resolved), 'launched by absolute path');
  const byPath = await start(ctx, { command: resolved, args: [] });
  t.equal(byPath.statusCode, 201, 'the absolute path the allowed name resolves to');
});

t.test('directories: inside the roots only, after symlinks and ..', async (t) => {
  const ctx = await buildFakeApp(t);
  const outside = await tempDir(t);
  await fs.symlink(outside, path.join(ctx.root, 'link-out'));
  await fs.mkdir(path.join(ctx.root, 'inside'));
  await fs.symlink(path.join(ctx.root, 'inside'), path.join(ctx.root, 'link-in'));
  for (const dir of [outside, path.join(ctx.root, 'link-out'), `${ctx.root}/../${path.basename(outside)}`, '/', '/etc', `${ctx.root}/inside/../../`, `${ctx.root}\u0000/x`]) {
    const res = await start(ctx, { working_directory: dir, command: 'bash' });
    t.test(dir, async (t) => assertProblem(t, res, 400, 'working_directory_invalid'));
    const rwr = await start(ctx, { runtime_write_root: dir, command: 'bash' });
    t.test(`runtime_write_root ${dir}`, async (t) => assertProblem(t, rwr, 400, 'working_directory_invalid'));
  }
  const viaLink = await start(ctx, { working_directory: path.join(ctx.root, 'link-in'), command: 'bash', args: [] });
  t.equal(viaLink.statusCode, 201, 'a symlink that stays inside is fine');
  t.equal(viaLink.json().working_directory, path.join(ctx.root, 'inside'), 'and is recorded resolved');
});

t.test('traversal ids never reach the store', async (t) => {
  const ctx = await buildFakeApp(t);
  const long = await ctx.app.inject({ url: `/v1/sessions/${'a'.repeat(300)}` });
  assertProblem(t, long, 414, 'uri_too_long');
  t.notOk(long.body.includes('a'.repeat(300)), 'an over-long URL is not echoed back');
  for (const id of ['..%2F..%2Fetc%2Fpasswd', '..', '%2e%2e', 'a%00b', 'x%2F..%2Fy', 'A-B', 'a'.repeat(200)]) {
    for (const suffix of ['', '/metadata', '/logs', '/logs/stdout', '/report']) {
      const res = await ctx.app.inject({ url: `/v1/sessions/${id}${suffix}` });
      t.ok([400, 404].includes(res.statusCode), `${id}${suffix}: ${res.statusCode}`);
      t.match(String(res.headers['content-type']), /^application\/problem\+json/);
    }
  }
});

t.test('a session sees only SESSIOND_CHILD_ENV, never SESSIOND_* or a token', async (t) => {
  const ctx = await buildFakeApp(t, { env: { ANTHROPIC_API_KEY: 'sk-test', AWS_SECRET_ACCESS_KEY: 'nope', SESSIOND_CHILD_ENV: 'PATH,ANTHROPIC_*,SESSIOND_*' } });
  await start(ctx, { command: 'bash', args: [] });
  const env = ctx.processes.launched[0]?.env ?? {};
  t.same(Object.keys(env).sort(), ['ANTHROPIC_API_KEY', 'PATH'], 'exactly the allowed names');
  t.notOk(JSON.stringify(env).includes(TEST_TOKENS.write), 'no token');
  t.same(filterChildEnv(['*'], { SESSIOND_TOKENS: 'x', HOME: '/h' }), { HOME: '/h' }, 'SESSIOND_* is dropped whatever the patterns say');
});

t.test('the service log never shows a token', async (t) => {
  const lines: string[] = [];
  const config = await testConfig(t, { SESSIOND_LOG_LEVEL: 'trace' });
  const store = createMemoryStore();
  const processes = createFakeProcessAdapter();
  const app = await buildApp({ config, store, processes, logger: { level: 'trace', stream: { write: (l: string) => lines.push(l) } } });
  t.teardown(() => app.close());
  await app.inject({ url: '/v1/sessions', headers: authHeader('write') });
  await app.inject({ url: '/v1/sessions', headers: { authorization: 'Bearer wrong-but-secret-looking-token' } });
  const started = await app.inject({ method: 'POST', url: '/v1/sessions', headers: authHeader('write'), payload: { name: 'x', working_directory: config.workspaceRoots[0], command: 'bash', args: [] } });
  await processes.exit(started.json().id, 0);
  await app.inject({ url: `/v1/sessions/${started.json().id}/logs/stream?access_token=${TEST_TOKENS.read}` });
  const log = lines.join('');
  t.ok(log.includes('"request":{'), 'requests were logged');
  for (const secret of [TEST_TOKENS.write, TEST_TOKENS.read, 'wrong-but-secret-looking-token']) t.notOk(log.includes(secret), `no ${secret.slice(0, 10)}…`);
});

t.test('security headers on JSON, problem and stream responses', async (t) => {
  const ctx = await buildFakeApp(t);
  for (const url of ['/v1/sessions', '/v1/sessions/nope-1-2', '/healthz']) {
    const res = await ctx.app.inject({ url });
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${url} nosniff`);
    t.ok(res.headers['x-frame-options'] || res.headers['content-security-policy'], `${url} no framing`);
  }
});

t.test('limits: 2 MiB body, running limit, write rate per token', async (t) => {
  const ctx = await buildFakeApp(t, { env: { SESSIOND_RATE_LIMIT: '5', SESSIOND_MAX_RUNNING: '100' } });
  const huge = await ctx.app.inject({ method: 'POST', url: '/v1/sessions', headers: { 'content-type': 'application/json' }, payload: `{"name":"${'x'.repeat(2 * 1024 * 1024)}"}` });
  assertProblem(t, huge, 413, 'payload_too_large');
  const codes: number[] = [];
  for (let i = 0; i < 6; i++) codes.push((await start(ctx, { command: 'bash', args: [] })).statusCode);
  t.same(codes.slice(0, 4), [201, 201, 201, 201]);
  const limited = await start(ctx, { command: 'bash', args: [] });
  assertProblem(t, limited, 429, 'limit_exceeded');
  t.ok(limited.headers['retry-after'], 'says when to retry');
  t.equal((await ctx.app.inject({ url: '/v1/sessions' })).statusCode, 200, 'reads are not limited');
  const other = await ctx.app.inject({ method: 'POST', url: '/v1/sessions/nope-1-2/stop', headers: authHeader('write'), payload: {} });
  t.equal(other.statusCode, 429, 'the budget is the token’s, across write routes');
});

t.test('random bodies, queries and paths never get a 5xx', async (t) => {
  const ctx = await buildFakeApp(t);
  const value = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));
  const body = fc.oneof(
    fc.dictionary(fc.constantFrom('name', 'working_directory', 'command', 'args', 'prompt', 'expects_report', 'allowed_tools', 'runtime_write_root', 'permission_mode', 'grace_ms', 'timeout_ms', '__proto__', 'constructor', 'x'), value),
    fc.string().map((s) => ({ raw: s })),
    value,
  );
  const segment = fc.oneof(fc.string(), fc.constantFrom('..', '%2e%2e', '%00', '%2F', 'stdout', 'stderr', 'stream', 'logs', 'report', 'metadata', 'stop', 'wait'));
  const request = fc.record({
    method: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH'),
    segments: fc.array(segment, { maxLength: 4 }),
    query: fc.dictionary(fc.constantFrom('limit', 'cursor', 'status', 'tail_bytes', 'force', 'follow', 'from', 'streams', 'last_event_id', 'x'), fc.string()),
    body,
    contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', undefined),
  });
  let checked = 0;
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const url = `/v1/sessions/${r.segments.map((s) => encodeURIComponent(s)).join('/')}?${new URLSearchParams(r.query)}`;
      const hasBody = r.method !== 'GET' && r.method !== 'DELETE';
      const raw = typeof r.body === 'object' && r.body !== null && 'raw' in r.body ? String((r.body as { raw: unknown }).raw) : null;
      const payload = hasBody ? (raw ?? JSON.stringify(r.body)) : undefined;
      const res = await ctx.app.inject({
        method: r.method as 'GET',
        url,
        payload,
        headers: r.contentType && hasBody ? { 'content-type': r.contentType } : {},
      });
      checked++;
      if (res.statusCode >= 500) throw new Error(`${r.method} ${url} -> ${res.statusCode} ${res.body}`);
      if (res.statusCode >= 400) {
        if (!String(res.headers['content-type']).startsWith('application/problem+json')) throw new Error(`${r.method} ${url}: ${res.headers['content-type']}`);
        const problem = res.json();
        if (typeof problem.code !== 'string' || problem.status !== res.statusCode) throw new Error(`bad problem ${res.body}`);
      }
    }),
    { numRuns: 400 },
  );
  t.equal(checked, 400, 'four hundred requests');
  t.equal((await ctx.app.inject({ url: '/healthz' })).statusCode, 200, 'still answering');
});
