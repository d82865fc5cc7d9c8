// Reading the file journal's segments: one LifecycleEvent JSON per line. A reader meets what a
// crash or a disk left behind (a torn last line, zeros, garbage), so every line is checked, a bad
// one is counted and skipped, and the caller learns where the last good line ends.
import { EVENT_TYPES, type LifecycleEvent } from '../../schemas/events.js';

const NEWLINE = 0x0a;
/** Every line the journal writes starts so (seq is the first key); lets a line glued to garbage be recovered. */
const LINE_START = '{"seq":';
const TYPES = new Set<string>(EVENT_TYPES);

export interface ParsedSegment {
  /** The good events, in file order, each with a seq above the one before. */
  events: LifecycleEvent[];
  /** Lines that were not an event (or out of order), skipped. */
  badLines: number;
  /** Byte offset just past the newline of the last good line (0 when there is none). */
  goodEnd: number;
  /** Bytes after the last newline: a write the crash cut short. */
  tornBytes: number;
}

/** The event a parsed line holds, or null when it is not one (shape checked, not the whole Session schema). */
export function asEvent(value: unknown): LifecycleEvent | null {
  if (typeof value !== 'object' || value === null) return null;
  const event = value as Record<string, unknown>;
  if (!Number.isSafeInteger(event.seq) || (event.seq as number) < 1) return null;
  if (typeof event.type !== 'string' || !TYPES.has(event.type)) return null;
  if (typeof event.time !== 'string' || Number.isNaN(Date.parse(event.time))) return null;
  if (typeof event.session !== 'object' || event.session === null) return null;
  return value as LifecycleEvent;
}

function parseLine(text: string): LifecycleEvent | null {
  try {
    return asEvent(JSON.parse(text));
  } catch {
    // Not JSON. Garbage written before a good line (no newline between them) would hide it:
    // try again from the last place a line of ours could start.
    const at = text.lastIndexOf(LINE_START);
    if (at <= 0) return null;
    try {
      return asEvent(JSON.parse(text.slice(at)));
    } catch {
      return null;
    }
  }
}

/** Parses a segment's bytes; events with seq <= `afterSeq` (or not above the previous one) are skipped as bad. */
export function parseSegment(bytes: Buffer, afterSeq = 0): ParsedSegment {
  const events: LifecycleEvent[] = [];
  let badLines = 0;
  let goodEnd = 0;
  let last = afterSeq;
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(NEWLINE, start);
    if (end === -1) break;
    if (end > start) {
      const event = parseLine(bytes.toString('utf8', start, end));
      if (event && event.seq > last) {
        events.push(event);
        last = event.seq;
        goodEnd = end + 1;
      } else {
        badLines++;
      }
    }
    start = end + 1;
  }
  return { events, badLines, goodEnd, tornBytes: bytes.length - start };
}

/**
 * The last good event in the tail of a segment (`tail` holds its last bytes, `fromStart` when
 * that is the whole file): how an old segment is indexed without reading all of it.
 */
export function lastEventIn(tail: Buffer, fromStart: boolean): LifecycleEvent | null {
  // The first line of a tail that does not start the file is probably cut: skip it.
  const first = fromStart ? 0 : tail.indexOf(NEWLINE) + 1;
  if (!fromStart && first === 0) return null;
  const { events } = parseSegment(tail.subarray(first));
  return events.at(-1) ?? null;
}
