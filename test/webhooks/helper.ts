// Webhook test kit: a real receiver (node:http on 127.0.0.1, port 0) whose answers a test scripts
// and whose requests a test awaits; a captured pino log; sessions for journal events; the service
// and a small Fastify app with the errors, auth and OpenAPI plugins around the webhook routes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import type { Test } from 'tap';
import { Webhook } from 'standardwebhooks';
import type { Labels } from '../../schemas/labels.js';
import type { Session } from '../../schemas/session.js';
import { createWebhookService, type WebhookService, type WebhookServiceOptions } from '../../src/events/webhooks/service.js';
import { webhookRoutes } from '../../src/routes/webhooks.js';
import { toSession } from '../../src/sessions/session-view.js';
import { makeRecord } from '../fakes/records.js';
import { MemoryJournal } from '../fakes/memory-journal.js';
import { TEST_TOKENS } from '../helper.js';
import { buildPluginApp } from '../plugin-app.js';

export interface Received {
  n: number;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: { seq: number; type: string; time: string; session: Session | null };
  webhookId: string;
  /** The status this receiver answered. */
  status: number;
}

/** Decides the answer to a request; `count` is how many times this webhook-id has come so far (1 the first time). */
export type Responder = (request: Omit<Received, 'status'>, count: number) => number | Promise<number>;

export class Receiver {
  readonly received: Received[] = [];
  private readonly seen = new Map<string, number>();
  private readonly waiters = new Set<{ match: (r: Received) => boolean; resolve: (r: Received) => void }>();
  url = '';

  constructor(
    private readonly server: http.Server,
    public respond: Responder,
  ) {}

  static async start(t: Test, respond: Responder = () => 200, path = '/hook'): Promise<Receiver> {
    let receiver: Receiver | undefined;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void receiver?.handle(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    receiver = new Receiver(server, respond);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
    t.teardown(() => receiver.close());
    return receiver;
  }

  /** The first request (already received or still to come) that `match` accepts. */
  waitFor(match: (r: Received) => boolean): Promise<Received> {
    const found = this.received.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.add({ match, resolve }));
  }

  /** Resolves once a 2xx was answered for each of these seqs. */
  async delivered(seqs: number[]): Promise<Received[]> {
    return Promise.all(seqs.map((seq) => this.waitFor((r) => r.json.seq === seq && r.status < 300)));
  }

  succeeded(): Received[] {
    return this.received.filter((r) => r.status >= 200 && r.status < 300);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, body: string, res: http.ServerResponse) {
    const webhookId = String(req.headers['webhook-id']);
    const count = (this.seen.get(webhookId) ?? 0) + 1;
    this.seen.set(webhookId, count);
    const partial = { n: this.received.length + 1, path: req.url ?? '', headers: req.headers, body, json: JSON.parse(body), webhookId };
    const status = await this.respond(partial, count);
    const request: Received = { ...partial, status };
    this.received.push(request);
    if (status >= 300 && status < 400) res.setHeader('location', '/elsewhere');
    res.writeHead(status).end('ok');
    for (const waiter of [...this.waiters]) {
      if (waiter.match(request)) {
        this.waiters.delete(waiter);
        waiter.resolve(request);
      }
    }
  }
}

/** The request carries a valid Standard Webhooks signature for `secret` (the package's own verify). */
export function verifies(secret: string, request: Received): boolean {
  try {
    new Webhook(secret).verify(request.body, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    });
    return true;
  } catch {
    return false;
  }
}

/** A pino logger at the most verbose level whose every line a test can read. */
export function captureLog() {
  const lines: string[] = [];
  const stream = { write: (line: string) => void lines.push(line) };
  const log = pino({ level: 'trace' }, stream);
  return { log, lines, stream, text: () => lines.join('') };
}

export const silentLog = () => pino({ level: 'silent' });

export function session(id: string, labels: Labels = {}): Session {
  return toSession(makeRecord({ id, labels }));
}

/** Appends `type` events for sessions `s1`, `s2`... and returns their seqs. */
export async function appendEvents(journal: MemoryJournal, count: number, labels: Labels = {}): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < count; i++) seqs.push((await journal.append('session.started', session(`s${i + 1}`, labels))).seq);
  return seqs;
}

/** Fast retries for tests: the schedule's shape, milliseconds instead of seconds. */
export const FAST = { firstRetryMs: 10, maxRetryDelayMs: 40, timeoutMs: 2000 };

/** The service on `dataDir`, initialised, closed in teardown. */
export async function startService(
  t: Test,
  options: Partial<WebhookServiceOptions> & Pick<WebhookServiceOptions, 'dataDir' | 'journal'>,
): Promise<WebhookService> {
  const service = createWebhookService({ log: silentLog(), ...FAST, ...options });
  await service.init();
  t.teardown(() => service.close());
  return service;
}

/** Fastify with the production error handler, auth and OpenAPI plugins, and the webhook routes. */
export async function buildWebhookApp(t: Test, webhooks: WebhookService, log?: { write(line: string): void }) {
  const app = await buildPluginApp({ log, withOpenApi: true });
  await app.register(webhookRoutes, { webhooks });
  t.teardown(() => app.close());
  return app;
}
