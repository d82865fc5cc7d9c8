// LogStreams: the live views of a session's logs (SSE and raw follow) over one shared hub and
// session watch, and the register of open streams so shutdown can end them all.
import type { ServerResponse } from 'node:http';
import type { Session } from '../../schemas/session.js';
import type { LogStreamName, SessionStore } from '../store/store.js';
import { Readable, Transform, pipeline } from 'node:stream';
import { TAIL_MAX_BYTES } from '../../schemas/requests.js';
import type { LogsTail, LogsTailResponse } from '../../schemas/responses.js';
import { SessionError } from '../sessions/errors.js';
import { DOWNLOAD_CHUNK, guardLogRead } from '../sessions/session-logs.js';
import { trimToUtf8Boundaries } from '../sessions/utf8.js';
import { retainedWindows, type RetainedWindows } from './retained.js';
import { LogFollower } from './follower.js';
import { LinePrefixer } from './timestamps.js';
import { LogHub } from './hub.js';
import { offsetsSince } from './time-index.js';
import { runRawFollow } from './raw-follow.js';
import { SessionWatch, type SessionSource } from './session-watch.js';
import { READ_CHUNK, runSseStream } from './sse-stream.js';

export const PARTIAL_LINE_MS = 200;
/** Open streams past which a new SSE client reads smaller chunks. */
const CROWD = 8;
const CROWDED_CHUNK = 16 * 1024;


export interface SseRequest {
  streams: LogStreamName[];
  from: 'start' | 'tail';
  tailBytes: number;
  /** `<stdout offset>-<stderr offset>` from Last-Event-ID, already validated. */
  resume: { stdout: number; stderr: number } | null;
  /** Start at the first line written at or after this time (ms since the epoch); a resume wins. */
  since?: number | null;
  timestamps?: boolean;
}

export interface RawFollowRequest {
  /** The first byte to send. */
  start: number;
  timestamps?: boolean;
}

export interface LogStreamsOptions {
  store: SessionStore;
  sessions: SessionSource;
  keepAliveMs: number;
  pollIntervalMs: number;
  partialFlushMs?: number;
  log: { error(obj: object, msg: string): void };
}

/** Each stream's first line start at or after `since` (the log index says which bytes came when). */
export async function startsSince(store: SessionStore, id: string, since: number): Promise<Record<LogStreamName, number>> {
  const offsets = await offsetsSince(store, id, since);
  const out = { ...offsets };
  for (const stream of ['stdout', 'stderr'] as const) {
    const follower = new LogFollower(store, id, stream, offsets[stream]);
    try {
      // A line begun before `since` is not "written at or after" it: start at the next one.
      await follower.alignToLineStart(await follower.size());
      out[stream] = follower.offset;
    } finally {
      follower.close();
    }
  }
  return out;
}

/** 416 for a read that starts before what the cap kept: it names the retained range. */
export function beforeWindow(stream: LogStreamName, start: number, retainedFrom: number, size: number): SessionError {
  return new SessionError(
    'range_not_satisfiable',
    `byte ${start} of the ${stream} log was dropped by the log cap (SESSIOND_MAX_LOG_BYTES): it holds bytes ${retainedFrom}-${Math.max(retainedFrom, size - 1)} of ${size}`,
    { facts: { size, retained_from: retainedFrom } },
  );
}

export class LogStreams {
  readonly hub: LogHub;
  readonly windows: RetainedWindows;
  private readonly watch: SessionWatch;
  private readonly open = new Set<ServerResponse>();
  /** The open responses that are raw follows (aborted at shutdown, where SSE ends). */
  private readonly raw = new WeakSet<ServerResponse>();

  constructor(private readonly options: LogStreamsOptions) {
    this.hub = new LogHub(options.store, options.pollIntervalMs);
    this.watch = new SessionWatch(options.sessions);
    this.windows = retainedWindows(options.store);
  }

