// Liveness (/healthz: the process answers) and readiness (/readyz: the store reads and writes).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ref } from '../../schemas/common.js';
import { HealthSchema, ReadySchema } from '../../schemas/responses.js';
import { SessionError } from '../sessions/errors.js';
import type { SessionStore } from '../store/store.js';
import { problems } from './responses.js';

/** How long one store probe answers /readyz: anonymous callers cannot make the disk work harder. */
export const READY_PROBE_TTL_MS = 5000;

export interface HealthRoutesOptions {
  store: SessionStore;
  /** What the service would like an operator to know (a disk below its floor, say); [] when all is well. */
  warnings?: () => Promise<string[]>;
  /** How local sessions are held together (a cgroup each, or only their process group). */
  containment?: () => string;
  /** Milliseconds on a monotonic clock (tests pass their own). */
  now?: () => number;
}

const tags = ['health'];

/**
 * The store's probe (an fsync'ed write and a read back) at most once per READY_PROBE_TTL_MS,
 * whatever the request rate: callers within that time share the last outcome, success or
 * failure, and callers during a probe wait for that same probe.
 */
export function cachedProbe(probe: () => Promise<void>, now: () => number, ttlMs = READY_PROBE_TTL_MS): () => Promise<void> {
  let last: { at: number; outcome: Promise<void> } | null = null;
  return () => {
    const at = now();
    if (last === null || at - last.at >= ttlMs || at < last.at) {
      const outcome = probe();
      // Awaited by each caller; this keeps an unawaited failure from being "unhandled".
      outcome.catch(() => undefined);
      last = { at, outcome };
    }
    return last.outcome;
  };
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, { store, warnings, containment, now = () => performance.now() }) => {
  const probe = cachedProbe(() => store.probe(), now);

  app.get(
    '/healthz',
    { config: { public: true }, schema: { tags, operationId: 'getHealth', summary: 'Liveness', response: { 200: { ...ref(HealthSchema), description: 'the process answers' }, ...problems() } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        tags,
        operationId: 'getReadiness',
        summary: 'Readiness: the store is readable and writable',
        description: `The store is probed (a write and a read back) at most once every ${READY_PROBE_TTL_MS / 1000} s; calls in between answer its outcome.`,
        response: { 200: { ...ref(ReadySchema), description: 'ready: the store was read and written; warnings say what an operator should know' }, ...problems('unavailable') },
      },
    },
    async (request) => {
      try {
        await probe();
      } catch (err) {
        request.log.warn({ err }, 'readiness probe failed');
        const full = /ENOSPC|EDQUOT/.test(`${(err as { code?: string }).code ?? ''} ${(err as { cause?: { code?: string } }).cause?.code ?? ''}`);
        throw new SessionError(
          'unavailable',
          full
            ? 'the data directory is full: sessions keep running and stops still work, but changes wait in memory until there is room'
            : 'the session store cannot be read or written',
        );
      }
      return {
        status: 'ok' as const,
        sessions: store.orderedCount(),
        damaged_records: store.damagedCount(),
        containment: containment?.() ?? 'process-group',
        warnings: (await warnings?.()) ?? [],
      };
    },
  );
};
