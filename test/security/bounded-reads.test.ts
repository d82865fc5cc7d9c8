// Bounded reads (issue 9, point 1), on the fakes: every numeric query parameter of the OpenAPI
// document refuses Infinity, 1e999, -1 and NaN (Ajv's coercion let "Infinity" past `maximum`),
// the logs tail never reads more than its cap, and the report is refused past
// SESSIOND_MAX_REPORT_BYTES. test/security/memory.test.ts measures the same on a real server.
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { TAIL_MAX_BYTES } from '../../schemas/requests.js';
import { readTail } from '../../src/sessions/session-logs.js';
import { assertProblem, buildFakeApp } from '../helper.js';
import { createMemoryStore } from '../fakes/memory-store.js';

type Json = Record<string, any>;

interface NumericQuery {
  method: string;
  route: string;
  name: string;
  schema: Json;
}

/** Every integer or number query parameter of every operation in the document. */
function numericQueryParameters(spec: Json): NumericQuery[] {
  const out: NumericQuery[] = [];
  for (const [route, methods] of Object.entries(spec.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(methods)) {
      for (const param of (op.parameters ?? []) as Json[]) {
        const types = [param.schema?.type, ...((param.schema?.anyOf ?? []) as Json[]).map((s) => s.type)].flat();
        if (param.in === 'query' && types.some((type) => type === 'integer' || type === 'number')) {
          out.push({ method: method.toUpperCase(), route, name: param.name as string, schema: param.schema as Json });
        }
      }
    }
  }
  return out;
}

/** The route with its path parameters filled with values their schemas accept. */
function concretePath(route: string, op: Json): string {
  return route.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const param = ((op.parameters ?? []) as Json[]).find((p) => p.in === 'path' && p.name === name);
    return String(param?.schema?.enum?.[0] ?? 'a1');
  });
}

t.test('every numeric query parameter has finite bounds and refuses Infinity, 1e999, -1 and NaN', async (t) => {
  const ctx = await buildFakeApp(t);
  const spec = (await ctx.app.inject({ url: '/openapi.json' })).json() as Json;
  const params = numericQueryParameters(spec);
  t.ok(params.length >= 3, `found the numeric query parameters (${params.map((p) => `${p.route} ${p.name}`).join(', ')})`);
  for (const param of params) {
    const op = spec.paths[param.route][param.method.toLowerCase()] as Json;
    const where = `${param.method} ${param.route} ?${param.name}`;
    t.test(where, async (t) => {
      t.ok(Number.isFinite(param.schema.maximum), `${where} has a finite maximum (${param.schema.maximum})`);
      t.ok(Number.isFinite(param.schema.minimum) && param.schema.minimum >= 0, `${where} has a minimum of 0 or more`);
      const url = concretePath(param.route, op);
      for (const value of ['Infinity', '1e999', '-Infinity', '-1', 'NaN', String(param.schema.maximum + 1)]) {
        const res = await ctx.app.inject({ method: param.method, url: `${url}?${param.name}=${encodeURIComponent(value)}` });
        t.test(`${param.name}=${value}`, async (t) => {
          assertProblem(t, res, 400, 'validation_failed');
          t.ok((res.json().errors as Json[]).some((e) => e.path === `/querystring/${param.name}`), `the problem names /querystring/${param.name}`);
        });
      }
      // A valid value opens /v1/events for good (inject would wait forever); its bounds are above.
      if (url === '/v1/events') return;
      const atMax = await ctx.app.inject({ method: param.method, url: `${url}?${param.name}=${param.schema.maximum}` });
      t.not(atMax.json().code, 'validation_failed', `${param.name}=${param.schema.maximum} (the maximum) is valid`);
    });
  }
});

