// Records written by an older sessiond lack the fields added since; they get their defaults on
// load, so an upgrade never turns a good record into a "damaged" one.
import type { SessionRecord } from './session.js';

/** The defaults of every field added after v1, as a v1 session has them. */
const ADDED_FIELDS: Partial<SessionRecord> = {
  labels: {},
  stop_reason: null,
  max_runtime_ms: null,
  idle_timeout_ms: null,
  priority: 0,
  queued_at: null,
  parent_id: null,
  agent: null,
  runtime: 'local',
  image: null,
  limits: null,
};

/** Fills the missing v1.1 fields of a parsed record (in place); leaves anything else to validation. */
export function upgradeRecord(parsed: unknown): unknown {
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return parsed;
  const record = parsed as Record<string, unknown>;
  for (const [key, value] of Object.entries(ADDED_FIELDS)) {
    if (!(key in record)) record[key] = structuredClone(value);
  }
  return record;
}
