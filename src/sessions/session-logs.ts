// Reading a session's logs by byte offset: the JSON tail of both streams and one stream's raw
// bytes (all, a range, or a suffix). Reads only read: no process check, no record change.
import { lstat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { TAIL_MAX_BYTES, type LogStreamName } from '../../schemas/requests.js';
import type { SessionStore } from '../store/store.js';
import { SessionError } from './errors.js';
import { trimToUtf8Boundaries } from './utf8.js';

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
 * A failed log read, explained: when the log's path is no longer a regular file (a session
 * replaced it by a directory, a link or a FIFO), a clear 409 log_unreadable instead of a 500.
 * The path is looked at only to explain a failure that already happened; nothing is read by it.
 */
async function explainReadFailure(err: unknown, store: SessionStore, id: string, stream: LogStreamName): Promise<unknown> {
  if (err instanceof SessionError) return err;
  const path = store.logLocation(id)[stream];
  const stat = await lstat(path).catch(() => null);
  if (stat && !stat.isFile()) {
    return new SessionError('log_unreadable', `the ${stream} log of session ${id} is not a regular file (the session replaced it); it cannot be served`, { cause: err });
  }
  return err;
}

async function guarded<T>(store: SessionStore, id: string, stream: LogStreamName, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    throw await explainReadFailure(err, store, id, stream);
  }
}

/**
 * The last `tailBytes` of a log (never more than TAIL_MAX_BYTES, whatever the caller passes),
 * cut at UTF-8 boundaries, and the log's whole size.
 */
export async function readTail(store: SessionStore, id: string, stream: LogStreamName, tailBytes: number): Promise<{ size: number; text: string }> {
  const want = Number.isFinite(tailBytes) ? Math.min(Math.max(0, Math.floor(tailBytes)), TAIL_MAX_BYTES) : TAIL_MAX_BYTES;
  return guarded(store, id, stream, async () => {
    const { size } = await store.logStat(id, stream);
    const bytes = await store.readLog(id, stream, Math.max(0, size - want), size);
    return { size, text: trimToUtf8Boundaries(bytes).toString('utf8') };
  });
}

/**
 * A raw log's bytes, all of them or one range (`start`/`end` inclusive, as in HTTP; `suffix` for
 * the last N bytes). Throws range_not_satisfiable (with the size) when the range lies past the end,
 * and log_unreadable when the log is not a regular file: its first byte is read before the
 * response starts, so that is a problem, not a 200 cut short.
 */
export async function readRaw(store: SessionStore, id: string, stream: LogStreamName, range?: RangeRequest): Promise<RawLog> {
  const { size } = await guarded(store, id, stream, () => store.logStat(id, stream));
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
  if (size === 0) return { size, range: null, body: store.openLogStream(id, stream, 0, 0) };
  await guarded(store, id, stream, () => store.readLog(id, stream, start, start + 1));
  return { size, range: { start, end }, body: store.openLogStream(id, stream, start, end + 1) };
}
