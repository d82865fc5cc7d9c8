// Who may call what: every route needs a bearer token except those marked public (health, the
// spec, the docs). GET needs `read`, everything else `write`. Stream routes (config
// queryTokenAllowed) also take ?access_token=, because browsers' EventSource cannot send headers.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { scopeAllows, scopeFor, type TokenMatch, type TokenTable } from '../auth/tokens.js';
import { SessionError } from '../sessions/errors.js';

export interface AuthPluginOptions {
  tokens: TokenTable;
}

export interface AuthRouteConfig {
  /** No token needed (health, spec, docs). */
  public?: boolean;
  /**
   * `?access_token=` accepted besides the header: always (SSE), or when the query says so
   * (raw logs, only with follow=true).
   */
  queryTokenAllowed?: boolean | ((query: Record<string, unknown>) => boolean);
}

const CHALLENGE = 'Bearer realm="sessiond"';

/**
 * A refused request is answered as soon as its headers are in (this hook runs before the body
 * is read). When a body is still on its way, the connection is closed after the answer, so a
 * client that was refused cannot keep it busy by trickling a body nobody will read.
 */
function refuse(request: FastifyRequest, reply: FastifyReply, error: SessionError): never {
  const headers = request.headers;
  if (headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0) reply.header('connection', 'close');
  throw error;
}

function presentedToken(request: FastifyRequest, config: AuthRouteConfig): string | null {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    return match?.[1] ?? '';
  }
  const query = (request.query ?? {}) as Record<string, unknown>;
  const allowed = typeof config.queryTokenAllowed === 'function' ? config.queryTokenAllowed(query) : config.queryTokenAllowed;
  if (allowed && typeof query.access_token === 'string') return query.access_token;
  return null;
}

export function isPublicRoute(url: string | undefined, config: AuthRouteConfig): boolean {
  return config.public === true || url === '/docs' || (url?.startsWith('/docs/') ?? false);
}

async function authPlugin(app: FastifyInstance, { tokens }: AuthPluginOptions) {
  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (request, reply) => {
    const config = (request.routeOptions.config ?? {}) as AuthRouteConfig;
    if (request.method === 'OPTIONS' || isPublicRoute(request.routeOptions.url, config)) return;
    const presented = presentedToken(request, config);
    if (presented === null) {
      reply.header('www-authenticate', CHALLENGE);
      refuse(request, reply, new SessionError('unauthorized', 'a bearer token is required: Authorization: Bearer <token>'));
    }
    const match = tokens.find(presented);
    if (!match) {
      reply.header('www-authenticate', `${CHALLENGE}, error="invalid_token"`);
      refuse(request, reply, new SessionError('unauthorized', 'the bearer token is not valid'));
    }
    const needed = scopeFor(request.method);
    if (!scopeAllows(match.scope, needed)) {
      reply.header('www-authenticate', `${CHALLENGE}, error="insufficient_scope", scope="${needed}"`);
      refuse(request, reply, new SessionError('forbidden', `this route needs a ${needed} token; yours is ${match.scope}`));
    }
    request.auth = match;
  });
}

export default fp(authPlugin, { name: 'sessiond-auth' });

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's token (scope and non-secret key), once authenticated. */
    auth: TokenMatch | null;
  }
}
