// The Engine's multiplexed stream (attach and logs of a container without a TTY), split into
// frames: an 8-byte header (stream byte, three zero bytes, big-endian uint32 length) and that many
// bytes of payload. Kept as frames, in arrival order, rather than demuxed into two streams
// (docker-modem's demuxStream), because the order of stdout and stderr between them is what the
// log index records. Pure: no I/O, so it is tested without an engine.

export type FrameStream = 'stdout' | 'stderr';

export interface Frame {
  stream: FrameStream;
  bytes: Buffer;
}

const HEADER_BYTES = 8;
/** The Engine's frame for stdin (1 is stdout, 2 stderr); never in output, dropped if seen. */
const STDIN = 0;

export interface FrameSplitter {
  /** The whole frames completed by `chunk`; a partial frame waits for the next chunk. */
  push(chunk: Buffer): Frame[];
  /** Bytes of an incomplete frame held back (non-zero when a stream ends mid-frame). */
  pending(): number;
}

export function createFrameSplitter(): FrameSplitter {
  let held: Buffer = Buffer.alloc(0);
  return {
    push(chunk: Buffer): Frame[] {
      held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
      const frames: Frame[] = [];
      let offset = 0;
      while (held.length - offset >= HEADER_BYTES) {
        const type = held[offset]!;
        const size = held.readUInt32BE(offset + 4);
        if (held.length - offset - HEADER_BYTES < size) break;
        const start = offset + HEADER_BYTES;
        // A copy: the chunk's buffer may be reused by the socket once this returns.
        const bytes = Buffer.from(held.subarray(start, start + size));
        offset = start + size;
        if (type === STDIN) continue;
        frames.push({ stream: type === 2 ? 'stderr' : 'stdout', bytes });
      }
      held = held.subarray(offset);
      return frames;
    },
    pending(): number {
      return held.length;
    },
  };
}
