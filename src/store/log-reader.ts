// A LogReader made of a store's one-off reads (logStat, readLog): for stores that keep nothing
// open (the memory store) and for ids that name no log. Same answers, one look-up per call.
import { StoreError } from './errors.js';
import type { LogReader, LogStreamName, SessionStore } from './store.js';

export function logReaderOf(store: Pick<SessionStore, 'logStat' | 'readLog'>, id: string, stream: LogStreamName): LogReader {
  let closed = false;
  const open = () => {
    if (closed) throw new StoreError('io', `the reader of the ${stream} log of session ${id} is closed`);
  };
  return {
    size: async () => (open(), (await store.logStat(id, stream)).size),
    // `fresh` is only a hint: the one-off reads have no faster way.
    read: async (start, end, into) => (open(), store.readLog(id, stream, start, end, into)),
    close: () => {
      closed = true;
    },
  };
}
