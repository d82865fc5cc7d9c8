// Bench section: GET of a running session against a bare Fastify route answering the same JSON,
// both under the same keep-alive load from this process, in alternating pairs.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureGets } from './get-throughput.js';
import { children, fmt, freePort, paired, stopChild, withTimeout, type Row, type Sessiond } from './lib.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BARE_FASTIFY_JS = path.resolve(here, 'bare-fastify.js');
const CONNECTIONS = 32;
const RUN_MS = 2000;
const PAIRS = 5;

/** Starts bench/bare-fastify.js answering `body` on GET `route`; resolves with its base URL and a stop. */
export async function bareFastify(base: string, route: string, body: unknown): Promise<{ url: string; stop(): Promise<void> }> {
  const file = path.join(base, `bare-${Math.random().toString(36).slice(2)}.json`);
  await fs.writeFile(file, JSON.stringify(body));
  const port = await freePort();
  const bare = spawn(process.execPath, [BARE_FASTIFY_JS, String(port), file, route], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(bare);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      bare.stdout?.once('data', () => resolve());
      bare.once('exit', (code) => reject(new Error(`bare fastify exited with ${code}`)));
    }),
    10_000,
    'bare fastify start',
  );
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      await stopChild(bare);
      children.delete(bare);
    },
  };
}

export async function getSession(sd: Sessiond, root: string, base: string): Promise<Row[]> {
  const session = await sd.json('POST', '/v1/sessions', { name: 'bench get', working_directory: root, command: 'bash', args: ['-c', 'sleep 600'] });
  try {
    const body = await sd.json('GET', `/v1/sessions/${session.id}`);
    const bare = await bareFastify(base, '/v1/sessions/:id', body);
    try {
      const ours = `${sd.url}/v1/sessions/${session.id}`;
      const ref = `${bare.url}/v1/sessions/${session.id}`;
      const auth = { authorization: `Bearer ${sd.token}` };
      // Warm both (JIT, connections).
      await measureGets(ours, auth, CONNECTIONS, 500);
      await measureGets(ref, {}, CONNECTIONS, 500);
      const rate = async (url: string, headers: Record<string, string>) => (await measureGets(url, headers, CONNECTIONS, RUN_MS)).perSecond;
      const r = await paired(PAIRS, () => rate(ours, auth), () => rate(ref, {}));
      return [{ what: 'GET a running session (req/s)', sessiond: fmt(r.ours, 0), reference: `${fmt(r.reference, 0)} (bare Fastify, same JSON)`, ratio: r.ratio, goal: '>= 0.6' }];
    } finally {
      await bare.stop();
    }
  } finally {
    await sd.json('POST', `/v1/sessions/${session.id}/stop`, { grace_ms: 0 }).catch(() => undefined);
  }
}
