// Idempotency-Key: a start retried with the same key and body within 24 hours answers the session
// the first one started. Keys are per caller and kept as digests in the record; this index finds
// them in O(1) instead of scanning every record.
import { createHash } from 'node:crypto';
import type { SessionRecord } from '../../schemas/session.js';

/** How long an Idempotency-Key is remembered. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

export type IdempotencyDigest = NonNullable<SessionRecord['idempotency']>;

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** JSON with sorted keys, so two equal bodies hash alike whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The digests a start stores: the key (per caller) and the body it came with. */
export function idempotencyDigest(key: string, caller: string | undefined, body: unknown): IdempotencyDigest {
  return { key: sha256(`${caller ?? ''}\0${key}`), request: sha256(canonical(body)) };
}

export class IdempotencyIndex {
  private readonly byKey = new Map<string, { id: string; request: string; started_at: string }>();

  add(record: Pick<SessionRecord, 'id' | 'idempotency' | 'started_at'>): void {
    if (record.idempotency) this.byKey.set(record.idempotency.key, { id: record.id, request: record.idempotency.request, started_at: record.started_at });
  }

  remove(record: Pick<SessionRecord, 'id' | 'idempotency'>): void {
    const found = record.idempotency ? this.byKey.get(record.idempotency.key) : undefined;
    if (found?.id === record.id && record.idempotency) this.byKey.delete(record.idempotency.key);
  }

  /** The earlier start under this key within the window, if any. */
  find(key: string, now: Date): { id: string; request: string } | undefined {
    const found = this.byKey.get(key);
    if (!found) return undefined;
    if (Date.parse(found.started_at) < now.getTime() - IDEMPOTENCY_WINDOW_MS) {
      this.byKey.delete(key);
      return undefined;
    }
    return found;
  }
}
