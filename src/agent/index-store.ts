// The AgentIndexStore port: where a session's message index lives, so parsing survives a restart
// without reading the log again. Two parts: fixed-size records (one per message: where its line
// is, how to serve it, its type), read at any position in O(1); and a checkpoint (where parsing
// goes on, how many records count, the summary so far, the names the records point to), replaced
// atomically. Records past the checkpoint's count are leftovers of a crash and are written over.
import { Type, type Static } from '@sinclair/typebox';
import { AgentSummarySchema } from '../../schemas/agent.js';
import '../../schemas/value-registry.js';

/** Bytes of one record: offset f64, length f64, kind u8, line-end u8, type u16, subtype u16, reserved. */
export const RECORD_BYTES = 32;
/** The subtype id of "no subtype". */
export const NO_NAME = 0xffff;
/** At most this many distinct names (types and subtypes) per session; more read as `unknown`. */
export const MAX_NAMES = 4096;

export const AgentCheckpointSchema = Type.Object({
  version: Type.Literal(1),
  /** The first byte of the first line not yet indexed: parsing goes on from here. */
  offset: Type.Integer({ minimum: 0 }),
  /** Records that count (the messages before `offset`). */
  count: Type.Integer({ minimum: 0 }),
  summary: AgentSummarySchema,
  /** Type and subtype names, by the ids the records hold. */
  names: Type.Array(Type.String({ maxLength: 64 }), { maxItems: MAX_NAMES }),
  /** The session has ended and every line, the last one too, is indexed. */
  complete: Type.Boolean(),
});
export type AgentCheckpoint = Static<typeof AgentCheckpointSchema>;

export class IndexGapError extends Error {
  constructor(id: string, has: number, at: number) {
    super(`the message index of session ${id} holds ${has} records, fewer than the ${at} its checkpoint counts`);
    this.name = 'IndexGapError';
  }
}

export interface AgentIndexStore {
  /** The session's checkpoint, or null when it has none (or an unreadable one: parsing starts over). */
  load(id: string): Promise<AgentCheckpoint | null>;
  /** Replaces the checkpoint atomically. */
  save(id: string, checkpoint: AgentCheckpoint): Promise<void>;
  /**
   * Writes `records` as records number `at`, `at + 1`, ... (0-based), dropping any record from `at`
   * on that was there. Throws IndexGapError when fewer than `at` records are there.
   */
  write(id: string, at: number, records: Buffer): Promise<void>;
  /** Up to `count` records from number `from`; fewer (or none) past the end. */
  read(id: string, from: number, count: number): Promise<Buffer>;
  /** Forgets the session's index (it was deleted). */
  remove(id: string): Promise<void>;
}
