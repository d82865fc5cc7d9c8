// One log line per request, written when its response is done (or cut off): method, route, URL
// with credentials redacted, status and duration. Fastify's own pair of lines (incoming request,
// request completed) is turned off in app.ts, which halves the log and puts the status and the
// time on the line that names the URL. Streams are logged when they end, hijacked or not.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface RequestLogOptions {
  /** The URL as it may be logged (no token in any spelling): app.ts's redactUrl. */
  redactUrl: (url: string) => string;
}

/** Probes that monitoring calls every few seconds: logged at debug, so they do not fill the log. */
const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

async function requestLog(app: FastifyInstance, { redactUrl }: RequestLogOptions) {
  app.addHook('onRequest', (request, reply, done) => {
    const started = performance.now();
    reply.raw.once('close', () => {
      const route = request.routeOptions.url;
      const url = redactUrl(request.url);
      const status = reply.raw.statusCode;
      const ms = Math.round((performance.now() - started) * 10) / 10;
      // Closed before the whole response was written: the client went away, or the service stopped.
      const cut = !reply.raw.writableFinished;
      const level = route !== undefined && PROBES.has(route) ? 'debug' : 'info';
      request.log[level](
        { request: { method: request.method, route: route ?? null, url, status, ms, ...(cut ? { cut: true } : {}) } },
        `${request.method} ${url} ${status} ${ms} ms${cut ? ' (connection closed before the end)' : ''}`,
      );
    });
    done();
  });
}

export default fp(requestLog, { name: 'sessiond-request-log' });
