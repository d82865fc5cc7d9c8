// The /v1/events stream, apart from Fastify: the register of open event streams, each a cursor
// (the last seq it has dealt with) into the journal. A client that keeps up is written to as
// events are published; when its socket does not drain, nothing is queued for it: it catches up
// later by reading the journal from its cursor. So memory per client is one chunk whatever the
// client does, and a thousand clients share one subscription and one encoding per event (as
// Nomad's event broker shares one buffer among subscribers that each keep their own index).
import type { ServerResponse } from 'node:http';
import { labelsMatch, type Labels } from '../../schemas/labels.js';
import { RETRY_MS, drained, formatEvent } from '../logs/sse.js';
import type { EventJournal, EventType, LifecycleEvent } from './journal.js';

export interface EventFilter {
  sessionId: string | null;
  /** Every key=value must be on the event's session. */
  labels: Labels;
  /** null: every type. */
  types: ReadonlySet<EventType> | null;
}

export interface EventStreamRequest {
  filter: EventFilter;
  /** Replay every retained event after this seq, then go live; null: live only, from now. */
  after: number | null;
}

export interface EventStreamsOptions {
  journal: EventJournal;
  keepAliveMs: number;
  log: { error(obj: object, msg: string): void };
  /** Bytes handed to a socket at once before it is asked whether it drains. Default 16 KiB. */
  chunkBytes?: number;
  /** Events read from the journal at once while a client catches up. Default 256. */
  readBatch?: number;
}

export interface EventStreamStats {
  /** Streams open now. */
  clients: number;
  /** Of those, how many are reading the journal because their socket was full. */
  catchingUp: number;
  /**
   * The most bytes ever left waiting in one client's socket buffer after a write. Nothing else
   * is held per client: this is the whole of what a slow client costs.
   */
  peakBufferedBytes: number;
}

export interface EventStreams {
  /** Streams events into `res` (headers already sent) until the client goes or closeAll(). */
  open(res: ServerResponse, request: EventStreamRequest): Promise<void>;
  /** Streams open now (the sessiond_stream_clients{kind="events"} gauge). */
  readonly count: number;
  stats(): EventStreamStats;
  /** Ends every open stream cleanly (at shutdown: EventSource reconnects and resumes by seq). */
  closeAll(): void;
}

/** Whether `event` passes `filter`. */
export function eventMatches(filter: EventFilter, event: LifecycleEvent): boolean {
  if (filter.sessionId !== null && event.session.id !== filter.sessionId) return false;
  if (filter.types !== null && !filter.types.has(event.type)) return false;
  return labelsMatch(event.session.labels, filter.labels);
}

interface Client {
  res: ServerResponse;
  filter: EventFilter;
  /** The last seq dealt with (sent, or filtered out). */
  cursor: number;
  /** live: written to as events come; catchup: reading the journal; closed: gone. */
  mode: 'live' | 'catchup' | 'closed';
  keepAlive: NodeJS.Timeout;
  done: () => void;
}

/** Encoded events kept for reuse: a burst goes to every client, encoded once. */
const FRAME_CACHE = 2048;

