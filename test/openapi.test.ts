// The committed openapi/openapi.json must be exactly what the routes generate (run `npm run openapi`).
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { buildOpenApiDocument } from '../src/openapi-document.js';
import { tempDir } from './helper.js';

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