  /**
   * The JSON tail with each stream's retained window; a tail the service read across the window
   * (its start was dropped, or punched while it was read) is read again from the window's start.
   */
  async withWindows(tail: LogsTail, tailBytes: number): Promise<LogsTailResponse> {
    const want = Math.min(Math.max(0, Math.floor(tailBytes)), TAIL_MAX_BYTES);
    const out: LogsTailResponse = { ...tail, stdout_retained_from: 0, stderr_retained_from: 0 };
    for (const stream of ['stdout', 'stderr'] as const) {
      const size = tail[`${stream}_bytes`];
      let retained = await this.windows.from(tail.id, stream);
      // Checked after the read: a start inside the window means no byte of it was punched.
      while (size - want < retained && retained < size) {
        const bytes = await guardLogRead(() => this.options.store.readLog(tail.id, stream, retained, size));
        const after = await this.windows.from(tail.id, stream);
        if (after <= retained) {
          out[stream] = trimToUtf8Boundaries(bytes).toString('utf8');
          break;
        }
        retained = after;
      }
      if (retained >= size && retained > 0) out[stream] = '';
      out[`${stream}_retained_from`] = retained;
    }
    return out;
  }

  /**
   * Bytes [start, end) of a log as a stream for a response body. Each chunk is checked against
   * the retained window after it was read: one the cap punched meanwhile aborts the body (an
   * error, never zeros given out as bytes).
   */
  async body(id: string, stream: LogStreamName, start: number, end: number): Promise<Readable> {
    const source = await guardLogRead(() => this.options.store.openLogStream(id, stream, start, end, { chunkBytes: DOWNLOAD_CHUNK }));
    const windows = this.windows;
    let at = start;
    await windows.from(id, stream);
    const check = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        // Known in memory (loaded above) unless forgotten meanwhile: then read it again.
        const known = windows.known(id, stream);
        if (known !== undefined) {
          if (at < known) return done(new Error(`bytes from ${at} of the ${stream} log were dropped by the cap while they were read`));
          at += chunk.length;
          return done(null, chunk);
        }
        windows.from(id, stream).then(
          (retained) => {
            if (at < retained) return done(new Error(`bytes from ${at} of the ${stream} log were dropped by the cap while they were read`));
            at += chunk.length;
            done(null, chunk);
          },
          (err: Error) => done(err),
        );
      },
    });
    return pipeline(source, check, () => undefined);
  }

  /** Streams open now. */
  get openStreams(): number {
    return this.open.size;
  }

  async sse(session: Session, request: SseRequest, res: ServerResponse): Promise<void> {
    const { store } = this.options;
    // Inside track: the response is open already, so a log that cannot be read (replaced by a
    // link, say) must end it there rather than escape and leave it hanging.
    await this.track(res, 'sse', async () => {
      let start = { stdout: 0, stderr: 0 };
      let alignTail: { stdout: number; stderr: number } | null = null;
      if (request.resume) {
        start = { ...request.resume };
      } else if (request.since !== undefined && request.since !== null) {
        start = await startsSince(store, session.id, request.since);
      } else if (request.from === 'tail') {
        const [out, err] = await Promise.all([store.logStat(session.id, 'stdout'), store.logStat(session.id, 'stderr')]);
        start = { stdout: Math.max(0, out.size - request.tailBytes), stderr: Math.max(0, err.size - request.tailBytes) };
        alignTail = { stdout: out.size, stderr: err.size };
      }
      await runSseStream({
        store,
        hub: this.hub,
        watch: this.watch,
        session,
        streams: request.streams,
        start,
        alignTail,
        res,
        keepAliveMs: this.options.keepAliveMs,
        partialFlushMs: this.options.partialFlushMs ?? PARTIAL_LINE_MS,
        timestamps: request.timestamps ?? false,
        // Many clients at once: each reads (and has on its way to the socket) a small chunk, so
        // the service's memory grows little with their number; a few replay in big chunks (fewer
        // trips to the disk per byte).
        readChunk: this.open.size > CROWD ? CROWDED_CHUNK : READ_CHUNK,
      });
    });
  }

  async rawFollow(session: Session, stream: LogStreamName, res: ServerResponse, request: RawFollowRequest = { start: 0 }): Promise<void> {
    await this.track(res, 'raw', () =>
      runRawFollow({
        store: this.options.store,
        hub: this.hub,
        watch: this.watch,
        session,
        stream,
        start: request.start,
        timestamps: request.timestamps ?? false,
        res,
      }),
    );
  }

  /**
   * Runs a stream of another format (the agent messages) over the same hub and session watch,
   * registered and ended at shutdown like the others.
   */
  async serve(res: ServerResponse, run: (shared: { hub: LogHub; watch: SessionWatch }) => Promise<void>): Promise<void> {
    await this.track(res, 'sse', () => run({ hub: this.hub, watch: this.watch }));
  }

  /**
   * Where a raw read starts: at most one of `since`, `tailBytes` and a `Range` header (`bytes=N-`
   * or `bytes=-n`; with follow nothing else can be honoured). What cannot be honoured is
   * validation_failed (400), never ignored; a start past the end is range_not_satisfiable (416).
   */
  async rawStart(id: string, stream: LogStreamName, ask: { since?: number; tailBytes?: number; range?: string }): Promise<number> {
    const given = [ask.since !== undefined, ask.tailBytes !== undefined, ask.range !== undefined].filter(Boolean).length;
    if (given > 1) throw new SessionError('validation_failed', 'since, tail_bytes and Range each choose where to start: give at most one');
    const { store } = this.options;
    const size = (await guardLogRead(() => store.logStat(id, stream))).size;
    // Nothing before the window can be sent: a resume there is a 416 naming it, any other start
    // begins at it (a line start).
    const retained = await this.windows.from(id, stream);
    if (ask.range !== undefined) {
      const match = /^\s*bytes\s*=\s*(?:([0-9]{1,15})-|-([0-9]{1,15}))\s*$/i.exec(ask.range);
      if (!match) throw new SessionError('validation_failed', 'a followed log takes `Range: bytes=N-` (resume at byte N) or `bytes=-n` (the last n bytes) only');
      if (match[1] !== undefined) {
        const start = Number(match[1]);
        if (start > size) throw new SessionError('range_not_satisfiable', `the ${stream} log has ${size} bytes`, { facts: { size } });
        if (start < retained) throw beforeWindow(stream, start, retained, size);
        return start;
      }
      return Math.max(retained, size - Number(match[2]));
    }
    if (ask.tailBytes !== undefined) {
      const follower = new LogFollower(store, id, stream, Math.max(0, size - ask.tailBytes));
      try {
        await follower.alignToLineStart(size);
        return follower.offset;
      } finally {
        follower.close();
      }
    }
    if (ask.since !== undefined) return (await startsSince(store, id, ask.since))[stream];
    return retained;
  }

  async logSize(id: string, stream: LogStreamName): Promise<number> {
    return (await guardLogRead(() => this.options.store.logStat(id, stream))).size;
  }

  /** Bytes [start, end) of a log with each line prefixed by its time, read a chunk at a time. */
  timedBytes(id: string, stream: LogStreamName, start: number, end: number): Readable {
    const { store } = this.options;
    async function* chunks(): AsyncGenerator<Buffer> {
      const follower = new LogFollower(store, id, stream, start);
      const prefixer = new LinePrefixer(store, id, stream, start);
      try {
        while (follower.offset < end) {
          const read = await follower.read(Math.min(64 * 1024, end - follower.offset));
          // Cut by the cap while it was read: an aborted response, never a clean short one.
          if (read.kind === 'dropped') throw new Error(`bytes from ${follower.offset} of the ${stream} log were dropped by the cap while they were read`);
          if (read.kind !== 'data') return;
          yield await prefixer.push(read.chunk);
        }
      } finally {
        follower.close();
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  /**
   * At shutdown. SSE streams end without `end` (EventSource reconnects and resumes). A raw follow
   * is aborted, not ended: its only clean end means "the session has ended", so a client
   * (`curl -N` exits 18) can tell a service going away from a finished session.
   */
  closeAll(): void {
    for (const res of this.open) {
      if (this.raw.has(res)) res.destroy();
      else res.end();
    }
  }

  close(): void {
    this.closeAll();
    this.watch.close();
    this.hub.close();
  }

  private async track(res: ServerResponse, kind: 'sse' | 'raw', run: () => Promise<void>): Promise<void> {
    this.open.add(res);
    if (kind === 'raw') this.raw.add(res);
    try {
      await run();
    } catch (err) {
      // The response was already under way: all that is left is to log and cut it.
      this.options.log.error({ err }, 'log stream failed');
      res.destroy();
    } finally {
      this.open.delete(res);
    }
  }
}
