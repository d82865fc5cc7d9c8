// The committed openapi/openapi.json must be exactly what the routes generate (run `npm run openapi`).
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { buildOpenApiDocument } from '../src/openapi-document.js';
import { buildFakeApp, tempDir } from './helper.js';

t.test('openapi/openapi.json matches the routes', async (t) => {
  const committed = await fs.readFile(path.join(process.cwd(), 'openapi', 'openapi.json'), 'utf8');
  const generated = await buildOpenApiDocument(await tempDir(t));
  t.equal(committed, generated, 'openapi/openapi.json is stale: run npm run openapi and commit it');
});

t.test('every route has tags, a summary and its error responses', async (t) => {
  const spec = JSON.parse(await buildOpenApiDocument(await tempDir(t)));
  for (const [route, methods] of Object.entries(spec.paths as Record<string, Record<string, Record<string, unknown>>>)) {
    for (const [method, op] of Object.entries(methods)) {
      t.ok(Array.isArray(op.tags) && op.tags.length > 0, `${method} ${route} has tags`);
      t.type(op.summary, 'string', `${method} ${route} has a summary`);
      const responses = op.responses as Record<string, { content?: Record<string, unknown> }>;
      t.ok(responses['500']?.content?.['application/problem+json'], `${method} ${route} documents its 500 as problem+json`);
    }
  }
  t.ok(spec.components.schemas.Session, 'Session is a named component');
  t.ok(spec.components.schemas.Problem, 'Problem is a named component');
});

type Json = Record<string, any>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

function operationsOf(spec: Json): Array<{ where: string; path: string; method: string; op: Json }> {
  const out = [];
  for (const [section, items] of [['paths', spec.paths], ['webhooks', spec.webhooks ?? {}]] as const) {
    for (const [path, item] of Object.entries(items as Json)) {
      for (const method of METHODS) {
        if (item[method]) out.push({ where: `${method.toUpperCase()} ${section === 'webhooks' ? `webhook ${path}` : path}`, path, method, op: item[method] as Json });
      }
    }
  }
  return out;
}

t.test('every operation has a unique camelCase operationId and real descriptions', async (t) => {
  const spec = JSON.parse(await buildOpenApiDocument(await tempDir(t)));
  const seen = new Map<string, string>();
  for (const { where, op } of operationsOf(spec)) {
    t.match(op.operationId, /^[a-z][a-zA-Z0-9]+$/, `${where} has a camelCase operationId (schema.operationId in its route)`);
    t.notOk(seen.has(op.operationId), `${where}: ${op.operationId} is unique${seen.has(op.operationId) ? ` (also ${seen.get(op.operationId)})` : ''}`);
    seen.set(op.operationId, where);
    for (const [status, response] of Object.entries(op.responses as Json)) {
      t.not(response.description, 'Default Response', `${where} ${status} says what it answers`);
      t.ok(String(response.description ?? '').length > 0, `${where} ${status} has a description`);
    }
  }
  t.ok(seen.has('startSession') && seen.has('listSessions') && seen.has('getSessionLogs'), 'the names generated clients call');
});

t.test('one version with package.json, a license, servers', async (t) => {
  const spec = JSON.parse(await buildOpenApiDocument(await tempDir(t)));
  const pkg = JSON.parse(await fs.readFile(path.join(process.cwd(), 'package.json'), 'utf8'));
  t.equal(spec.info.version, pkg.version, 'info.version is the package version');
  t.equal(spec.info.license.identifier, pkg.license, 'the package’s license');
  t.ok(Array.isArray(spec.servers) && spec.servers.length > 0, 'servers');
});

