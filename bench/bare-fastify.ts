// The reference for request throughput: a bare Fastify 5 route answering a fixed JSON body, with
// logging off, as the same client sees it.
// Run as: node bare-fastify.js <port> <json file> [route, default /v1/sessions/:id].
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const [port, file, route] = process.argv.slice(2);
const body = JSON.parse(readFileSync(file as string, 'utf8')) as unknown;
const app = Fastify({ logger: false });
app.get(route ?? '/v1/sessions/:id', async () => body);
await app.listen({ host: '127.0.0.1', port: Number(port) });
process.stdout.write('listening\n');
