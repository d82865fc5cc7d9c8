// The 32-byte record of one message in the index, and the names its type and subtype point to.
import { MAX_NAMES, NO_NAME, RECORD_BYTES } from './index-store.js';
import type { Kind, LineFact } from './line-parser.js';

export interface IndexEntry {
  /** 1-based, in the order written. */
  n: number;
  offset: number;
  length: number;
  term: number;
  kind: Kind;
  type: string;
  subtype: string | null;
}

/** Names every index starts with, so these two never run out. */
export const INITIAL_NAMES: readonly string[] = ['text', 'unknown'];
const UNKNOWN_ID = 1;

/** The names of one session's index and their ids (ids are positions, stable once given). */
export class NameTable {
  private readonly ids = new Map<string, number>();

  constructor(readonly names: string[]) {
    names.forEach((name, i) => this.ids.set(name, i));
  }

  /** The id of `name`, given now if new; null when the table is full. */
  idOf(name: string): number | null {
    const known = this.ids.get(name);
    if (known !== undefined) return known;
    if (this.names.length >= MAX_NAMES) return null;
    this.names.push(name);
    this.ids.set(name, this.names.length - 1);
    return this.names.length - 1;
  }

  nameOf(id: number): string | null {
    return id === NO_NAME ? null : (this.names[id] ?? null);
  }
}

export function encodeRecords(facts: readonly LineFact[], names: NameTable): Buffer {
  const buf = Buffer.alloc(facts.length * RECORD_BYTES);
  facts.forEach((fact, i) => {
    const at = i * RECORD_BYTES;
    buf.writeDoubleLE(fact.offset, at);
    buf.writeDoubleLE(fact.length, at + 8);
    buf.writeUInt8(fact.kind, at + 16);
    buf.writeUInt8(fact.term, at + 17);
    buf.writeUInt16LE(names.idOf(fact.type) ?? UNKNOWN_ID, at + 18);
    buf.writeUInt16LE(fact.subtype === null ? NO_NAME : (names.idOf(fact.subtype) ?? NO_NAME), at + 20);
  });
  return buf;
}

/** The records in `buf`, the first being message number `firstN`. */
export function decodeRecords(buf: Buffer, firstN: number, names: NameTable): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (let at = 0; at + RECORD_BYTES <= buf.length; at += RECORD_BYTES) {
    out.push({
      n: firstN + out.length,
      offset: buf.readDoubleLE(at),
      length: buf.readDoubleLE(at + 8),
      kind: buf.readUInt8(at + 16) as Kind,
      term: buf.readUInt8(at + 17),
      type: names.nameOf(buf.readUInt16LE(at + 18)) ?? 'unknown',
      subtype: names.nameOf(buf.readUInt16LE(at + 20)),
    });
  }
  return out;
}
