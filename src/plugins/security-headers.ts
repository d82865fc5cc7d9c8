// Security headers on every response (helmet's defaults plus a CSP for a JSON API). The helmet
// middleware is built once, at registration: @fastify/helmet rebuilt it (parsing the CSP) on
// every request, which cost the hot GET route a tenth of its time. Routes that serve pages
// (/docs) set their own CSP later, in onSend, which wins.
//
// HSTS and `upgrade-insecure-requests` only when the service is reached over TLS: sent over plain
// HTTP from a LAN address, they make a browser rewrite /docs's assets to https, and the page stays blank.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';

export interface SecurityHeadersOptions {
  helmet: HelmetOptions;
  /** A TLS proxy is in front of the service (SESSIOND_TLS=behind-proxy). */
  behindTls: boolean;
}

/** The helmet options for how the service is reached. */
export function helmetOptions({ helmet: options, behindTls }: SecurityHeadersOptions): HelmetOptions {
  if (behindTls) return options;
  const csp = options.contentSecurityPolicy;
  const directives = typeof csp === 'object' ? csp.directives : undefined;
  // (The cast: HelmetOptions is a union that forbids `hsts` beside `strictTransportSecurity`.)
  return {
    ...options,
    strictTransportSecurity: false,
    contentSecurityPolicy: csp === false ? false : { ...(typeof csp === 'object' ? csp : {}), directives: { ...directives, upgradeInsecureRequests: null } },
  } as HelmetOptions;
}

async function securityHeaders(app: FastifyInstance, options: SecurityHeadersOptions) {
  const apply = helmet(helmetOptions(options));
  app.addHook('onRequest', (request, reply, done) => {
    apply(request.raw, reply.raw, (err?: unknown) => done(err as Error | undefined));
  });
}

export default fp(securityHeaders, { name: 'sessiond-security-headers' });
