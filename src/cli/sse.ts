// Server-Sent Events parsing for the command (the WHATWG rules the service writes to): fields
// `event`, `data` (joined with \n), `id` and `retry`; comments ignored. An `id:` in a block
// without data still moves the resume position, as EventSource does.

export interface SseMessage {
  event: string;
  /** The id of this message, or undefined when it had none. */
  id: string | undefined;
  data: string;
}

export class SseParser {
  /** The resume position: the last id seen, sent back as Last-Event-ID on a reconnect. */
  lastId: string | undefined;
  /** The reconnection delay the service asked for (`retry:`), in ms. */
  retryMs: number | undefined;
  private buffer = '';

  constructor(lastId?: string) {
    this.lastId = lastId;
  }

  /** Feeds decoded text; returns the messages it completes. */
  push(text: string): SseMessage[] {
    this.buffer += text;
    const out: SseMessage[] = [];
    for (;;) {
      const match = /\r\n\r\n|\n\n|\r\r/.exec(this.buffer);
      if (!match) break;
      const block = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const message = this.parseBlock(block);
      if (message) out.push(message);
    }
    return out;
  }

  private parseBlock(block: string): SseMessage | null {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id' && !value.includes('\0')) id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    }
    if (id !== undefined) this.lastId = id;
    return data.length > 0 ? { event, id, data: data.join('\n') } : null;
  }
}
