// The JSON of a session as GET answers it, kept per stored record: records are frozen and
// replaced on every change, so the record object itself is the cache key and a change can never
// be served stale. Only the live last_activity can differ between two reads of one record.
import type { Session, SessionRecord } from '../../schemas/session.js';

export function createViewCache(view: (record: SessionRecord) => Session) {
  const cache = new WeakMap<SessionRecord, { activity: string | null; json: string }>();
  return {
    /** The session's JSON, with keys in the schema's order (toSession builds it so). */
    json(record: SessionRecord): string {
      const session = view(record);
      const hit = cache.get(record);
      if (hit && hit.activity === session.last_activity) return hit.json;
      const json = JSON.stringify(session);
      cache.set(record, { activity: session.last_activity, json });
      return json;
    },
  };
}
