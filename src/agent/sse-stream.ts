// The log stream with format=agent: one `agent` event per parsed message of stdout, with the ids
// of the lines format (`<stdout offset after it>-<stderr offset>`), so a client resumes with
// Last-Event-ID exactly after the last message it got. `status` on connect and on each change,
// `end` once the session has ended and every message was sent.
import type { ServerResponse } from 'node:http';
import type { Session } from '../../schemas/session.js';
import type { LogHub } from '../logs/hub.js';
import { hasEnded, type SessionWatch } from '../logs/session-watch.js';
import { RETRY_MS, SseWriter, formatEvent } from '../logs/sse.js';
import { FollowedSession } from '../logs/followed-session.js';
import { Wakeup } from '../logs/wakeup.js';
import type { SessionStore } from '../store/store.js';
import { LineReader, renderMessage } from './render.js';
import type { AgentTracker } from './tracker.js';

/** Entries read from the index per step. */
const BATCH = 64;

export interface AgentSseOptions {
  store: SessionStore;
  tracker: AgentTracker;
  hub: LogHub;
  watch: SessionWatch;
  session: Session;
  /** Send the messages whose line starts at or after this byte of stdout. */
  startOffset: number;
  /** The stderr half of every id (this format does not read stderr; a resumed id keeps its value). */
  stderrOffset: number;
  res: ServerResponse;
  keepAliveMs: number;
}

export async function runAgentSse(options: AgentSseOptions): Promise<void> {
  const { res, session, tracker } = options;
  const writer = new SseWriter(res, options.keepAliveMs);
  const wakeup = new Wakeup();
  const reader = new LineReader(options.store, session.id);

  const followed = new FollowedSession(options, session, ['stdout'], wakeup, res);

  try {
    await writer.write(`retry: ${RETRY_MS}\n\n`);
    // Status events carry the position, as on the lines stream (a resume from it starts here).
    let position = `${options.startOffset}-${options.stderrOffset}`;
    await writer.write(formatEvent('status', [JSON.stringify(session)], position));
    let next = await tracker.firstAtOrAfter(session.id, options.startOffset, hasEnded(followed.latest));
    while (!writer.isClosed && !followed.gone) {
      // Seen before reading: if the session had ended by now, a read that finds nothing new proves
      // every message has been sent.
      const endedBefore = hasEnded(followed.latest);
      const { entries } = await tracker.entries(session.id, next, BATCH, endedBefore);
      for (const entry of entries) {
        if (writer.isClosed) return;
        next = entry.n;
        // A message whose line the log cap dropped is not sent (its bytes are gone).
        if (await reader.dropped(entry.offset)) continue;
        position = `${entry.offset + entry.length + entry.term}-${options.stderrOffset}`;
        await writer.write(`id: ${position}\nevent: agent\ndata: `);
        for await (const piece of renderMessage(entry, reader, true)) {
          // A client that left stops the read of a large message at once.
          if (writer.isClosed) return;
          await writer.write(piece);
        }
        await writer.write('\n\n');
        next = entry.n;
      }
      const changed = followed.takeStatus();
      if (changed) await writer.write(formatEvent('status', [JSON.stringify(changed)], position));
      if (entries.length > 0) continue;
      if (endedBefore) {
        await writer.write(formatEvent('end', [JSON.stringify(followed.latest)]));
        return;
      }
      await wakeup.sleep(Number.POSITIVE_INFINITY);
    }
  } finally {
    followed.release();
    writer.end();
  }
}
