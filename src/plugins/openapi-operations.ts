// What every operation of the OpenAPI document says because of how the service works, not because
// each route remembered to say it: who may call it (security), and the errors auth, rate limiting
// and validation answer on it (401, 403, 429, 400, 500 as problem+json). Runs as an onRoute hook,
// so a route added later gets the same.
import type { RouteOptions } from 'fastify';
import { scopeFor } from '../auth/tokens.js';
import type { ErrorCode } from '../sessions/errors.js';
import { addProblems, problemResponse } from '../routes/responses.js';
import type { AuthRouteConfig } from './auth.js';

export interface OpenApiRouteConfig extends AuthRouteConfig {
  /**
   * The route takes a missing (or empty) body as `{}`: the document says `requestBody.required:
   * false`. The route itself must accept it (see emptyBodyIsEmptyObject in routes/sessions.ts).
   */
  optionalBody?: boolean;
}

/** Marks an operation whose body may be omitted; openapi-finish.ts turns it into `required: false`. */
export const OPTIONAL_BODY_MARK = 'x-sessiond-optional-body';

const INPUTS = ['params', 'querystring', 'body', 'headers'] as const;

/** The problem codes a route may answer because of the service's plugins, whatever its handler does. */
export function implicitProblems(method: string, config: OpenApiRouteConfig, schema: Record<string, unknown>): ErrorCode[] {
  const codes: ErrorCode[] = [];
  // Any input schema can refuse what it is sent.
  if (INPUTS.some((part) => schema[part] !== undefined)) codes.push('validation_failed');
  if (!config.public) {
    codes.push('unauthorized');
    // Every token may read; only writes can lack the scope. Writes are rate limited (app.ts).
    if (scopeFor(method) === 'write') codes.push('forbidden', 'limit_exceeded');
  }
  codes.push('internal');
  return codes;
}

export function describeOperation(route: RouteOptions): void {
  const schema = route.schema as Record<string, unknown> | undefined;
  if (!schema || schema.hide) return;
  const config = (route.config ?? {}) as OpenApiRouteConfig;
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const method = methods[0] ?? 'GET';
  const scope = scopeFor(method);
  // OpenAPI 3.1 lets a bearer requirement name roles: the scope; open routes say `security: []`.
  if (config.public) schema.security = [];
  else schema.security = config.queryTokenAllowed ? [{ bearer: [scope] }, { access_token: [scope] }] : [{ bearer: [scope] }];
  // A copy: a response map shared by several routes must not collect every route's codes.
  const responses = { ...((schema.response as Record<string, unknown> | undefined) ?? {}) };
  addProblems(responses, implicitProblems(method, config, schema));
  // Answered before any route runs, so possible on every operation.
  responses['4xx'] ??= {
    ...problemResponse(['request_timeout', 'uri_too_long', 'headers_too_large']),
    description: 'any other client error, as problem+json: a request that arrived too slowly (408 `request_timeout`), a URL or headers too long (414 `uri_too_long`, 431 `headers_too_large`)',
  };
  schema.response = responses;
  if (config.optionalBody && schema.body !== undefined) schema[OPTIONAL_BODY_MARK] = true;
}
