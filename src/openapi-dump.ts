// `npm run openapi`: writes openapi/openapi.json from the routes' schemas (no server, no store on disk).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildOpenApiDocument } from './openapi-document.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const target = path.join(root, 'openapi', 'openapi.json');
const document = await buildOpenApiDocument(await fs.mkdtemp(path.join(os.tmpdir(), 'sessiond-openapi-')));
await fs.mkdir(path.dirname(target), { recursive: true });
await fs.writeFile(target, document);
process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);
