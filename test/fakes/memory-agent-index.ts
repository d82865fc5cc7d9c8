// In-memory AgentIndexStore for tests: the file index's semantics without a disk.
import { IndexGapError, RECORD_BYTES, type AgentCheckpoint, type AgentIndexStore } from '../../src/agent/index-store.js';

export interface MemoryAgentIndex extends AgentIndexStore {
  /** Sessions that have an index (tests check deletes). */
  readonly ids: () => string[];
}

export function createMemoryAgentIndex(): MemoryAgentIndex {
  const checkpoints = new Map<string, string>();
  const records = new Map<string, Buffer>();
  return {
    ids: () => [...new Set([...checkpoints.keys(), ...records.keys()])],
    async load(id) {
      const text = checkpoints.get(id);
      return text === undefined ? null : (JSON.parse(text) as AgentCheckpoint);
    },
    async save(id, checkpoint) {
      // Kept as text, as the file is: a caller changing its object later changes nothing here.
      checkpoints.set(id, JSON.stringify(checkpoint));
    },
    async write(id, at, more) {
      const have = records.get(id) ?? Buffer.alloc(0);
      if (have.length < at * RECORD_BYTES) throw new IndexGapError(id, have.length / RECORD_BYTES, at);
      records.set(id, Buffer.concat([have.subarray(0, at * RECORD_BYTES), more]));
    },
    async read(id, from, count) {
      const have = records.get(id) ?? Buffer.alloc(0);
      return Buffer.from(have.subarray(from * RECORD_BYTES, (from + Math.max(0, count)) * RECORD_BYTES));
    },
    async remove(id) {
      checkpoints.delete(id);
      records.delete(id);
    },
  };
}
