// Liveness (/healthz: the process answers) and readiness (/readyz: the store reads and writes).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ref } from '../../schemas/common.js';
import { HealthSchema, ReadySchema } from '../../schemas/responses.js';
import { SessionError } from '../sessions/errors.js';
import type { SessionStore } from '../store/store.js';
import { problems } from './responses.js';

export interface HealthRoutesOptions {
  store: SessionStore;
  /** What the service would like an operator to know (a disk below its floor, say); [] when all is well. */
  warnings?: () => Promise<string[]>;
}

const tags = ['health'];

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, { store, warnings }) => {
  app.get(
    '/healthz',
    { config: { public: true }, schema: { tags, summary: 'Liveness', response: { 200: ref(HealthSchema), ...problems() } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        tags,
        summary: 'Readiness: the store is readable and writable',
        response: { 200: ref(ReadySchema), ...problems('unavailable') },
      },
    },
    async (request) => {
      try {
        await store.probe();
      } catch (err) {
        request.log.warn({ err }, 'readiness probe failed');
        throw new SessionError('unavailable', 'the session store cannot be read or written');
      }
      return {
        status: 'ok' as const,
        sessions: (await store.list()).length,
        damaged_records: store.damagedCount(),
        warnings: (await warnings?.()) ?? [],
      };
    },
  );
};
