// One error handler for the whole API: SessionErrors and Fastify's own errors become problem+json.
// A 5xx never shows its message, a stack or a server path: those go to the log only.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Problem } from '../../schemas/problem.js';
import { ERRORS, SessionError, type ErrorCode } from '../sessions/errors.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Fastify's own error codes that have a better name in our contract. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'validation_failed',
  FST_ERR_CTP_INVALID_JSON_BODY: 'validation_failed',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_VALIDATION: 'validation_failed',
};

/** Fallback by status for 4xx errors without a known code (from plugins, say). */
const BY_STATUS: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  416: 'range_not_satisfiable',
  429: 'limit_exceeded',
  431: 'headers_too_large',
  503: 'unavailable',
};

export function sendProblem(
  reply: FastifyReply,
  request: FastifyRequest,
  code: ErrorCode,
  detail: string,
  extra: Partial<Pick<Problem, 'errors' | 'instance' | 'size' | 'retained_from'>> = {},
) {
  const { status, title } = ERRORS[code];
  const problem: Problem = {
    type: 'about:blank',
    title,
    status,
    detail,
    code,
    instance: request.url.split('?')[0] ?? '/',
    ...extra,
  };
  // An over-long or hostile URL is not sent back to its sender.
  if ('instance' in extra && extra.instance === undefined) delete problem.instance;
  // Sent as a string so no route's response schema can reshape or drop a field of it.
  return reply.code(status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

function validationDetail(error: FastifyError): { detail: string; errors: NonNullable<Problem['errors']> } {
  const part = error.validationContext ?? 'request';
  const errors = (error.validation ?? []).map((issue) => {
    const missing = (issue.params as { missingProperty?: string } | undefined)?.missingProperty;
    const extra = (issue.params as { additionalProperty?: string } | undefined)?.additionalProperty;
    const field = missing ?? extra;
    const path = `/${part}${issue.instancePath}${field ? `/${field}` : ''}`;
    const message = extra ? 'is not a known field' : (issue.message ?? 'is invalid');
    return { path, message };
  });
  const detail = errors.map((e) => `${e.path} ${e.message}`).join('; ') || error.message;
  return { detail, errors };
}

/**
 * Errors the router raises before any route or hook runs (Fastify's `frameworkErrors` option):
 * they get problem+json like every other error, without echoing the offending URL.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return sendProblem(reply, request, 'uri_too_long', `a path segment is longer than ${MAX_PARAM_LENGTH} characters`, { instance: undefined });
  }
  if (error.code === 'FST_ERR_BAD_URL') return sendProblem(reply, request, 'bad_request', 'the URL is malformed');
  return sendProblem(reply, request, 'bad_request', 'the request could not be routed');
}

/** The problem for an error Node's HTTP server raises on a connection, before any request exists. */
function clientProblem(err: { code?: string }): { code: ErrorCode; detail: string } {
  if (err.code === 'HPE_HEADER_OVERFLOW') return { code: 'headers_too_large', detail: 'the request headers are larger than 16 KiB' };
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { code: 'request_timeout', detail: 'the request (headers and body) did not arrive in time (SESSIOND_REQUEST_TIMEOUT_MS)' };
  }
  return { code: 'bad_request', detail: 'the request is not valid HTTP/1.1' };
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses (headers over 16 KiB, a request
 * that does not arrive within the request timeout, malformed HTTP) is answered as problem+json
 * too, written straight to the socket (there is no request object), then the connection closes.
 * As Node does, nothing is written once a response on this connection has begun.
 */
export function clientErrorHandler(this: FastifyInstance, err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { code, detail } = clientProblem(err);
  const { status, title } = ERRORS[code];
  this.log.debug({ err: { code: err.code, message: err.message } }, `client error: ${code}`);
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const body = JSON.stringify({ type: 'about:blank', title, status, detail, code } satisfies Problem);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? title}\r\n` +
        `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy();
}

/** Longest path segment the router accepts (session ids are at most 128 characters). */
export const MAX_PARAM_LENGTH = 256;

async function errorsPlugin(app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError | SessionError, request, reply) => {
    if (error instanceof SessionError) {
      if (error.code === 'range_not_satisfiable' && error.facts.size !== undefined) reply.header('content-range', `bytes */${error.facts.size}`);
      if (error.status >= 500) request.log.error({ err: error.cause ?? error, code: error.code }, 'request failed');
      // A log's retained window, so a client resuming before it knows where to go on.
      if (error.code === 'range_not_satisfiable' && error.facts.retained_from !== undefined) {
        return sendProblem(reply, request, error.code, error.detail, { size: error.facts.size, retained_from: error.facts.retained_from });
      }
      return sendProblem(reply, request, error.code, error.detail);
    }
    if (error.validation) {
      const { detail, errors } = validationDetail(error);
      return sendProblem(reply, request, 'validation_failed', detail, { errors });
    }
    const status = error.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'unhandled error');
      return sendProblem(reply, request, status === 503 ? 'unavailable' : 'internal', 'an internal error occurred; see the service log');
    }
    const code = (error.code && FASTIFY_CODES[error.code]) || BY_STATUS[status] || 'bad_request';
    const detail = code === 'validation_failed' && error.code === 'FST_ERR_CTP_INVALID_JSON_BODY'
      ? 'the body is not valid JSON'
      : error.message;
    return sendProblem(reply, request, code, detail);
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, request, 'not_found', `no route for ${request.method} ${request.url.split('?')[0]}`),
  );
}

export default fp(errorsPlugin, { name: 'sessiond-errors' });
