// Follows an SSE route to its end, across dropped connections: on a reset, a close without the
// end, a silent connection or a service that is restarting, it reconnects with Last-Event-ID and
// goes on where it stopped (the service resumes with no gap and no duplicate). A 4xx answer
// ends it: asking again would get the same answer.
import type { Api, Query } from './api.js';
import { ApiError, UnreachableError } from './errors.js';
import { SseParser, type SseMessage } from './sse.js';

export interface FollowOptions {
  query?: Query;
  /** Where to resume from (a previous run's last id), if anywhere. */
  lastEventId?: string;
  /**
   * Called for each message, in order; returning 'stop' ends the follow (the `end` event, or
   * the caller has what it wanted).
   */
  onMessage: (message: SseMessage) => 'stop' | void | Promise<'stop' | void>;
  /** Told once per outage, when the connection is lost and the follow starts reconnecting. */
  onReconnecting?: (why: string) => void;
  /** Told when a reconnect got the stream back. */
  onReconnected?: () => void;
  /** Ends the follow from outside (Ctrl-C). */
  signal?: AbortSignal;
  /** No byte for this long (the service sends a keep-alive at least every 15 s): the connection is dead. */
  idleMs?: number;
  /** The longest wait between two attempts. */
  maxDelayMs?: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** Resolves with the last id seen when the follow ended (by 'stop' or the signal). */
export async function follow(api: Api, path: string, options: FollowOptions): Promise<string | undefined> {
  const parser = new SseParser(options.lastEventId);
  const idleMs = options.idleMs ?? 45_000;
  const maxDelayMs = options.maxDelayMs ?? 5_000;
  let failures = 0;
  let outage: string | null = null;

  while (!options.signal?.aborted) {
    const attempt = new AbortController();
    const abort = () => attempt.abort();
    options.signal?.addEventListener('abort', abort, { once: true });
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => attempt.abort(new Error(`no data for ${idleMs / 1000} s`)), idleMs);
    };
    let why: string;
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (parser.lastId !== undefined) headers['last-event-id'] = parser.lastId;
      arm();
      const res = await api.open('GET', path, { query: options.query, headers, signal: attempt.signal });
      if (outage !== null) options.onReconnected?.();
      outage = null;
      failures = 0;
      const decoder = new TextDecoder();
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        arm();
        for (const message of parser.push(decoder.decode(value, { stream: true }))) {
          if ((await options.onMessage(message)) === 'stop') {
            await reader.cancel().catch(() => undefined);
            return parser.lastId;
          }
        }
      }
      why = 'the service closed the stream';
    } catch (err) {
      if (options.signal?.aborted) break;
      // A refusal is final; a service that is down, restarting or overloaded is worth another try.
      if (err instanceof ApiError && err.status < 500) throw err;
      why = err instanceof UnreachableError ? 'the service does not answer' : err instanceof ApiError ? err.message : 'the connection was lost';
    } finally {
      clearTimeout(idle);
      options.signal?.removeEventListener('abort', abort);
    }
    if (outage === null) {
      outage = why;
      options.onReconnecting?.(why);
    }
    failures += 1;
    const delay = Math.min(maxDelayMs, (parser.retryMs ?? 1000) * 2 ** Math.min(failures - 1, 4));
    await sleep(delay, options.signal);
  }
  return parser.lastId;
}
