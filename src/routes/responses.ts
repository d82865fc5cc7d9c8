// Shorthands for route schemas: problem+json error responses and JSON success responses, for the spec.
import type { FastifyReply } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { ref } from '../../schemas/common.js';
import { ProblemSchema } from '../../schemas/problem.js';
import { ERRORS, type ErrorCode } from '../sessions/errors.js';
import { PROBLEM_CONTENT_TYPE } from '../plugins/errors.js';

const problem = ref(ProblemSchema);

export interface ProblemResponse {
  description: string;
  content: Record<string, { schema: TSchema }>;
}

/** The codes each problem response was made for, so more can be added to it later (see addProblems). */
const codesOf = new WeakMap<object, ErrorCode[]>();

export function problemResponse(codes: ErrorCode[]): ProblemResponse {
  const response = {
    description: `problem+json with code ${codes.map((c) => `\`${c}\``).join(' or ')}`,
    content: { [PROBLEM_CONTENT_TYPE]: { schema: problem } },
  };
  codesOf.set(response, codes);
  return response;
}

/** Error responses by status, each listing the codes it may carry. */
export function problems(...codes: ErrorCode[]) {
  const out: Record<number, ProblemResponse> = {};
  addProblems(out, [...codes, 'internal']);
  return out;
}

/**
 * Adds codes to a route's responses: to the problem response of their status when there is one
 * (made by problems()), as a new one when there is none. A status the route answers with a
 * response of its own (not a problem) is left as it is.
 */
export function addProblems(responses: Record<number | string, unknown>, codes: ErrorCode[]): void {
  for (const code of codes) {
    const status = ERRORS[code].status;
    const existing = responses[status];
    if (existing === undefined) {
      responses[status] = problemResponse([code]);
      continue;
    }
    const known = typeof existing === 'object' && existing !== null ? codesOf.get(existing) : undefined;
    if (known && !known.includes(code)) responses[status] = problemResponse([...known, code]);
  }
}

/**
 * Sends JSON text that was serialised already (a cached session view). Fastify sends a string
 * with a JSON content type as it is; the route's response schema still documents the shape.
 */
export function sendJsonText(reply: FastifyReply, json: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(json);
}
