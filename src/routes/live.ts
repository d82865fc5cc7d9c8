// Taking over the socket for a response that stays open (SSE, raw follow).
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';

/** Hijacks the reply and sends 200 with `headers`, keeping what hooks set (CORS, security headers),
 * since hooks do not run after a hijack. */
export function openLiveResponse(reply: FastifyReply, headers: Record<string, string>): ServerResponse {
  reply.hijack();
  reply.raw.writeHead(200, { ...(reply.getHeaders() as OutgoingHttpHeaders), ...headers });
  // Send the headers now: a client must know it is connected before the first byte of output.
  reply.raw.flushHeaders();
  return reply.raw;
}
