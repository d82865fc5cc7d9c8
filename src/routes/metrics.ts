// GET /metrics: the service's Prometheus metrics (text format 0.0.4), for a read token.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Metrics } from '../metrics/registry.js';
import { problems } from './responses.js';

export interface MetricsRoutesOptions {
  metrics: Metrics;
}

export const metricsRoutes: FastifyPluginAsyncTypebox<MetricsRoutesOptions> = async (app, { metrics }) => {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['metrics'],
        operationId: 'getMetrics',
        summary: 'Prometheus metrics',
        description:
          'Prometheus text format 0.0.4 (`text/plain; version=0.0.4; charset=utf-8`). The service’s own metrics are named `sessiond_*`: ' +
          'sessions by status, starts, ends by status and stop reason, session and start durations, the queue length, open streams, ' +
          'webhook deliveries, log bytes on disk, and HTTP requests by method, route pattern and status code. The process’s default ' +
          'metrics keep their standard names (`process_*`, `nodejs_*`). No session id, label value, token or path is ever a label.',
        response: {
          200: { description: 'the metrics', content: { 'text/plain': { schema: Type.String() } } },
          ...problems(),
        },
      },
    },
    async (_request, reply) => {
      const text = await metrics.scrape();
      return reply.type(metrics.contentType).send(text);
    },
  );
};
