// Auth over every route: no token, a wrong token, a read token where write is needed, the open
// routes, ?access_token= on the streams only, and the token generated on first start.
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { assertSafeExposure, ConfigError, loadConfig } from '../../src/config.js';
import { assertProblem, buildFakeApp, TEST_TOKENS, authHeader, tempDir, type FakeApp } from '../helper.js';
import { createFakeProcessAdapter } from '../fakes/fake-processes.js';
import { createMemoryStore } from '../fakes/memory-store.js';

const NO_TOKEN = { authorization: undefined } as unknown as Record<string, string>;

/** Every operation of the spec, with its path filled in for a real session. */
async function operations(ctx: FakeApp, id: string) {
  const spec = (await ctx.app.inject({ url: '/openapi.json', headers: NO_TOKEN })).json();
  const ops: Array<{ method: string; url: string; open: boolean }> = [];
  for (const [route, methods] of Object.entries(spec.paths as Record<string, Record<string, { security?: unknown[] }>>)) {
    for (const [method, op] of Object.entries(methods)) {
      const url = route.replace('{id}', id).replace('{stream}', 'stdout');
      ops.push({ method: method.toUpperCase(), url, open: Array.isArray(op.security) && op.security.length === 0 });
    }
  }
  return ops;
}

async function startEnded(ctx: FakeApp): Promise<string> {
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/v1/sessions',
    payload: { name: 'auth', working_directory: ctx.root, command: 'bash', args: [] },
  });
  const id = res.json().id as string;
  await ctx.processes.exit(id, 0);
  return id;
}

t.test('every API route wants a token with the right scope', async (t) => {
  const ctx = await buildFakeApp(t);
  const id = await startEnded(ctx);
  const ops = await operations(ctx, id);
  t.ok(ops.length >= 12, 'the spec lists every route');
  for (const op of ops.filter((o) => !o.open)) {
    const payload = op.method === 'POST' ? {} : undefined;
    const missing = await ctx.app.inject({ method: op.method as 'GET', url: op.url, headers: NO_TOKEN, payload });
    assertProblem(t, missing, 401, 'unauthorized');
    t.match(String(missing.headers['www-authenticate']), /^Bearer/, `${op.method} ${op.url}: WWW-Authenticate`);
    const wrong = await ctx.app.inject({ method: op.method as 'GET', url: op.url, headers: { authorization: 'Bearer not-a-real-token-at-all' }, payload });
    assertProblem(t, wrong, 401, 'unauthorized');
    // /v1/events never ends by itself (inject would wait forever): its read token is tested over
    // a real socket in test/events/events-stream.test.ts.
    if (op.url === '/v1/events') continue;
    const read = await ctx.app.inject({ method: op.method as 'GET', url: op.url, headers: authHeader('read'), payload });
    if (op.method === 'GET') t.not(read.statusCode, 403, `${op.method} ${op.url}: a read token may read`);
    else assertProblem(t, read, 403, 'forbidden');
  }
  t.same(
    ops.filter((o) => o.open).map((o) => o.url).sort(),
    ['/healthz', '/readyz'],
    'only health routes are open (the spec and docs are not API operations)',
  );
  for (const url of ['/healthz', '/readyz', '/openapi.json', '/docs/']) {
    t.equal((await ctx.app.inject({ url, headers: NO_TOKEN })).statusCode, 200, `${url} needs no token`);
  }
});

t.test('the token scheme is declared in the spec', async (t) => {
  const ctx = await buildFakeApp(t);
  const spec = (await ctx.app.inject({ url: '/openapi.json' })).json();
  t.match(spec.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer' });
  t.same(spec.paths['/v1/sessions'].get.security, [{ bearer: ['read'] }]);
  t.same(spec.paths['/v1/sessions'].post.security, [{ bearer: ['write'] }]);
  t.same(spec.paths['/v1/sessions/{id}/logs/stream'].get.security, [{ bearer: ['read'] }, { access_token: ['read'] }]);
  t.same(spec.paths['/healthz'].get.security, []);
});

t.test('?access_token= works on the streams only', async (t) => {
  const ctx = await buildFakeApp(t);
  const id = await startEnded(ctx);
  const stream = await ctx.app.inject({ url: `/v1/sessions/${id}/logs/stream?access_token=${TEST_TOKENS.read}`, headers: NO_TOKEN });
  t.equal(stream.statusCode, 200);
  t.match(stream.body, /event: end/);
  const follow = await ctx.app.inject({ url: `/v1/sessions/${id}/logs/stdout?follow=true&access_token=${TEST_TOKENS.read}`, headers: NO_TOKEN });
  t.equal(follow.statusCode, 200);
  const list = await ctx.app.inject({ url: `/v1/sessions?access_token=${TEST_TOKENS.read}`, headers: NO_TOKEN });
  assertProblem(t, list, 401, 'unauthorized');
  const raw = await ctx.app.inject({ url: `/v1/sessions/${id}/logs/stdout?access_token=${TEST_TOKENS.read}`, headers: NO_TOKEN });
  assertProblem(t, raw, 401, 'unauthorized');
});

t.test('without configured tokens one is generated, kept 0600, reused, printed once', async (t) => {
  const data = await tempDir(t);
  const root = await tempDir(t);
  const lines: string[] = [];
  const logger = { level: 'info', stream: { write: (line: string) => lines.push(line) } };
  const build = async () => {
    const app = await buildApp({
      config: loadConfig({ SESSIOND_DATA_DIR: data, SESSIOND_WORKSPACE_ROOTS: root }, root),
      store: createMemoryStore(),
      processes: createFakeProcessAdapter(),
      logger,
    });
    t.teardown(() => app.close());
    return app;
  };
  const first = await build();
  const file = path.join(data, 'token');
  const token = (await fs.readFile(file, 'utf8')).trim();
  t.ok(token.length >= 32, 'at least 32 characters');
  t.equal((await fs.stat(file)).mode & 0o777, 0o600, 'mode 0600');
  t.equal(lines.filter((l) => l.includes(token)).length, 1, 'printed once');
  const ok = await first.inject({ method: 'GET', url: '/v1/sessions', headers: { authorization: `Bearer ${token}` } });
  t.equal(ok.statusCode, 200, 'it is a working token');
  const started = await first.inject({ method: 'POST', url: '/v1/sessions/x-1-2/stop', headers: { authorization: `Bearer ${token}` } });
  t.equal(started.statusCode, 404, 'with write scope');
  await first.close();

  lines.length = 0;
  await build();
  t.equal((await fs.readFile(file, 'utf8')).trim(), token, 'reused on the next start');
  t.notOk(lines.some((l) => l.includes(token)), 'not printed again');
});

t.test('a non-loopback address without tokens is refused with a reason', async (t) => {
  t.throws(() => assertSafeExposure({ host: '0.0.0.0', tokens: [] }), ConfigError);
  t.throws(() => assertSafeExposure({ host: '192.168.1.5', tokens: [] }), /SESSIOND_TOKENS/);
  t.doesNotThrow(() => assertSafeExposure({ host: '127.0.0.1', tokens: [] }));
  t.doesNotThrow(() => assertSafeExposure({ host: '::1', tokens: [] }));
  t.doesNotThrow(() => assertSafeExposure({ host: '0.0.0.0', tokens: [{ token: 'x'.repeat(32), scope: 'write' }] }));
});
