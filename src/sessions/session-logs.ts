// Reading a session's logs by byte offset: the JSON tail of both streams and one stream's raw
// bytes (all, a range, or a suffix). Reads only read: no process check, no record change.
import type { Readable } from 'node:stream';
import { TAIL_MAX_BYTES, type LogStreamName } from '../../schemas/requests.js';
import { StoreError } from '../store/errors.js';
import type { SessionStore } from '../store/store.js';
import { SessionError } from './errors.js';
import { trimToUtf8Boundaries } from './utf8.js';

/**
 * Bytes per read of a raw log download (all, a range, a suffix). With Node's 64 KiB a 100 MB
 * download ran at 0.63-0.70 of a bare file stream under the service's heap flags (each chunk a new
 * buffer, and full collections follow the buffers' bytes); at 256 KiB, 0.91-0.92. A download holds
 * one or two chunks at a time, backpressure doing the rest (8 whole downloads of a 200 MB log at
 * once: test/security/memory.test.ts; the raw route reads through LogStreams.body). Agent pages and
 * SSE keep Node's size.
 */
export const DOWNLOAD_CHUNK = 256 * 1024;

export interface RawLog {
  size: number;
  /** First and last byte sent (inclusive), or null for an empty log. */
  range: { start: number; end: number } | null;
  body: Readable;
}

export interface RangeRequest {
  start?: number;
  end?: number;
  suffix?: number;
}

/**
 * The last `tailBytes` of a log (never more than TAIL_MAX_BYTES, whatever the caller passes),
 * cut at UTF-8 boundaries, and the log's whole size.
 */
export async function readTail(store: SessionStore, id: string, stream: LogStreamName, tailBytes: number): Promise<{ size: number; text: string }> {
  const want = Number.isFinite(tailBytes) ? Math.min(Math.max(0, Math.floor(tailBytes)), TAIL_MAX_BYTES) : TAIL_MAX_BYTES;
  return guardLogRead(async () => {
    const { size } = await store.logStat(id, stream);
    const bytes = await store.readLog(id, stream, Math.max(0, size - want), size);
    return { size, text: trimToUtf8Boundaries(bytes).toString('utf8') };
  });
}

/**
 * A raw log's bytes, all of them or one range (`start`/`end` inclusive, as in HTTP; `suffix` for
 * the last N bytes). Throws range_not_satisfiable (with the size) when the range lies past the end.
 */
export async function readRaw(store: SessionStore, id: string, stream: LogStreamName, range?: RangeRequest): Promise<RawLog> {
  const { size } = await guardLogRead(() => store.logStat(id, stream));
  let start = 0;
  let end = size - 1;
  if (range) {
    if (range.suffix !== undefined) {
      start = Math.max(0, size - range.suffix);
    } else {
      start = range.start ?? 0;
      end = Math.min(range.end ?? size - 1, size - 1);
    }
    if (start >= size || (range.suffix !== undefined && range.suffix === 0)) {
      throw new SessionError('range_not_satisfiable', `the ${stream} log has ${size} bytes`, { facts: { size } });
    }
  }
  if (size === 0) return { size, range: null, body: await guardLogRead(() => store.openLogStream(id, stream, 0, 0)) };
  return { size, range: { start, end }, body: await guardLogRead(() => store.openLogStream(id, stream, start, end + 1, { chunkBytes: DOWNLOAD_CHUNK })) };
}

/**
 * Runs a read of the store, turning a log the store refuses to read (StoreError `corrupt`: the
 * session replaced it by a link, a hard link, a folder...) into log_unavailable, a clear answer
 * rather than a 500. Other faults pass through unchanged.
 */
export async function guardLogRead<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof StoreError && err.code === 'corrupt') throw new SessionError('log_unavailable', err.message, { cause: err });
    throw err;
  }
}
