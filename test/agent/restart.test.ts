// Agent sessions on the REAL server process (node dist/src/server.js): a kill -9 in the middle
// of parsing (a 2 MiB line half written) loses and doubles nothing, whether the session ends
// while the service is down or goes on after it is back; and a 50 MB tool result line is parsed
// and served (a page, the format=agent stream) without the server ever holding it.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import { TEST_TOKENS, eventually } from '../helper.js';
import { deploy, type Deployment, type Json, type ServerProcess } from '../reliability/server-process.js';
import { init, result, toolResult } from './fixtures.js';
import { installStandIn, type StandIn } from './stand-in.js';

const MiB = 1024 * 1024;

async function agentDeployment(t: Parameters<typeof deploy>[0]): Promise<{ d: Deployment; claude: StandIn }> {
  const claude = await installStandIn(t);
  const d = await deploy(t, { env: { SESSIOND_ALLOWED_COMMANDS: 'claude,bash', PATH: `${claude.bin}:${process.env.PATH ?? ''}` } });
  return { d, claude };
}

const startAgent = (d: Deployment, prompt: string, dir: string) =>
  d.request('POST', '/v1/sessions', { body: { name: 'agent', working_directory: dir, command: 'claude', prompt, agent: { kind: 'claude' } } });

async function allMessages(d: Deployment, id: string): Promise<Json[]> {
  const items: Json[] = [];
  for (let after = 0; ; ) {
    const page = (await d.request('GET', `/v1/sessions/${id}/agent/messages?after=${after}&limit=500`)).json();
    items.push(...page.items);
    if (!page.has_more) return items;
    after = page.next_after;
  }
}

t.test('kill -9 in the middle of parsing: every message once, at its offset, after the restart', async (t) => {
  const { d, claude } = await agentDeployment(t);
  await d.start();
  const [before, after] = JSON.stringify(toolResult('@FILL@')).split('@FILL@') as [string, string];
  await claude.scenario('cut', [
    { line: JSON.stringify(init) },
    ...[1, 2, 3].map((i) => ({ line: JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text: `step ${i}` }] } }) })),
    // Half of a 4 MiB tool result line, then a pause: the service is killed here.
    { raw: before },
    { fill: { text: 'ab✓', bytes: 2 * MiB + 5 } },
    { wait: 'go' },
    { fill: { text: 'ab✓', bytes: 2 * MiB - 5 } },
    { raw: `${after}\n` },
    { line: 'a line that is not JSON' },
    { line: JSON.stringify(result) },
  ]);
  // Two sessions: one ends while the service is down, one goes on once it is back.
  const dirs = [path.join(d.root, 'down'), path.join(d.root, 'back')];
  for (const dir of dirs) await fs.mkdir(dir);
  const ids = [] as string[];
  for (const dir of dirs) ids.push((await startAgent(d, 'cut', dir)).json().id as string);
  for (const id of ids) {
    await eventually(async () => {
      const page = (await d.request('GET', `/v1/sessions/${id}/agent/messages`)).json();
      const size = (await fs.stat(path.join(d.sessionDir(id), 'stdout.log'))).size;
      return page.items.length === 4 && size > 2 * MiB ? true : undefined;
    }, 20_000);
  }

  await d.server.kill('SIGKILL');
  await fs.writeFile(path.join(dirs[0] as string, 'go'), '');
  await eventually(() => fs.stat(path.join(d.stateDir(ids[0] as string), 'exit.json')).then(() => true, () => undefined), 20_000);
  await d.start();
  await fs.writeFile(path.join(dirs[1] as string, 'go'), '');

  for (const id of ids) {
    const ended = await d.waitEnded(id);
    const raw = (await d.request('GET', `/v1/sessions/${id}/logs/stdout`)).bytes;
    const items = await allMessages(d, id);
    t.same(items.map((m) => m.n), [1, 2, 3, 4, 5, 6, 7], `${id}: seven messages, numbered once each`);
    t.same(items.map((m) => m.type), ['system', 'assistant', 'assistant', 'assistant', 'user', 'text', 'result']);
    let next = 0;
    for (const m of items) {
      t.equal(m.offset, next, `message ${m.n} at the byte where the previous line ended`);
      next = m.offset + m.length + 1;
    }
    t.equal(next, raw.length, 'every byte of stdout in a message');
    const big = items[4] as Json;
    t.equal(big.length, raw.indexOf(0x0a, big.offset) - big.offset, 'the line cut by the kill, whole');
    t.equal(Buffer.byteLength(big.message.message.content[0].content as string), 4 * MiB, 'its 4 MiB tool result intact');
    t.match(ended.agent, { result: result.result, message_count: 7, num_turns: result.num_turns }, 'the final summary');
  }
});

// ---------------------------------------------------------------------------------------------
// Memory: what the server costs is its peak RSS (VmHWM, reset before) above its RSS before.

