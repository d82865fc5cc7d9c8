// Server-Sent Events framing and the writer that keeps a stream healthy: it waits for the socket
// to drain before more is read (bounded memory per client) and sends a keep-alive comment when
// nothing else was sent for a while, so proxies and browsers keep the connection.
import { isUtf8 } from 'node:buffer';
import type { ServerResponse } from 'node:http';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
} as const;

export const RETRY_MS = 2000;

/** One event: `data` lines each become a `data:` field (a client joins them with `\n`). */
export function formatEvent(event: string, data: string[], id?: string): string {
  let out = id === undefined ? '' : `id: ${id}\n`;
  out += `event: ${event}\n`;
  for (const line of data) out += `data: ${line}\n`;
  return `${out}\n`;
}

/**
 * One event whose data is `region`: lines that still hold their line ends (`\n`, `\r\n`, a lone
 * `\r`); each line becomes a `data:` field, as formatEvent(event, lines) would make it. Valid
 * UTF-8 with `\n` line ends (nearly every log) is framed as bytes: one search and one copy per
 * line, and no string as large as the chunk (many clients replaying at once would otherwise
 * leave the heap full of them). Anything else is decoded first (invalid bytes become U+FFFD, as
 * formatEvent has them).
 */
export function formatLinesEvent(event: string, region: Buffer, id: string): Buffer | string {
  if (region.indexOf(CR) !== -1 || !isUtf8(region)) {
    return `id: ${id}\nevent: ${event}\ndata: ${region.toString('utf8').replace(LINE_END, '\ndata: ')}\n\n`;
  }
  const head = `id: ${id}\nevent: ${event}\ndata: `;
  let ends = 0;
  for (let at = region.indexOf(LF); at !== -1; at = region.indexOf(LF, at + 1)) ends++;
  // Each line end (one byte) becomes `\ndata: `; the event ends with a blank line.
  const out = Buffer.allocUnsafe(head.length + region.length + ends * (DATA.length - 1) + 2);
  let pos = out.write(head, 0, 'latin1');
  let from = 0;
  for (let at = region.indexOf(LF); at !== -1; at = region.indexOf(LF, from)) {
    pos += region.copy(out, pos, from, at);
    pos += DATA.copy(out, pos);
    from = at + 1;
  }
  pos += region.copy(out, pos, from);
  out[pos++] = LF;
  out[pos++] = LF;
  return out.subarray(0, pos);
}
const LINE_END = /\r\n|\r|\n/g;
const CR = 0x0d;
const LF = 0x0a;
/** Ends a line and starts the next `data:` field. */
const DATA = Buffer.from('\ndata: ');

/**
 * Resolves once the response can take more (`drain`) or will take nothing more (closed, or
 * ended). Unlike racing `once(res, 'drain')` with `once(res, 'close')`, it leaves no listener
 * behind, and it does not wait for a `close` that has already happened.
 */
export function drained(res: ServerResponse): Promise<void> {
  if (res.destroyed || res.writableEnded || !res.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      res.off('finish', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
    res.on('finish', done);
  });
}

export class SseWriter {
  private readonly keepAlive: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly res: ServerResponse,
    keepAliveMs: number,
  ) {
    this.keepAlive = setInterval(() => {
      if (!this.closed && !res.writableNeedDrain) res.write(': keep-alive\n\n');
    }, keepAliveMs);
    this.keepAlive.unref();
    res.once('close', () => this.stop());
  }

  get isClosed(): boolean {
    return this.closed || this.res.destroyed || this.res.writableEnded;
  }

  /**
   * Waits until the socket has taken what was written before, then writes: the reader runs at
   * most one write ahead of the client (bounded memory), and reads the next chunk while this one
   * goes out.
   */
  async write(text: string | Buffer): Promise<void> {
    if (this.isClosed) return;
    await drained(this.res);
    if (this.isClosed) return;
    // Anything sent counts as a sign of life: the next keep-alive is due a full interval later.
    this.keepAlive.refresh();
    this.res.write(text);
  }

  end(): void {
    this.stop();
    if (!this.res.writableEnded) this.res.end();
  }

  private stop(): void {
    this.closed = true;
    clearInterval(this.keepAlive);
  }
}
