// Bench: what 1,000 /v1/events subscribers cost the server. The route runs with a file journal in
// its own process (so the clients' sockets do not count); 1,000 plain node:http clients connect,
// 2,000 events are appended, and the server's RSS is read (after a gc) once every client has
// every event. The reference is the same 1,000 connections held open, idle, by a bare node:http
// server in the same kind of process: the row reads as a ratio.
//
//   node dist/bench/events-fanout.js     prints the figures (about 10-30 s; at most 60 s)
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PatternCounter, msSince, now, stopChild, table } from './lib.js';
import { makeRecord } from '../test/fakes/records.js';
import { toSession } from '../src/sessions/session-view.js';

const THIS_FILE = fileURLToPath(import.meta.url);
const MiB = 1024 * 1024;
const TOKEN = 'bench-events-token-0123456789abcdef';
const DEADLINE_MS = 60_000;

export interface EventsFanoutOptions {
  subscribers?: number;
  events?: number;
}

export interface EventsFanoutResult {
  subscribers: number;
  events: number;
  /** Bytes of one event as sent (id, event and data lines). */
  eventBytes: number;
  /** The events server's RSS before any subscriber. */
  baselineRssMiB: number;
  /** Its growth once every subscriber has every event (after a gc). */
  rssDeltaMiB: number;
  /** Its highest growth while the events went out. */
  peakRssDeltaMiB: number;
  /** The bare node:http server's growth for the same number of idle open responses. */
  referenceRssDeltaMiB: number;
  referenceBaselineRssMiB: number;
  /** rssDeltaMiB / referenceRssDeltaMiB. */
  ratio: number;
  /** From the first append to the last subscriber holding every event. */
  deliverMs: number;
}

// ---------------------------------------------------------------------------------------------
// The server side: a child process, driven over IPC.

type Request = { type: 'rss' } | { type: 'append'; n: number } | { type: 'peak-start' } | { type: 'peak-stop' } | { type: 'count' };
type Reply = { type: 'ready'; port: number } | { type: 'rss'; rss: number } | { type: 'appended'; lastSeq: number } | { type: 'peak'; rss: number } | { type: 'count'; count: number };

function rssAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage().rss;
}

/** A session as the supervisor would put it in an event: every field, realistic sizes. */
function benchSession(i: number) {
  return toSession(
    makeRecord({
      id: `bench-${i.toString(36)}-m3k2j1-x7y8z9`,
      name: `bench ${i}`,
      pid: 40000 + (i % 20000),
      working_directory: '/srv/workspaces/bench/project',
      mission_id: 'mission-42',
      last_activity: '2026-01-02T03:04:06.000Z',
      args: ['--print', '--verbose', '--', 'summarise the repository and list its open questions'],
      allowed_tools: ['Read', 'Grep'],
      labels: { team: 'platform', env: 'bench' },
    }),
  );
}

async function serveEvents(): Promise<void> {
  const [{ default: Fastify }, { createFileJournal }, { createEventStreams }, { eventRoutes }, { default: errors }, { default: auth }, { SHARED_SCHEMAS }, { schemaController }, { TokenTable }] =
    await Promise.all([
      import('fastify'),
      import('../src/events/file-journal.js'),
      import('../src/events/stream.js'),
      import('../src/routes/events.js'),
      import('../src/plugins/errors.js'),
      import('../src/plugins/auth.js'),
      import('../src/plugins/openapi.js'),
      import('../src/plugins/validation.js'),
      import('../src/auth/tokens.js'),
    ]);
  const dataDir = process.argv[4] as string;
  const quiet = { info: () => undefined, warn: () => undefined, error: (obj: object, msg: string) => console.error(msg, obj) };
  const journal = createFileJournal({ dataDir, log: quiet });
  await journal.init();
  const app = Fastify({ logger: false, forceCloseConnections: true, schemaController });
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  await app.register(errors);
  await app.register(auth, { tokens: new TokenTable([{ token: TOKEN, scope: 'read' }]) });
  const streams = createEventStreams({ journal, keepAliveMs: 15000, log: quiet });
  app.addHook('preClose', async () => streams.closeAll());
  await app.register(eventRoutes, { journal, keepAliveMs: 15000, streams });
  await app.listen({ host: '127.0.0.1', port: 0 });
  let seq = 0;
  serve(
    (app.server.address() as { port: number }).port,
    async (n) => {
      // Bursts of 100 at once, as a wave of starts would come: group commit takes each in a few writes.
      for (let done = 0; done < n; done += 100) {
        await Promise.all(Array.from({ length: Math.min(100, n - done) }, () => journal.append('session.status', benchSession(++seq))));
      }
      return journal.lastSeq();
    },
    () => streams.count,
  );
}