function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

async function cost<T>(server: ServerProcess, work: () => Promise<T>): Promise<{ bytes: number; result: T }> {
  try {
    writeFileSync(`/proc/${server.pid}/clear_refs`, '5');
  } catch {
    // Not allowed here: the start-up peak counts too, which only makes the check stricter.
  }
  const before = memory(server.pid).rss;
  const result = await work();
  return { bytes: memory(server.pid).peak - before, result };
}

/** GET on its own connection: the body's size and SHA-256, never kept. */
function digestBody(url: string, headers: Record<string, string> = {}, until?: (text: string) => boolean): Promise<{ status: number; bytes: number; sha: string; tail: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { authorization: `Bearer ${TEST_TOKENS.read}`, ...headers } }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      let tail = '';
      let settled = false;
      const done = (err?: Error) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve({ status: res.statusCode ?? 0, bytes, sha: hash.digest('hex'), tail });
      };
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
        tail = (tail + chunk.toString('latin1')).slice(-4096);
        // Enough seen: this client leaves (what it leaves behind is the server's to release).
        if (until?.(tail)) {
          done();
          req.destroy();
        }
      });
      res.on('end', () => done());
      res.on('error', (err) => done(err));
    });
    req.on('error', (err) => {
      if (!until) reject(err);
    });
  });
}

const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
/** Far below the line itself (48 MiB): held whole once, it could not fit. */
const BUDGET = 20 * MiB;

t.test('a 50 MB tool result line: parsed, paged and streamed without the server holding it', async (t) => {
  const { d, claude } = await agentDeployment(t);
  const server = await d.start();
  const [before, after] = JSON.stringify(toolResult('@FILL@')).split('@FILL@') as [string, string];
  const FILL = 50 * 1000 * 1000;
  await claude.scenario('huge', [{ line: JSON.stringify(init) }, { big: { before, fill: 'x', bytes: FILL, after } }, { line: JSON.stringify(result) }]);

  await claude.scenario('small', [{ line: JSON.stringify(init) }, { line: JSON.stringify(result) }]);
  // The first session warms the server up (code loaded, pools made): what follows measures the line.
  const warm = await cost(server, async () => d.waitEnded((await startAgent(d, 'small', d.root)).json().id));
  t.comment(`a small agent session cost ${mib(warm.bytes)}`);
  const parsed = await cost(server, async () => d.waitEnded((await startAgent(d, 'huge', d.root)).json().id));
  const ended = parsed.result;
  t.match(ended.agent, { message_count: 3, result: result.result }, 'every message parsed');
  t.ok(parsed.bytes < BUDGET, `parsing it cost ${mib(parsed.bytes)}`);

  const [first] = (await d.request('GET', `/v1/sessions/${ended.id}/agent/messages?limit=1`)).json().items as Json[];
  const offset = (first?.length as number) + 1;
  const length = Buffer.byteLength(before) + FILL + Buffer.byteLength(after.replace('@SESSION@', first?.message.session_id));
  // The line, hashed from the raw log (Range), to compare with what the page and the stream send.
  const raw = await digestBody(`${server.url}/v1/sessions/${ended.id}/logs/stdout`, { range: `bytes=${offset}-${offset + length - 1}` });
  t.equal(raw.bytes, length);
  const head = `{"n":2,"offset":${offset},"length":${length},"type":"user","subtype":null,"message":`;
  const lineHash = async (prefix: string, suffix: string) => {
    const hash = createHash('sha256').update(prefix);
    const stream = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http
        .get(`${server.url}/v1/sessions/${ended.id}/logs/stdout`, { agent: false, headers: { authorization: `Bearer ${TEST_TOKENS.read}`, range: `bytes=${offset}-${offset + length - 1}` } }, resolve)
        .on('error', reject),
    );
    for await (const chunk of stream) hash.update(chunk as Buffer);
    return hash.update(suffix).digest('hex');
  };

  const page = await cost(server, () => digestBody(`${server.url}/v1/sessions/${ended.id}/agent/messages?after=1&limit=500`));
  t.equal(page.result.status, 200);
  t.equal(page.result.sha, await lineHash(`{"items":[${head}`, '}],"next_after":2,"has_more":true}'), 'the page holds exactly the line’s bytes, alone (over the page budget)');
  t.ok(page.bytes < BUDGET, `serving it in a page cost ${mib(page.bytes)}`);

  const sse = await cost(server, () => digestBody(`${server.url}/v1/sessions/${ended.id}/logs/stream?format=agent&from=start`, {}, (tail) => tail.includes('event: end')));
  t.match(sse.result.tail, /event: agent\ndata: \{"n":3,/, 'the stream went on past it');
  t.ok(sse.result.bytes > FILL, 'and sent it whole');
  t.ok(sse.bytes < BUDGET, `streaming it cost ${mib(sse.bytes)}`);
});
