// buildApp(options): the whole sessiond API as one Fastify instance, for the server and the tests alike.
// Options may carry a store, a process adapter and a config; what is absent is built from config.
import path from 'node:path';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import cors from '@fastify/cors';
import querystring from 'fast-querystring';
import type { DestinationStream } from 'pino';
import securityHeaders from './plugins/security-headers.js';
import requestLog from './plugins/request-log.js';
import { logDestination } from './log-destination.js';
import rateLimit from '@fastify/rate-limit';
import { loadConfig, type Config } from './config.js';
import { LogStreams } from './logs/streams.js';
import { LogIndexer } from './logs/indexer.js';
import { isTerminalStatus, SESSION_STATUSES } from '../schemas/session.js';
import { listKey } from './store/list-index.js';
import { loadOrCreateToken } from './auth/generated-token.js';
import { TokenTable, type ConfiguredToken } from './auth/tokens.js';
import auth from './plugins/auth.js';
import errors, { clientErrorHandler, frameworkErrors, MAX_PARAM_LENGTH } from './plugins/errors.js';
import openapi from './plugins/openapi.js';
import { schemaController } from './plugins/validation.js';
import type { ProcessAdapter } from './process/adapter.js';
import { createRuntimes } from './process/create-runtimes.js';
import { healthRoutes } from './routes/health.js';
import { logRoutes } from './routes/logs.js';
import { sessionRoutes } from './routes/sessions.js';
import { SessionService } from './sessions/service.js';
import { createLogUsage } from './sessions/log-usage.js';
import { createScheduler } from './sessions/scheduler.js';
import { belowFloor } from './sessions/disk-floor.js';
import { createMetrics } from './metrics/registry.js';
import httpMetrics from './plugins/http-metrics.js';
import { metricsRoutes } from './routes/metrics.js';
import { createWebhookService } from './events/webhooks/service.js';
import { webhookRoutes } from './routes/webhooks.js';
import { uiRoutes } from './routes/ui.js';
import { Supervisor } from './sessions/supervisor.js';
import type { EventJournal } from './events/journal.js';
import { createFileJournal } from './events/file-journal.js';
import { createEventStreams } from './events/stream.js';
import { eventRoutes } from './routes/events.js';
import { createFsStore } from './store/fs-store.js';
import type { SessionStore } from './store/store.js';
import { createFileAgentIndex } from './agent/file-index-store.js';
import type { AgentIndexStore } from './agent/index-store.js';
import { AgentService } from './agent/service.js';
import { AgentTracker } from './agent/tracker.js';
import { agentRoutes } from './routes/agent.js';

export const BODY_LIMIT = 1024 * 1024;

export interface BuildAppOptions {
  config?: Config;
  store?: SessionStore;
  processes?: ProcessAdapter;
  journal?: EventJournal;
  /** Where agent sessions' message indexes are kept; default: an `agent` folder in each session's folder. */
  agentIndex?: AgentIndexStore;
  clock?: () => Date;
  /**
   * false for silence (tests), or where to write the log and at what level. The redaction of
   * credentials always applies.
   */
  logger?: false | { level?: string; stream?: DestinationStream };
  /** Close kept-alive and streaming connections at once on close (tests). */
  forceCloseConnections?: boolean;
}

/**
 * The query string parser of the router (Fastify's own default, named here): auth reads
 * `?access_token=` from what it returns, and redactUrl reads the logged URL with it, so every
 * spelling that authenticates (`%61ccess_token`, `access%5Ftoken`, ...) is also redacted.
 */
export function parseQuery(query: string): Record<string, string | string[]> {
  return query.length === 0 ? {} : (querystring.parse(query) as Record<string, string | string[]>);
}

/** Query keys whose values are credentials, matched on the decoded key in any case. */
const CREDENTIAL_KEY = /token|secret|passw|api[-_]?key/i;
/** A credential written inside another value or the path (`;access_token=...`), and its value. */
const EMBEDDED_CREDENTIAL = /((?:token|secret|passw|api[-_]?key)[^=/]*=)[^/;&]*/gi;
const REDACTED = '[redacted]';

