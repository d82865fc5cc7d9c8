// One SSE client: replays from the asked position, then follows both logs live, with status
// events, partial lines after a short pause, truncation notices, and `end` once the session has
// ended and every byte has been sent.
import type { ServerResponse } from 'node:http';
import type { Session } from '../../schemas/session.js';
import type { LogStreamName, SessionStore } from '../store/store.js';
import { LogFollower } from './follower.js';
import type { LogHub } from './hub.js';
import { LineSplitter } from './lines.js';
import { IndexCursor } from './time-index.js';
import { LineClock, formatTime } from './timestamps.js';
import { hasEnded, type SessionWatch } from './session-watch.js';
import { RETRY_MS, SseWriter, formatEvent, formatLinesEvent } from './sse.js';
import { FollowedSession } from './followed-session.js';
import { Wakeup } from './wakeup.js';

/** Bytes read per step: bounds what one client costs in memory (see readChunk). */
export const READ_CHUNK = 256 * 1024;
/** A partial line longer than this is sent at once rather than held. */
const MAX_PENDING = 64 * 1024;

export interface SseStreamOptions {
  store: SessionStore;
  hub: LogHub;
  watch: SessionWatch;
  session: Session;
  streams: LogStreamName[];
  /** Where each stream starts (bytes); streams not followed keep theirs for the event ids. */
  start: Record<LogStreamName, number>;
  /** from=tail without a resume position: begin each stream at a line start. */
  alignTail: { stdout: number; stderr: number } | null;
  res: ServerResponse;
  keepAliveMs: number;
  partialFlushMs: number;
  /** Prefix each line with the time of its first byte. */
  timestamps: boolean;
  /** Bytes read per step (default READ_CHUNK); smaller when many clients stream at once. */
  readChunk?: number;
}

interface Lane {
  stream: LogStreamName;
  follower: LogFollower;
  lines: LineSplitter;
  /** When the bytes of the current partial line were first read, or null when there are none. */
  partialSince: number | null;
  /** The offset of the first byte of the next line to be sent. */
  lineStart: number;
  /** Where this lane's bytes stand in the order of both streams (the log index). */
  order: IndexCursor;
  clock: LineClock | null;
}