t.test('a JSON body cannot carry a non-finite number either (1e999 parses to Infinity)', async (t) => {
  const ctx = await buildFakeApp(t);
  const started = await ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'n', working_directory: ctx.root, command: 'bash', args: [] } });
  const id = started.json().id as string;
  for (const [route, body] of [
    ['wait', '{"timeout_ms": 1e999}'],
    ['stop', '{"grace_ms": 1e999}'],
    ['stop', '{"grace_ms": -1e999}'],
  ] as const) {
    const res = await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${id}/${route}`, headers: { 'content-type': 'application/json' }, payload: body });
    t.test(`${route} ${body}`, async (t) => assertProblem(t, res, 400, 'validation_failed'));
  }
});

t.test('the logs tail reads at most its cap from the store, whatever it is asked', async (t) => {
  const store = createMemoryStore();
  const ctx = await buildFakeApp(t, { store });
  const started = await ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'big', working_directory: ctx.root, command: 'bash', args: [] } });
  const id = started.json().id as string;
  store.appendLog(id, 'stdout', Buffer.alloc(3 * TAIL_MAX_BYTES, 'x'));
  const reads: number[] = [];
  const readLog = store.readLog.bind(store);
  store.readLog = async (...args) => {
    reads.push(args[3] - args[2]);
    return readLog(...args);
  };
  for (const asked of [Infinity, 1e300, 5 * TAIL_MAX_BYTES, Number.NaN]) {
    const tail = await readTail(store, id, 'stdout', asked);
    t.equal(tail.text.length, TAIL_MAX_BYTES, `asked for ${asked}: the cap (${TAIL_MAX_BYTES} bytes)`);
  }
  t.ok(reads.every((n) => n <= TAIL_MAX_BYTES), `no store read was larger than the cap (largest ${Math.max(...reads)})`);
  const viaHttp = await ctx.app.inject({ url: `/v1/sessions/${id}/logs?tail_bytes=${TAIL_MAX_BYTES}` });
  t.equal(viaHttp.json().stdout.length, TAIL_MAX_BYTES, 'the route serves the cap');
  t.equal(viaHttp.json().stdout_bytes, 3 * TAIL_MAX_BYTES, 'and the whole size');
});

t.test('the report is streamed as written, and refused past SESSIOND_MAX_REPORT_BYTES', async (t) => {
  const limit = 4096;
  const ctx = await buildFakeApp(t, { env: { SESSIOND_MAX_REPORT_BYTES: String(limit) } });
  const start = async (dir: string) => {
    await fs.mkdir(dir, { recursive: true });
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/v1/sessions',
      payload: { name: 'rep', working_directory: dir, command: 'bash', args: [], expects_report: true },
    });
    return res.json().id as string;
  };

  const small = await start(path.join(ctx.root, 'small'));
  const text = `# Report\n${'é'.repeat((limit - 9) / 2)}`;
  t.equal(Buffer.byteLength(text), limit - 1, 'a report one byte under the limit');
  await fs.writeFile(path.join(ctx.root, 'small', 'report.md'), text);
  const ok = await ctx.app.inject({ url: `/v1/sessions/${small}/report` });
  t.equal(ok.statusCode, 200);
  t.equal(ok.body, text, 'served byte for byte');
  t.equal(ok.headers['content-length'], String(limit - 1), 'with its length');
  t.match(String(ok.headers['content-type']), /^text\/markdown/);

  const exact = await start(path.join(ctx.root, 'exact'));
  await fs.writeFile(path.join(ctx.root, 'exact', 'report.md'), Buffer.alloc(limit, 'a'));
  t.equal((await ctx.app.inject({ url: `/v1/sessions/${exact}/report` })).statusCode, 200, 'exactly the limit is served');

  const empty = await start(path.join(ctx.root, 'empty'));
  await fs.writeFile(path.join(ctx.root, 'empty', 'report.md'), '');
  const none = await ctx.app.inject({ url: `/v1/sessions/${empty}/report` });
  t.equal(none.statusCode, 200, 'an empty report is a report');
  t.equal(none.body, '');

  const big = await start(path.join(ctx.root, 'big'));
  const handle = await fs.open(path.join(ctx.root, 'big', 'report.md'), 'w');
  await handle.truncate(400 * 1024 * 1024); // sparse: no disk used
  await handle.close();
  const refused = await ctx.app.inject({ url: `/v1/sessions/${big}/report` });
  assertProblem(t, refused, 413, 'report_too_large');
  t.match(refused.json().detail, /419430400 bytes; at most 4096/, 'the detail gives the size and the limit');
  t.match(refused.json().detail, /SESSIOND_MAX_REPORT_BYTES/, 'and names the setting');
});

t.test('the default limit is 10 MiB', async (t) => {
  const ctx = await buildFakeApp(t);
  t.equal(ctx.config.maxReportBytes, 10 * 1024 * 1024);
});
