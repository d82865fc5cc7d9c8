// The OpenAPI document (generated from the route schemas), served at /openapi.json, and Swagger UI at /docs.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { LifecycleEventSchema } from '../../schemas/events.js';
import { MetadataSchema, SessionSchema } from '../../schemas/session.js';
import { ProblemSchema } from '../../schemas/problem.js';
import { ContinueSessionBodySchema, StartSessionBodySchema } from '../../schemas/requests.js';
import { AgentMessagePageSchema, AgentMessageSchema } from '../../schemas/agent.js';
import { scopeFor } from '../auth/tokens.js';
import type { AuthRouteConfig } from './auth.js';
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
];

export const API_VERSION = '1.0.0';

async function openapiPlugin(app: FastifyInstance) {
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);

  // Each operation says what it needs: `security` with the scope (OpenAPI 3.1 lets a bearer
  // requirement name roles), and the open routes say `security: []`.
  app.addHook('onRoute', (route) => {
    const config = (route.config ?? {}) as AuthRouteConfig;
    if (!route.schema || route.schema.hide) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const scope = scopeFor(methods[0] ?? 'GET');
    const schema = route.schema as Record<string, unknown>;
    if (config.public) schema.security = [];
    else schema.security = config.queryTokenAllowed ? [{ bearer: [scope] }, { access_token: [scope] }] : [{ bearer: [scope] }];
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'sessiond',
        version: API_VERSION,
        description:
          'Starts, observes and stops long-running command-line sessions (agent CLIs such as claude) on a host. ' +
          'Errors are application/problem+json (RFC 9457) with a stable `code`.',
      },
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
  });

  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => app.swagger());
}

export default fp(openapiPlugin, { name: 'sessiond-openapi' });
