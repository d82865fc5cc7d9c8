// LogStreams: the live views of a session's logs (SSE and raw follow) over one shared hub and
// session watch, and the register of open streams so shutdown can end them all.
import type { ServerResponse } from 'node:http';
import type { Session } from '../../schemas/session.js';
import type { LogStreamName, SessionStore } from '../store/store.js';
import { LogHub } from './hub.js';
import { runRawFollow } from './raw-follow.js';
import { SessionWatch, type SessionSource } from './session-watch.js';
import { runSseStream } from './sse-stream.js';

export const PARTIAL_LINE_MS = 200;

export interface SseRequest {
  streams: LogStreamName[];
  from: 'start' | 'tail';
  tailBytes: number;
  /** `<stdout offset>-<stderr offset>` from Last-Event-ID, already validated. */
  resume: { stdout: number; stderr: number } | null;
}

export interface LogStreamsOptions {
  store: SessionStore;
  sessions: SessionSource;
  keepAliveMs: number;
  pollIntervalMs: number;
  partialFlushMs?: number;
  log: { error(obj: object, msg: string): void };
}

export class LogStreams {
  readonly hub: LogHub;
  private readonly watch: SessionWatch;
  private readonly open = new Set<ServerResponse>();

  constructor(private readonly options: LogStreamsOptions) {
    this.hub = new LogHub(options.store, options.pollIntervalMs);
    this.watch = new SessionWatch(options.sessions);
  }

  /** Streams open now. */
  get openStreams(): number {
    return this.open.size;
  }

  async sse(session: Session, request: SseRequest, res: ServerResponse): Promise<void> {
    const { store } = this.options;
    // Inside track: the response is open already, so a log that cannot be read (replaced by a
    // link, say) must end it there rather than escape and leave it hanging.
    await this.track(res, async () => {
      let start = { stdout: 0, stderr: 0 };
      let alignTail: { stdout: number; stderr: number } | null = null;
      if (request.resume) {
        start = { ...request.resume };
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
      });
    });
  }

  async rawFollow(session: Session, stream: LogStreamName, res: ServerResponse): Promise<void> {
    await this.track(res, () =>
      runRawFollow({ store: this.options.store, hub: this.hub, watch: this.watch, session, stream, start: 0, res }),
    );
  }

  /**
   * Runs a stream of another format (the agent messages) over the same hub and session watch,
   * registered and ended at shutdown like the others.
   */
  async serve(res: ServerResponse, run: (shared: { hub: LogHub; watch: SessionWatch }) => Promise<void>): Promise<void> {
    await this.track(res, () => run({ hub: this.hub, watch: this.watch }));
  }

  /** Ends every open stream (at shutdown): clients see a clean end of the response. */
  closeAll(): void {
    for (const res of this.open) res.end();
  }

  close(): void {
    this.closeAll();
    this.watch.close();
    this.hub.close();
  }

  private async track(res: ServerResponse, run: () => Promise<void>): Promise<void> {
    this.open.add(res);
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