async function serveBare(): Promise<void> {
  let open = 0;
  const server = http.createServer((req, res) => {
    open++;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('retry: 2000\n\n');
    res.on('close', () => open--);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serve((server.address() as { port: number }).port, async () => 0, () => open);
}

function serve(port: number, append: (n: number) => Promise<number>, count: () => number): void {
  let peak = 0;
  let sampler: NodeJS.Timeout | null = null;
  const send = (reply: Reply) => process.send?.(reply);
  process.on('message', (request: Request) => {
    if (request.type === 'rss') send({ type: 'rss', rss: rssAfterGc() });
    else if (request.type === 'count') send({ type: 'count', count: count() });
    else if (request.type === 'append') void append(request.n).then((lastSeq) => send({ type: 'appended', lastSeq }));
    else if (request.type === 'peak-start') {
      peak = process.memoryUsage().rss;
      sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      send({ type: 'peak', rss: peak });
    } else if (request.type === 'peak-stop') {
      if (sampler) clearInterval(sampler);
      send({ type: 'peak', rss: Math.max(peak, process.memoryUsage().rss) });
    }
  });
  // The parent's end is ours.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', port });
}

// ---------------------------------------------------------------------------------------------
// The client side.

class Server {
  private waiting: Array<(reply: Reply) => void> = [];
  private constructor(readonly child: ChildProcess, readonly port: number) {
    child.on('message', (reply: Reply) => this.waiting.shift()?.(reply));
  }

  static async start(kind: 'events' | 'bare', dataDir: string): Promise<Server> {
    const child = fork(THIS_FILE, ['--serve', kind, dataDir], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ready = await new Promise<Reply>((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`the ${kind} server exited with ${code}`)));
    });
    if (ready.type !== 'ready') throw new Error(`unexpected ${ready.type}`);
    return new Server(child, ready.port);
  }

  /** Sends a request and waits for its reply, until `deadline` (ms since the epoch) at the latest. */
  ask<T extends Reply['type']>(request: Request, deadline = Date.now() + DEADLINE_MS): Promise<Extract<Reply, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not answer ${request.type} in time`)), Math.max(0, deadline - Date.now()));
      this.waiting.push((reply) => {
        clearTimeout(timer);
        resolve(reply as Extract<Reply, { type: T }>);
      });
      this.child.send(request);
    });
  }

  async rss(): Promise<number> {
    return (await this.ask<'rss'>({ type: 'rss' })).rss;
  }
}

interface Subscriber {
  counter: PatternCounter;
  req: http.ClientRequest;
  bytes: number;
}

/** `n` connections to `url`, each resolved once the response head and its first bytes arrived. */
async function connect(url: string, n: number): Promise<Subscriber[]> {
  const out: Subscriber[] = [];
  const one = () =>
    new Promise<Subscriber>((resolve, reject) => {
      const counter = new PatternCounter(Buffer.from('\nevent: session.'));
      const req = http.get(url, { agent: false, headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
        const sub: Subscriber = { counter, req, bytes: 0 };
        res.once('data', () => resolve(sub));
        res.on('data', (chunk: Buffer) => {
          sub.bytes += chunk.length;
          counter.push(chunk);
        });
      });
      req.on('error', reject);
    });
  // A hundred at a time: the listen backlog stays short.
  for (let i = 0; i < n; i += 100) out.push(...(await Promise.all(Array.from({ length: Math.min(100, n - i) }, one))));
  return out;
}

async function until(check: () => boolean, what: string, deadline: number): Promise<void> {
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within the bench's time limit`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function eventsFanout(options: EventsFanoutOptions = {}): Promise<EventsFanoutResult> {
  const subscribers = options.subscribers ?? 1000;
  const events = options.events ?? 2000;
  const deadline = Date.now() + DEADLINE_MS;
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sessiond-bench-events-'));
  const servers: Server[] = [];
  const clients: Subscriber[] = [];
  try {
    // The reference: idle open responses on a bare node:http server.
    const bare = await Server.start('bare', dataDir);
    servers.push(bare);
    const referenceBaseline = await bare.rss();
    const idle = await connect(`http://127.0.0.1:${bare.port}/`, subscribers);
    clients.push(...idle);
    const referenceConnected = await bare.rss();
    for (const sub of idle) sub.req.destroy();
    await stopChild(bare.child, 2000);

    const server = await Server.start('events', dataDir);
    servers.push(server);
    const baseline = await server.rss();
    const subs = await connect(`http://127.0.0.1:${server.port}/v1/events`, subscribers);
    clients.push(...subs);
    const registered = (await server.ask<'count'>({ type: 'count' })).count;
    if (registered !== subscribers) throw new Error(`${registered} streams registered, expected ${subscribers}`);

    await server.ask<'peak'>({ type: 'peak-start' });
    const started = now();
    const appended = server.ask<'appended'>({ type: 'append', n: events }, deadline);
    await until(() => subs.every((sub) => sub.counter.count >= events), `${subscribers} subscribers × ${events} events`, deadline);
    const deliverMs = msSince(started);
    await appended;
    const peak = (await server.ask<'peak'>({ type: 'peak-stop' })).rss;
    const after = await server.rss();
    const over = subs.find((sub) => sub.counter.count !== events);
    if (over) throw new Error(`a subscriber got ${over.counter.count} events, expected ${events}`);

    const referenceDelta = (referenceConnected - referenceBaseline) / MiB;
    const delta = (after - baseline) / MiB;
    return {
      subscribers,
      events,
      eventBytes: Math.round((subs[0] as Subscriber).bytes / events),
      baselineRssMiB: round(baseline / MiB),
      rssDeltaMiB: round(delta),
      peakRssDeltaMiB: round((peak - baseline) / MiB),
      referenceRssDeltaMiB: round(referenceDelta),
      referenceBaselineRssMiB: round(referenceBaseline / MiB),
      ratio: round(delta / Math.max(referenceDelta, 0.1)),
      deliverMs: Math.round(deliverMs),
    };
  } finally {
    for (const sub of clients) sub.req.destroy();
    await Promise.all(servers.map((server) => stopChild(server.child, 2000)));
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

const round = (value: number) => Math.round(value * 10) / 10;

if (process.argv[1] === THIS_FILE) {
  if (process.argv[2] === '--serve') {
    await (process.argv[3] === 'bare' ? serveBare() : serveEvents());
  } else {
    const r = await eventsFanout();
    console.log(`/v1/events fan-out: ${r.subscribers} subscribers, ${r.events} events of ${r.eventBytes} bytes each, all delivered in ${r.deliverMs} ms\n`);
    console.log(
      table(
        ['server', 'RSS before (MiB)', 'growth (MiB)', 'peak growth (MiB)'],
        [
          [`sessiond /v1/events, ${r.subscribers} subscribers, every event delivered`, String(r.baselineRssMiB), String(r.rssDeltaMiB), String(r.peakRssDeltaMiB)],
          [`bare node:http, ${r.subscribers} idle open responses (reference)`, String(r.referenceBaselineRssMiB), String(r.referenceRssDeltaMiB), '-'],
          ['ratio', '', `${r.ratio}x`, ''],
        ],
      ),
    );
  }
}
