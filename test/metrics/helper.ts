// A small app with what /metrics needs from the real one (errors, auth, HTTP metrics, the route)
// over fake metric sources, plus a session route and a hijacked stream to be counted.
import Fastify from 'fastify';
import type { Test } from 'tap';
import { ProblemSchema } from '../../schemas/problem.js';
import type { Session } from '../../schemas/session.js';
import type { LifecycleEvent } from '../../schemas/events.js';
import { TokenTable } from '../../src/auth/tokens.js';
import { createMetrics, type MetricSources, type Metrics } from '../../src/metrics/registry.js';
import auth from '../../src/plugins/auth.js';
import errors from '../../src/plugins/errors.js';
import httpMetrics from '../../src/plugins/http-metrics.js';
import { metricsRoutes } from '../../src/routes/metrics.js';
import { makeRecord } from '../fakes/records.js';
import { TEST_TOKENS } from '../helper.js';

/** Sources whose answers a test sets directly. */
export interface FakeSources extends MetricSources {
  sessions: Record<string, number>;
  queue: number;
  streams: Record<string, number>;
  bytes: { stdout: number; stderr: number };
}

export function fakeSources(): FakeSources {
  return {
    sessions: {},
    queue: 0,
    streams: {},
    bytes: { stdout: 0, stderr: 0 },
    sessionsByStatus() {
      return this.sessions;
    },
    // Asynchronous on purpose: a source may answer with a promise.
    async queueLength() {
      return this.queue;
    },
    streamClients() {
      return this.streams;
    },
    logBytes() {
      return this.bytes;
    },
  };
}

export interface MetricsApp {
  app: Awaited<ReturnType<typeof build>>;
  metrics: Metrics;
  sources: FakeSources;
  /** Requests to /v1/hang that reached their handler (which never answers). */
  hanging: { count: number };
}

async function build(metrics: Metrics, hanging: { count: number }) {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  // The route's error responses refer to Problem, which the real app registers with the spec.
  app.addSchema(ProblemSchema);
  await app.register(errors);
  await app.register(auth, { tokens: new TokenTable([{ token: TEST_TOKENS.write, scope: 'write' }, { token: TEST_TOKENS.read, scope: 'read' }]) });
  await app.register(httpMetrics, { metrics });
  await app.register(metricsRoutes, { metrics });
  await app.register(async (routes) => {
    routes.get('/v1/sessions/:id', async (request) => ({ id: (request.params as { id: string }).id }));
    // A response that stays open until the client goes away, as SSE and raw follow do.
    routes.get('/v1/stream', { config: { queryTokenAllowed: true } }, async (_request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
      reply.raw.write(': open\n\n');
    });
    // A request that gets no answer until its client gives up.
    routes.get('/v1/hang', async (request) => {
      hanging.count += 1;
      await new Promise((resolve) => request.raw.once('close', resolve));
      return { late: true };
    });
  });
  return app;
}

export async function buildMetricsApp(t: Test): Promise<MetricsApp> {
  const sources = fakeSources();
  const metrics = createMetrics(sources);
  const hanging = { count: 0 };
  const app = await build(metrics, hanging);
  t.teardown(() => app.close());
  return { app, metrics, sources, hanging };
}

export const readAuth = { authorization: `Bearer ${TEST_TOKENS.read}` };

/** A lifecycle event for a session made from `makeRecord` with these fields. */
export function eventFor(type: LifecycleEvent['type'], session: Partial<Session>, seq = 1): LifecycleEvent {
  const { handle: _handle, stop_requested_at: _stop, ...fields } = makeRecord(session);
  return { seq, type, time: session.stopped_at ?? session.started_at ?? fields.started_at, session: fields };
}
