// Shorthands for route schemas: problem+json error responses and JSON success responses, for the spec.
import type { FastifyReply } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { ref } from '../../schemas/common.js';
import { ProblemSchema } from '../../schemas/problem.js';
import { ERRORS, type ErrorCode } from '../sessions/errors.js';
import { PROBLEM_CONTENT_TYPE } from '../plugins/errors.js';

const problem = ref(ProblemSchema);

/** Error responses by status, each listing the codes it may carry. */
export function problems(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...codes, 'internal' as const]) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<number, { description: string; content: Record<string, { schema: TSchema }> }> = {};
  for (const [status, list] of byStatus) {
    out[status] = {
      description: `problem+json with code ${list.map((c) => `\`${c}\``).join(' or ')}`,
      content: { [PROBLEM_CONTENT_TYPE]: { schema: problem } },
    };
  }
  return out;
}

/**
 * Sends JSON text that was serialised already (a cached session view). Fastify sends a string
 * with a JSON content type as it is; the route's response schema still documents the shape.
 */
export function sendJsonText(reply: FastifyReply, json: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(json);
}