export async function runSseStream(options: SseStreamOptions): Promise<void> {
  const { res, session } = options;
  const writer = new SseWriter(res, options.keepAliveMs);
  const wakeup = new Wakeup();
  const sent: Record<LogStreamName, number> = { ...options.start };
  const READ = options.readChunk ?? READ_CHUNK;

  if (options.alignTail) {
    // Both streams, followed or not: the id names a position in each, and resuming it later with
    // both streams must start each at a line start.
    for (const stream of ['stdout', 'stderr'] as const) {
      const aligner = new LogFollower(options.store, session.id, stream, options.start[stream]);
      try {
        await aligner.alignToLineStart(options.alignTail[stream]);
        sent[stream] = aligner.offset;
      } finally {
        aligner.close();
      }
    }
  }

  const followers = options.streams.map((stream) => new LogFollower(options.store, session.id, stream, sent[stream]));
  const lanes: Lane[] = await Promise.all(
    followers.map(async (follower) => {
      const stream = follower.stream;
      const lines = new LineSplitter();
      if ((await follower.previousByte()) === 0x0d) lines.resumeAfterCR();
      return {
        stream,
        follower,
        lines,
        partialSince: null,
        lineStart: sent[stream],
        order: new IndexCursor(options.store, session.id),
        clock: options.timestamps ? new LineClock(options.store, session.id, stream) : null,
      };
    }),
  ).catch((err: unknown) => {
    for (const follower of followers) follower.close();
    throw err;
  });
  const [first, second] = lanes;

  /**
   * What to read next, in written order across both streams: the lane whose next byte the index
   * noted first, up to the last byte it wrote before the other lane's next one. Bytes not noted
   * yet (being written now) are read lane after lane, as they come.
   */
  let sizedAfterEnd = false;
  const plan = async (): Promise<{ lane: Lane; max: number }[]> => {
    if (!first || !second) return lanes.map((lane) => ({ lane, max: READ }));
    // The session has ended and one stream has been read to its end: there is no order left to
    // keep, the other is read straight on (a replay of a finished session skips the index).
    if (hasEnded(followed.latest)) {
      // Measured once the end is known: sizes seen before it may have grown since.
      if (!sizedAfterEnd) for (const lane of lanes) await lane.follower.size();
      sizedAfterEnd = true;
      if (lanes.some((lane) => lane.follower.offset >= lane.follower.lastSize)) return lanes.map((lane) => ({ lane, max: READ }));
    }
    const [a, b] = await Promise.all([first, second].map((lane) => lane.order.entryFor(lane.stream, lane.follower.offset)));
    if (!a && !b) return lanes.map((lane) => ({ lane, max: READ }));
    const lane = !b || (a && a.seq < b.seq) ? first : second;
    const otherSeq = (lane === first ? b : a)?.seq ?? Number.POSITIVE_INFINITY;
    const offset = lane.follower.offset;
    let end = offset;
    for (;;) {
      const entry = await lane.order.peek();
      if (!entry || entry.seq >= otherSeq || end - offset >= READ) break;
      if (entry.stream === lane.stream) end = Math.max(end, entry.end);
      lane.order.next();
    }
    return [{ lane, max: Math.max(1, Math.min(READ, end - offset)) }];
  };

  const followed = new FollowedSession(options, session, lanes.map((lane) => lane.stream), wakeup, res);

  const id = () => `${sent.stdout}-${sent.stderr}`;
  const emitLines = async (lane: Lane, lines: string[], starts: number[]) => {
    sent[lane.stream] = lane.follower.offset - lane.lines.pendingBytes;
    let data = lines;
    const clock = lane.clock;
    if (clock) {
      data = [];
      for (let i = 0; i < lines.length; i++) data.push(`${formatTime(await clock.timeOf(starts[i] ?? lane.lineStart))} ${lines[i]}`);
    }
    await writer.write(formatEvent(lane.stream, data, id()));
  };
  const flushPartials = async (which: Lane[] = lanes) => {
    for (const lane of which) {
      const partial = lane.lines.flushPartial();
      if (partial !== null) {
        await emitLines(lane, [partial], [lane.lineStart]);
        // The rest of that line is sent as a line of its own, timed by its own first byte.
        lane.lineStart = lane.follower.offset - lane.lines.pendingBytes;
      }
      // An unfinished UTF-8 character may stay behind; it waits for its next bytes.
      lane.partialSince = lane.lines.pendingBytes > 0 ? Date.now() : null;
    }
  };

  try {
    await writer.write(`retry: ${RETRY_MS}\n\n`);
    // With the position the stream starts at, like every event that says where it stands: a
    // client that asked for what is there now (`since` past the last line, say) knows at once
    // that nothing comes before its target, and a resume from it starts here.
    await writer.write(formatEvent('status', [JSON.stringify(session)], id()));
    while (!writer.isClosed && !followed.gone) {
      // Seen before reading: if the session had ended by now, a pass that finds nothing new
      // proves every byte has been sent.
      const endedBeforePass = hasEnded(followed.latest);
      let progressed = false;
      for (const { lane, max } of await plan()) {
        const read = await lane.follower.read(max, true);
        if (read.kind === 'dropped') {
          // The cap dropped bytes not sent yet (a resume before the window, or a follower that
          // fell behind it): say where the stream goes on, then go on from the window's start,
          // a line start. The unfinished line read before it is dropped with the rest of it.
          lane.lines.reset();
          lane.partialSince = null;
          sent[lane.stream] = read.from;
          lane.lineStart = read.from;
          await writer.write(formatEvent('truncated', [JSON.stringify({ stream: lane.stream, size: read.size, retained_from: read.from })], id()));
          progressed = true;
        } else if (read.kind === 'truncated') {
          lane.lines.reset();
          lane.partialSince = null;
          sent[lane.stream] = read.size;
          lane.lineStart = read.size;
          // The index's offsets went back with the log: read it again from its start.
          lane.order = new IndexCursor(options.store, session.id);
          if (lane.clock) lane.clock = new LineClock(options.store, session.id, lane.stream);
          await writer.write(formatEvent('truncated', [JSON.stringify({ stream: lane.stream, size: read.size })], id()));
          progressed = true;
        } else if (read.kind === 'data' && !lane.clock) {
          // Without timestamps no line needs its own offset: the lines of a chunk are decoded and
          // framed as one text (a replay of short lines is dominated by per-line work otherwise).
          const region = lane.lines.pushRegion(read.chunk);
          // Framed at once (a copy): then the read's buffer goes back to the pool, before waiting for the client.
          if (region !== null) {
            sent[lane.stream] = lane.follower.offset - lane.lines.pendingBytes;
            lane.lineStart = sent[lane.stream];
          }
          const frame = region === null ? null : formatLinesEvent(lane.stream, region, id());
          lane.follower.release();
          if (frame !== null) await writer.write(frame);
          if (lane.lines.pendingBytes === 0) lane.partialSince = null;
          else if (region !== null || lane.partialSince === null) lane.partialSince = Date.now();
          if (lane.lines.pendingBytes > MAX_PENDING) await flushPartials();
          progressed = true;
        } else if (read.kind === 'data') {
          const base = lane.follower.offset - read.chunk.length;
          const lines = lane.lines.push(read.chunk);
          lane.follower.release();
          const next = lane.lines.nextStarts.map((at) => base + at);
          const starts = lines.map((_, i) => (i === 0 ? lane.lineStart : (next[i - 1] ?? lane.lineStart)));
          if (lines.length > 0) lane.lineStart = next[lines.length - 1] ?? lane.lineStart;
          if (lines.length > 0) await emitLines(lane, lines, starts);
          // The partial line's clock starts when its first bytes arrive.
          if (lane.lines.pendingBytes === 0) lane.partialSince = null;
          else if (lines.length > 0 || lane.partialSince === null) lane.partialSince = Date.now();
          if (lane.lines.pendingBytes > MAX_PENDING) await flushPartials();
          progressed = true;
        }
      }
      const changed = followed.takeStatus();
      if (changed) await writer.write(formatEvent('status', [JSON.stringify(changed)], id()));
      // More is on disk: keep reading. A read ending mid-line is not a partial line yet. Every
      // lane read to the end of its log while the session lives: nothing to read until the next
      // wake-up (one more read now would find nothing and cost a measure of each log per line).
      const caughtUp = lanes.every((lane) => lane.follower.atEnd) && !hasEnded(followed.latest);
      if (progressed && !caughtUp) continue;
      if (endedBeforePass) {
        // Nothing more will be written: even an unfinished last character goes out (as U+FFFD),
        // so every byte has been sent and the last id is the size of the log.
        for (const lane of lanes) {
          const rest = lane.lines.flushPartial(true);
          if (rest !== null) await emitLines(lane, [rest], [lane.lineStart]);
        }
        await writer.write(formatEvent('end', [JSON.stringify(followed.latest)]));
        return;
      }
      // Caught up. A trailing partial line goes out once it has waited partialFlushMs since its
      // first bytes were read, unless its newline comes first.
      const now = Date.now();
      const due = lanes.filter((lane) => lane.partialSince !== null && now - lane.partialSince >= options.partialFlushMs);
      if (due.length > 0) {
        await flushPartials(due);
        continue;
      }
      const next = Math.min(...lanes.map((lane) => (lane.partialSince === null ? Number.POSITIVE_INFINITY : lane.partialSince + options.partialFlushMs)));
      await wakeup.sleep(Number.isFinite(next) ? Math.max(0, next - now) : Number.POSITIVE_INFINITY);
    }
  } finally {
    for (const lane of lanes) lane.follower.close();
    followed.release();
    writer.end();
  }
}