/** encodeURIComponent, keeping the characters a log reader expects to see as they are. */
const encodeForLog = (text: string) => encodeURIComponent(text).replace(/%2C/g, ',').replace(/%2F/g, '/').replace(/%3A/g, ':');

function decoded(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/**
 * A URL as it may be logged: the query is rebuilt from what the router's parser makes of it,
 * with the values of credential keys replaced, so no spelling of a token reaches the log. The
 * path and query are split where the router splits them (the first `?` or `#`; `;` is not a
 * separator there); in a path or another value that carries `token=` once decoded (a `;`
 * spelling auth does not take, but a secret all the same), what follows the `=` is replaced too.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?', 1);
  const h = url.indexOf('#', 1);
  const at = q === -1 ? h : h === -1 ? q : Math.min(q, h);
  const rawPath = at === -1 ? url : url.slice(0, at);
  const plainPath = decoded(rawPath);
  const path = plainPath.search(EMBEDDED_CREDENTIAL) === -1 ? rawPath : plainPath.replace(EMBEDDED_CREDENTIAL, `$1${REDACTED}`);
  if (at === -1) return path;
  const pairs: string[] = [];
  for (const [key, value] of Object.entries(parseQuery(url.slice(at + 1)))) {
    for (const one of Array.isArray(value) ? value : [value]) {
      const secret = CREDENTIAL_KEY.test(key) || one.search(EMBEDDED_CREDENTIAL) !== -1;
      pairs.push(`${encodeForLog(key)}=${secret ? REDACTED : encodeForLog(one)}`);
    }
  }
  return `${path}?${pairs.join('&')}`;
}

export function loggerOptions(level: string) {
  return {
    level,
    // Credentials never reach the log, whatever the level: headers are censored, and the
    // request line is logged without ?access_token= values.
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    serializers: {
      req: (req: { method: string; url: string; host?: string; ip?: string; socket?: { remotePort?: number } }) => ({
        method: req.method,
        url: redactUrl(req.url),
        host: req.host,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
    },
  };
}

export async function buildApp(options: BuildAppOptions = {}) {
  const config = options.config ?? loadConfig();
  const stream = options.logger === false ? undefined : (options.logger?.stream ?? logDestination(config.logFormat));
  const app = Fastify({
    logger: options.logger === false ? false : { ...loggerOptions(options.logger?.level ?? config.logLevel), ...(stream ? { stream } : {}) },
    // One line per request, written by plugins/request-log.ts, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    forceCloseConnections: options.forceCloseConnections ?? 'idle',
    // Unknown body fields are an error (400), not silently dropped.
    ajv: { customOptions: { removeAdditional: false, useDefaults: true } },
    schemaController,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH, querystringParser: parseQuery },
    frameworkErrors,
    // A whole request (headers and body) must arrive within SESSIOND_REQUEST_TIMEOUT_MS, or it is
    // cut with 408: a client that trickles a body cannot hold a connection. Only the receiving is
    // timed: a long /wait or a log stream is not. Node checks every second (its default: 30 s).
    requestTimeout: config.requestTimeoutMs,
    http: { headersTimeout: config.requestTimeoutMs, connectionsCheckingInterval: 1000 },
    // Headers over 16 KiB (431), a timeout (408), malformed HTTP (400): problem+json too.
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();

  const store = options.store ?? createFsStore({ dataDir: config.dataDir, log: app.log });
  const processes = options.processes ?? (await createRuntimes(config, app.log, (id) => store.logLocation(id)));
  const journal = options.journal ?? createFileJournal({ dataDir: config.dataDir, log: app.log, clock: options.clock });
  const clock = options.clock ?? (() => new Date());
  await store.init();
  await journal.init();
  // Agent sessions: the tracker parses their stdout into messages and the summary; it tells the
  // supervisor of a changed summary (at most once a second), and the supervisor asks it for the
  // final one when the session ends.
  const agentIndex =
    options.agentIndex ?? createFileAgentIndex({ dirOf: (id) => path.join(path.dirname(store.logLocation(id).stdout), 'agent'), log: app.log });
  const agentTracker: AgentTracker = new AgentTracker({
    store,
    index: agentIndex,
    clock,
    log: app.log,
    pollIntervalMs: config.logPollMs,
    report: (id, agent): Promise<unknown> => supervisor.observe(id, { kind: 'agent', agent }),
  });
  const supervisor = new Supervisor({
    store,
    processes,
    journal,
    log: app.log,
    clock,
    workspaceRoots: config.workspaceRoots,
    agentFinal: (record) => agentTracker.finish(record),
  });
  // One watcher notes when and in which order every live session's logs grow (the log index).
  const indexer = new LogIndexer({ store, log: app.log, maxLogBytes: config.maxLogBytes });
  supervisor.changes.on('change', ({ type, session }) => {
    if (type === 'session.deleted' || isTerminalStatus(session.status)) void indexer.untrack(session.id);
    else indexer.track(session.id);
  });
  const logUsage = createLogUsage(store);
  // Assigned below, once the log streams exist; read only at scrape time.
  let streamClients = (): Record<string, number> => ({});
  const metrics = createMetrics({
    // From the list index's per-status orders: O(statuses) per scrape, not a pass over every record.
    sessionsByStatus: async () => Object.fromEntries(SESSION_STATUSES.map((status) => [status, store.orderedCount(listKey('status', status))])),
    queueLength: () => sessions.queueLength,
    streamClients: () => streamClients(),
    logBytes: () => logUsage.total(),
  });
  const webhooks = createWebhookService({
    dataDir: config.dataDir,
    journal,
    log: app.log,
    firstRetryMs: config.webhookRetryMs,
    onAttempt: (outcome) => metrics.webhookAttempt(outcome),
  });
  await webhooks.init();
  // Live events only: counters count what happens from now on, not the journal's past.
  const stopCounting = journal.subscribe((event) => metrics.observeEvent(event));
  const sessions = new SessionService({
    store,
    processes,
    supervisor,
    config,
    log: app.log,
    clock,
    onStarted: (seconds) => metrics.observeStart(seconds),
  });
  await sessions.init();
  await supervisor.start();
  agentTracker.start(await supervisor.currentAll(), supervisor.changes);
  const agent = new AgentService({ store, tracker: agentTracker, sessions: { get: (id) => sessions.get(id) }, keepAliveMs: config.sseKeepAliveMs });
  for (const record of await supervisor.liveRecords()) indexer.track(record.id);
  const scheduler = createScheduler({
    clock,
    retentionMs: config.retentionMs,
    live: () => supervisor.liveRecords(),
    all: () => supervisor.currentAll(),
    lastActivityMs: (id) => supervisor.lastActivityMs(id),
    stop: (id, reason) => sessions.stop(id, undefined, reason),
    remove: (id) => sessions.delete(id, false),
    log: app.log,
  });
  scheduler.start();
  // Sessions queued before a restart start now if there is room.
  await sessions.drain();

  // The API takes JSON only: any other body is 415 unsupported_media_type, not a confusing 400.
  app.removeContentTypeParser('text/plain');
  // An empty JSON body (what many fetch clients send for a POST without data) means "no body",
  // so stop and wait work with their defaults; anything else goes to Fastify's own safe parser.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
    return parseJson(request, body as string, done);
  });

  const streams = new LogStreams({ store, sessions: { get: (id) => sessions.get(id), changes: supervisor.changes }, keepAliveMs: config.sseKeepAliveMs, pollIntervalMs: config.logPollMs, log: app.log });

  const eventStreams = createEventStreams({ journal, keepAliveMs: config.sseKeepAliveMs, log: app.log });
  streamClients = () => ({ logs: streams.openStreams, events: eventStreams.count });
  app.decorate('sessions', sessions);
  app.decorate('logStreams', streams);
  app.decorate('logIndexer', indexer);
  // Open streams would hold close() forever: end them first; their sessions keep running.
  app.addHook('preClose', async () => {
    streams.closeAll();
    eventStreams.closeAll();
  });
  app.addHook('onClose', async () => {
    streams.close();
    await agentTracker.close();
    indexer.close();
    stopCounting();
    scheduler.close();
    supervisor.close();
    await supervisor.writesDone();
    await webhooks.close();
    await processes.close();
    await journal.close();
    await store.close();
  });

  // First of the request hooks: a request refused by auth or the rate limit is logged too.
  await app.register(requestLog, { redactUrl });
  await app.register(securityHeaders, {
    helmet: {
      // A JSON API: nothing may be framed, sniffed or loaded from it; /docs brings its own CSP.
      contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      crossOriginResourcePolicy: { policy: config.corsOrigins.length > 0 ? 'cross-origin' : 'same-origin' },
    },
    behindTls: config.tls === 'behind-proxy',
  });

  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
      methods: ['GET', 'POST', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'last-event-id', 'idempotency-key', 'range'],
      exposedHeaders: ['location', 'content-range', 'accept-ranges', 'idempotent-replayed', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'],
      maxAge: 600,
    });
  }

  await app.register(errors);
  await app.register(auth, { tokens: new TokenTable(await resolveTokens(config, app.log)) });
  await app.register(httpMetrics, { metrics });
  // Writes are limited per token (per address before auth is known); reads and streams are not.
  await app.register(rateLimit, {
    global: true,
    max: config.rateLimitPerMinute,
    timeWindow: 60_000,
    hook: 'preHandler',
    allowList: (request) => request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS',
    keyGenerator: (request) => request.auth?.key ?? request.ip,
  });
  await app.register(openapi, { behindTls: config.tls === 'behind-proxy' });
  await app.register(healthRoutes, {
    store,
    containment: () => processes.containment(),
    warnings: async () => {
      const out: string[] = [];
      const floor = await belowFloor(config.dataDir, config.minFreeBytes).catch(() => null);
      if (floor) out.push(floor);
      if (supervisor.unwrittenCount > 0) {
        out.push(`${supervisor.unwrittenCount} session change(s) could not be written (disk full or failing): kept in memory, written when the store takes writes again`);
      }
      return out;
    },
  });
  await app.register(metricsRoutes, { metrics });
  await app.register(webhookRoutes, { webhooks });
  await app.register(eventRoutes, { journal, keepAliveMs: config.sseKeepAliveMs, streams: eventStreams });
  // The web console's files are copied next to the compiled code by `npm run build`.
  await app.register(uiRoutes, { dir: new URL('./ui/', import.meta.url) });
  await app.register(sessionRoutes, { sessions });
  await app.register(logRoutes, { sessions, streams, agent });
  await app.register(agentRoutes, { sessions, agent });
  return app as unknown as FastifyInstance;
}

/**
 * The configured tokens, or the one generated on first start: the API is never open. The
 * generated token is logged only when it is created, the one time a token is ever logged.
 */
async function resolveTokens(config: Config, log: FastifyBaseLogger): Promise<ConfiguredToken[]> {
  if (config.tokens.length > 0) return config.tokens;
  const generated = await loadOrCreateToken(config.dataDir);
  if (generated.created) {
    log.warn({ token: generated.token, file: generated.file }, 'no SESSIOND_TOKENS set: generated a write token (shown this once; it is kept in the file)');
  } else {
    log.info({ file: generated.file }, 'no SESSIOND_TOKENS set: using the write token kept in the file');
  }
  return [{ token: generated.token, scope: 'write' }];
}

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionService;
    logStreams: LogStreams;
    logIndexer: LogIndexer;
  }
}
