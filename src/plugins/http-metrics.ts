// Counts and times every HTTP request by method, route PATTERN and status code, never by raw URL
// (an id or a query would make a new series per request and put them in the metrics).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Metrics } from '../metrics/registry.js';

export interface HttpMetricsPluginOptions {
  metrics: Metrics;
}

/** The route label of a request no route matched (the 404 handler, and router errors). */
export const UNMATCHED_ROUTE = 'unmatched';
const CLIENT_CLOSED = 499;

async function httpMetricsPlugin(app: FastifyInstance, { metrics }: HttpMetricsPluginOptions) {
  const counted = new WeakSet<FastifyReply>();

  const record = (request: FastifyRequest, reply: FastifyReply, statusCode: number) => {
    if (counted.has(reply)) return;
    counted.add(reply);
    // routeOptions.url is the pattern of the matched route; the 404 handler has none.
    const route = request.is404 ? UNMATCHED_ROUTE : (request.routeOptions.url ?? UNMATCHED_ROUTE);
    // elapsedTime runs from routing, so a request refused by an earlier onRequest hook (auth) is
    // timed as well as one that reached its handler.
    metrics.observeHttp({ method: request.method, route, statusCode, seconds: reply.elapsedTime / 1000 });
  };

  app.addHook('onRequest', async (request, reply) => {
    // onResponse runs only when a response finishes; a stream whose client went away closes
    // without finishing, and is counted here instead: with the status it had sent, or 499
    // (client closed request, as nginx says) when it had sent nothing.
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) record(request, reply, reply.raw.headersSent ? reply.raw.statusCode : CLIENT_CLOSED);
    });
  });

  app.addHook('onResponse', async (request, reply) => record(request, reply, reply.statusCode));
}

export default fp(httpMetricsPlugin, { name: 'sessiond-http-metrics' });