export function createEventStreams(options: EventStreamsOptions): EventStreams {
  const { journal, keepAliveMs, log } = options;
  const chunkBytes = options.chunkBytes ?? 16 * 1024;
  const readBatch = options.readBatch ?? 256;
  const clients = new Set<Client>();
  const frames = new Map<number, Buffer>();
  let unsubscribe: (() => void) | null = null;
  /** Published events not yet handed to the live clients (one microtask's worth). */
  let published: LifecycleEvent[] = [];
  /** The newest seq published while anyone listened. */
  let latest = 0;
  let peakBufferedBytes = 0;

  /**
   * The event as sent, encoded once: every client is handed the same bytes, and a socket that
   * waits holds a reference to them, not a copy.
   */
  function frame(event: LifecycleEvent): Buffer {
    let bytes = frames.get(event.seq);
    if (bytes === undefined) {
      bytes = Buffer.from(formatEvent(event.type, [JSON.stringify(event)], String(event.seq)), 'utf8');
      frames.set(event.seq, bytes);
      if (frames.size > FRAME_CACHE) frames.delete(frames.keys().next().value as number);
    }
    return bytes;
  }

  const writable = (client: Client) => client.mode !== 'closed' && !client.res.destroyed && !client.res.writableEnded;

  function wrote(client: Client): void {
    // Anything sent is a sign of life: the next keep-alive is due a full interval later.
    client.keepAlive.refresh();
    if (client.res.writableLength > peakBufferedBytes) peakBufferedBytes = client.res.writableLength;
  }

  /** Writes text (the preamble, a reset); false when the socket wants to drain first. */
  function write(client: Client, text: string): boolean {
    if (!writable(client)) return true;
    const ok = client.res.write(text);
    wrote(client);
    return ok;
  }

  /**
   * Writes the events after the client's cursor that pass its filter, corked into chunks of about
   * chunkBytes; true when it stopped, at the end of a chunk, because the socket wants to drain.
   */
  function writeEvents(client: Client, events: LifecycleEvent[]): boolean {
    if (!writable(client)) return false;
    const { res } = client;
    let corked = 0;
    let ok = true;
    for (const event of events) {
      if (event.seq <= client.cursor) continue;
      client.cursor = event.seq;
      if (!eventMatches(client.filter, event)) continue;
      if (corked === 0) res.cork();
      const bytes = frame(event);
      ok = res.write(bytes);
      corked += bytes.length;
      if (corked >= chunkBytes) {
        res.uncork();
        corked = 0;
        wrote(client);
        if (!ok) return true;
      }
    }
    if (corked > 0) {
      res.uncork();
      wrote(client);
    }
    return !ok;
  }

  function writeReset(client: Client, oldest: number): void {
    write(client, formatEvent('reset', [JSON.stringify({ oldest_seq: oldest })]));
    client.cursor = oldest - 1;
  }

  function onPublished(event: LifecycleEvent): void {
    published.push(event);
    if (published.length === 1) queueMicrotask(fanOut);
  }

  function fanOut(): void {
    const batch = published;
    published = [];
    latest = (batch.at(-1) as LifecycleEvent).seq;
    for (const client of clients) {
      if (client.mode !== 'live') continue;
      if (writeEvents(client, batch)) fallBehind(client);
    }
  }

  /** The socket is full: stop writing, and once it drains, read the rest from the journal. */
  function fallBehind(client: Client): void {
    client.mode = 'catchup';
    void drained(client.res).then(() => catchUp(client));
  }

  async function catchUp(client: Client): Promise<void> {
    try {
      let retried = false;
      // A destroyed response says `close` a moment later; until then there is nothing to write to.
      while (client.mode === 'catchup' && writable(client)) {
        // Behind what is kept (a resume from long ago, or a reader slower than retention):
        // say so, then go on from the oldest kept.
        const oldest = journal.oldestSeq();
        if (client.cursor < oldest - 1) writeReset(client, oldest);
        const from = client.cursor;
        const events = await journal.readAfter(from, readBatch);
        if (client.mode !== 'catchup') return;
        if (events.length === 0) {
          // Something was published after this read began: read once more before going live.
          if (latest > client.cursor && !retried) {
            retried = true;
            continue;
          }
          client.mode = 'live';
          return;
        }
        retried = false;
        const first = events[0] as LifecycleEvent;
        // Retention may have dropped what was asked for between the check above and the read.
        const oldestNow = journal.oldestSeq();
        if (first.seq > from + 1 && from < oldestNow - 1) writeReset(client, oldestNow);
        // The rest of what was read is written as the socket drains (the read is at most
        // readBatch events, shared with the journal), rather than read again.
        while (writeEvents(client, events)) {
          await drained(client.res);
          if (client.mode !== 'catchup') return;
        }
      }
    } catch (err) {
      // Reading the journal failed: cut the stream, the client reconnects and resumes by seq.
      log.error({ err }, 'event stream: reading the journal failed');
      client.res.destroy();
    }
  }

  function finish(client: Client): void {
    if (client.mode === 'closed') return;
    client.mode = 'closed';
    clearInterval(client.keepAlive);
    clients.delete(client);
    if (clients.size === 0 && unsubscribe) {
      unsubscribe();
      unsubscribe = null;
    }
    client.done();
  }

  function open(res: ServerResponse, request: EventStreamRequest): Promise<void> {
    return new Promise<void>((resolve) => {
      const keepAlive = setInterval(() => {
        if (!res.destroyed && !res.writableEnded && !res.writableNeedDrain) res.write(': keep-alive\n\n');
      }, keepAliveMs);
      keepAlive.unref();
      const client: Client = { res, filter: request.filter, cursor: journal.lastSeq(), mode: 'live', keepAlive, done: resolve };
      // Subscribed before anything is read, so nothing published from now on can be missed;
      // the cursor drops what the replay already sent.
      clients.add(client);
      unsubscribe ??= journal.subscribe(onPublished);
      res.once('close', () => finish(client));
      if (res.destroyed) return finish(client);

      if (request.after === null) {
        // Live only. The id line (no data: no event) lets an EventSource that reconnects before
        // the first event resume from here instead of from "now" again.
        write(client, `retry: ${RETRY_MS}\nid: ${client.cursor}\n\n`);
        return;
      }
      write(client, `retry: ${RETRY_MS}\n\n`);
      client.mode = 'catchup';
      client.cursor = request.after;
      // An id this journal never gave out (another data dir, say): the client cannot know where it is.
      if (request.after > journal.lastSeq()) writeReset(client, journal.oldestSeq());
      void catchUp(client);
    });
  }

  return {
    open,
    get count() {
      return clients.size;
    },
    stats: () => ({
      clients: clients.size,
      catchingUp: [...clients].filter((client) => client.mode === 'catchup').length,
      peakBufferedBytes,
    }),
    closeAll() {
      for (const client of [...clients]) {
        finish(client);
        client.res.end();
      }
    },
  };
}
