// buildApp(options): the whole sessiond API as one Fastify instance, for the server and the tests alike.
// Options may carry a store, a process adapter and a config; what is absent is built from config.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import cors from '@fastify/cors';
import { loadConfig, type Config } from './config.js';
import { LogStreams } from './logs/streams.js';
import errors from './plugins/errors.js';
import openapi from './plugins/openapi.js';
import { schemaController } from './plugins/validation.js';
import type { ProcessAdapter } from './process/adapter.js';
import { createLocalProcessAdapter } from './process/local.js';
import { healthRoutes } from './routes/health.js';
import { logRoutes } from './routes/logs.js';
import { sessionRoutes } from './routes/sessions.js';
import { SessionManager } from './sessions/manager.js';
import { createFsStore } from './store/fs-store.js';
import type { SessionStore } from './store/store.js';

export const BODY_LIMIT = 1024 * 1024;

export interface BuildAppOptions {
  config?: Config;
  store?: SessionStore;
  processes?: ProcessAdapter;
  clock?: () => Date;
  /** pino options, or false for silence (tests). */
  logger?: FastifyServerOptions['logger'];
  /** Close kept-alive and streaming connections at once on close (tests). */
  forceCloseConnections?: boolean;
}

export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    // Credentials never reach the log, whatever the level.
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["idempotency-key"]'], censor: '[redacted]' },
  };
}

export async function buildApp(options: BuildAppOptions = {}) {
  const config = options.config ?? loadConfig();
  const app = Fastify({
    logger: options.logger ?? loggerOptions(config.logLevel),
    bodyLimit: BODY_LIMIT,
    forceCloseConnections: options.forceCloseConnections ?? 'idle',
    // Unknown body fields are an error (400), not silently dropped.
    ajv: { customOptions: { removeAdditional: false, useDefaults: true } },
    schemaController,
    routerOptions: { ignoreTrailingSlash: true },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const store = options.store ?? createFsStore({ dataDir: config.dataDir, log: app.log });
  const processes = options.processes ?? createLocalProcessAdapter();
  await store.init();
  const manager = new SessionManager({ store, processes, config, log: app.log, clock: options.clock });

  // The API takes JSON only: any other body is 415 unsupported_media_type, not a confusing 400.
  app.removeContentTypeParser('text/plain');

  const streams = new LogStreams({ store, sessions: manager, keepAliveMs: config.sseKeepAliveMs, pollIntervalMs: config.logPollMs, log: app.log });

  app.decorate('sessions', manager);
  app.decorate('logStreams', streams);
  // Open streams would hold close() forever: end them first; their sessions keep running.
  app.addHook('preClose', async () => streams.closeAll());
  app.addHook('onClose', async () => {
    streams.close();
    await processes.close();
    await store.close();
  });

  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
      methods: ['GET', 'POST', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'last-event-id', 'idempotency-key', 'range'],
      exposedHeaders: ['location', 'content-range', 'accept-ranges'],
      maxAge: 600,
    });
  }

  await app.register(errors);
  await app.register(openapi);
  await app.register(healthRoutes, { store });
  await app.register(sessionRoutes, { manager });
  await app.register(logRoutes, { manager, streams });
  return app as unknown as FastifyInstance;
}

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionManager;
    logStreams: LogStreams;
  }
}
