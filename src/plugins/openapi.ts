// The OpenAPI document (generated from the route schemas), served at /openapi.json, and Swagger UI at /docs.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { LifecycleEventSchema } from '../../schemas/events.js';
import { MetadataSchema, SessionSchema } from '../../schemas/session.js';
import { ProblemSchema } from '../../schemas/problem.js';
import { ContinueSessionBodySchema, StartSessionBodySchema } from '../../schemas/requests.js';
import { AgentInputBodySchema, AgentMessagePageSchema, AgentMessageSchema } from '../../schemas/agent.js';
import { PACKAGE } from '../package-info.js';
import { finishDocument } from './openapi-finish.js';
import { describeOperation } from './openapi-operations.js';
import { HealthSchema, LogsTailSchema, ReadySchema, SessionListSchema } from '../../schemas/responses.js';
import {
  CreateWebhookBodySchema,
  WebhookCreatedSchema,
  WebhookDeliveryListSchema,
  WebhookDeliverySchema,
  WebhookListSchema,
  WebhookSchema,
  WebhookTestEventSchema,
} from '../../schemas/webhooks.js';

export const SHARED_SCHEMAS = [
  SessionSchema,
  MetadataSchema,
  ProblemSchema,
  StartSessionBodySchema,
  SessionListSchema,
  LogsTailSchema,
  HealthSchema,
  ReadySchema,
  CreateWebhookBodySchema,
  WebhookSchema,
  WebhookCreatedSchema,
  WebhookListSchema,
  WebhookDeliverySchema,
  WebhookDeliveryListSchema,
  WebhookTestEventSchema,
  LifecycleEventSchema,
  ContinueSessionBodySchema,
  AgentMessageSchema,
  AgentMessagePageSchema,
  AgentInputBodySchema,
];

/** One version: the package's. */
export const API_VERSION = PACKAGE.version;

export interface OpenApiPluginOptions {
  /**
   * The service is reached over TLS (SESSIOND_TLS=behind-proxy): /docs may tell browsers to
   * upgrade its requests to https. Over plain HTTP that would make the page blank.
   */
  behindTls?: boolean;
}

/** Swagger UI's own CSP, without `upgrade-insecure-requests` unless the service is behind TLS. */
export function docsCsp(header: string, behindTls: boolean): string {
  return behindTls ? header : header.replace(/\s*upgrade-insecure-requests;?/g, '').trim();
}

async function openapiPlugin(app: FastifyInstance, options: OpenApiPluginOptions) {
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);

  // Security, and the errors auth, rate limiting and validation answer, on every operation.
  app.addHook('onRoute', describeOperation);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'sessiond',
        version: API_VERSION,
        license: { name: PACKAGE.license, identifier: PACKAGE.license },
        description:
          'Starts, observes and stops long-running command-line sessions (agent CLIs such as claude) on a host. ' +
          'Errors are application/problem+json (RFC 9457) with a stable `code`.',
      },
      // Relative first: /docs and a client given the document's own URL call the service they read it from.
      servers: [
        { url: '/', description: 'the service this document was read from' },
        { url: 'http://127.0.0.1:7070', description: 'a local service with the default SESSIOND_HOST and SESSIOND_PORT' },
      ],
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'Authorization: Bearer <token>. A `read` token may call GET routes and open streams; a `write` token may call everything.',
          },
          access_token: {
            type: 'apiKey',
            in: 'query',
            name: 'access_token',
            description: 'The same token as a query parameter, accepted on the stream routes only (browsers’ EventSource cannot send headers).',
          },
        },
      },
      security: [{ bearer: ['read'] }],
      tags: [
        { name: 'sessions', description: 'start, read, stop, wait for and delete sessions' },
        { name: 'logs', description: 'read a session’s stdout and stderr' },
        { name: 'agent', description: 'agent sessions (Claude Code): parsed messages, continue and fork, interrupt' },
        { name: 'webhooks', description: 'endpoints that receive lifecycle events as signed HTTP POSTs (Standard Webhooks)' },
        { name: 'events', description: 'follow every session’s lifecycle as it happens' },
        { name: 'health', description: 'liveness and readiness' },
        { name: 'metrics', description: 'Prometheus metrics of the service' },
      ],
    },
    // Name shared schemas by their $id (Session, Problem...) instead of def-0, def-1.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
    transformObject: (document) => finishDocument('openapiObject' in document ? document.openapiObject : document.swaggerObject),
  });

  const behindTls = options.behindTls ?? false;
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true, transformStaticCSP: (header) => docsCsp(header, behindTls) });

  app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => app.swagger());
}

export default fp(openapiPlugin, { name: 'sessiond-openapi' });
