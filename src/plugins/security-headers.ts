// Security headers on every response (helmet's defaults plus a CSP for a JSON API). The helmet
// middleware is built once, at registration: @fastify/helmet rebuilt it (parsing the CSP) on
// every request, which cost the hot GET route a tenth of its time. Routes that serve pages
// (/docs) set their own CSP later, in onSend, which wins.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';

async function securityHeaders(app: FastifyInstance, options: HelmetOptions) {
  const apply = helmet(options);
  app.addHook('onRequest', (request, reply, done) => {
    apply(request.raw, reply.raw, (err?: unknown) => done(err as Error | undefined));
  });
}

export default fp(securityHeaders, { name: 'sessiond-security-headers' });