t.test('every /v1 operation documents the errors that apply to it, as problem+json', async (t) => {
  const spec = JSON.parse(await buildOpenApiDocument(await tempDir(t)));
  const isProblem = (response: Json | undefined) => response?.content?.['application/problem+json']?.schema?.$ref === '#/components/schemas/Problem';
  for (const { where, path: route, method, op } of operationsOf(spec)) {
    if (!route.startsWith('/v1/') || where.includes('webhook /')) continue;
    const responses = op.responses as Json;
    const expected = ['401', '500'];
    if (method !== 'get') expected.push('403', '429');
    if ((op.parameters ?? []).length > 0 || op.requestBody) expected.push('400');
    if (route.includes('{')) expected.push('404');
    for (const status of expected) t.ok(isProblem(responses[status]), `${where} documents ${status} as problem+json`);
    if (method === 'get') t.notOk(responses['403'] && /`forbidden`/.test(responses['403'].description), `${where}: any token may read, so no 403 forbidden`);
    t.ok(responses['401']?.headers?.['WWW-Authenticate'], `${where} 401 names WWW-Authenticate`);
    if (responses['429']) t.ok(responses['429'].headers?.['Retry-After'], `${where} 429 names Retry-After`);
    for (const status of ['201', '202']) {
      if (responses[status]) t.ok(responses[status].headers?.Location, `${where} ${status} documents its Location header`);
    }
  }
  const start = spec.paths['/v1/sessions'].post.responses;
  t.match(start['403'].description, /`command_not_allowed`/, 'a route’s own 403 code stays');
  t.match(start['403'].description, /`forbidden`/, 'and auth’s is added to it');
  t.ok(start['202'].headers.Location, 'the 202 of a queued start names its Location too');
});

t.test('what the server defaults is optional for a client', async (t) => {
  const spec = JSON.parse(await buildOpenApiDocument(await tempDir(t)));
  const withDefault = (schema: Json, seen = new Set<Json>()): string[] => {
    if (!schema || typeof schema !== 'object' || seen.has(schema)) return [];
    seen.add(schema);
    if (typeof schema.$ref === 'string') return withDefault(spec.components.schemas[String(schema.$ref.split('/').pop())], seen);
    const found = Object.entries((schema.properties ?? {}) as Json).filter(([, p]) => p && 'default' in p).map(([name]) => name);
    return [...found, ...Object.values((schema.properties ?? {}) as Json).flatMap((p) => withDefault(p, seen))];
  };
  for (const { where, op } of operationsOf(spec)) {
    for (const parameter of (op.parameters ?? []) as Json[]) {
      if (parameter.schema && 'default' in parameter.schema) t.equal(parameter.required, false, `${where}: ${parameter.name} has a default, so it is optional`);
    }
    for (const media of Object.values((op.requestBody?.content ?? {}) as Json)) {
      t.same(withDefault(media.schema), [], `${where}: no request property carries a default (generators would make it required)`);
    }
  }
  const body = spec.components.schemas.StartSessionBody;
  t.same(body.required, ['name', 'working_directory'], 'a start needs a name and a working directory, nothing else');
  t.match(body.properties.repository_write_allowed.description, /Default: `true`/, 'the default is still said');
  t.equal(spec.paths['/v1/sessions/{id}/stop'].post.requestBody.required, false, 'the stop body may be omitted');
  t.equal(spec.paths['/v1/sessions/{id}/wait'].post.requestBody.required, false, 'the wait body may be omitted');
});

t.test('a body the document calls optional may be omitted, and defaults still apply', async (t) => {
  const { app, root, processes } = await buildFakeApp(t);
  const spec = JSON.parse(await buildOpenApiDocument(await tempDir(t)));
  const started = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'defaults', working_directory: root, command: 'bash' } });
  t.equal(started.statusCode, 201);
  const session = started.json();
  t.equal(session.repository_write_allowed, true, 'repository_write_allowed defaults to true');
  t.equal(session.expects_report, false, 'expects_report defaults to false');
  t.equal(session.priority, 0, 'priority defaults to 0');
  // Ended, so a wait answers at once.
  await processes.exit(session.id, 0);
  for (const { where, path: route, method, op } of operationsOf(spec)) {
    if (op.requestBody?.required !== false || where.includes('webhook /')) continue;
    const res = await app.inject({ method: method.toUpperCase() as 'POST', url: route.replace('{id}', session.id), headers: { 'content-type': 'application/json' }, payload: '' });
    t.equal(res.statusCode, 200, `${where} with no body: ${res.statusCode} ${res.body.slice(0, 200)}`);
  }
  const list = await app.inject({ url: '/v1/sessions' });
  t.equal(list.statusCode, 200, 'list without limit uses its default');
});
