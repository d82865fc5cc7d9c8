// The public resource made from a stored record: the record without what only the service needs.
import { SessionSchema, type Session, type SessionRecord } from '../../schemas/session.js';

const SESSION_KEYS = Object.keys(SessionSchema.properties) as Array<keyof Session>;

export function toSession(record: SessionRecord): Session {
  const out = {} as Record<keyof Session, unknown>;
  for (const key of SESSION_KEYS) out[key] = record[key];
  return out as Session;
}
