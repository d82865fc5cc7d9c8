// AgentService: what the agent routes call to read an agent session's messages, as a page or as
// the format=agent log stream. It knows sessions and the tracker, not HTTP.
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Session } from '../../schemas/session.js';
import type { LogHub } from '../logs/hub.js';
import { hasEnded, type SessionWatch } from '../logs/session-watch.js';
import { SessionError } from '../sessions/errors.js';
import type { SessionStore } from '../store/store.js';
import { LineReader, renderPage } from './render.js';
import { runAgentSse } from './sse-stream.js';
import type { AgentTracker } from './tracker.js';

/** A page stops adding messages once it holds this many bytes of them (one larger message comes alone). */
export const PAGE_BUDGET_BYTES = 4 * 1024 * 1024;

export interface AgentServiceOptions {
  store: SessionStore;
  tracker: AgentTracker;
  /** Reads a session as the API shows it (throws session_not_found). */
  sessions: { get(id: string): Promise<Session> };
  keepAliveMs: number;
}

export interface AgentStreamRequest {
  from: 'start' | 'tail';
  tailBytes: number;
  resume: { stdout: number; stderr: number } | null;
}

export class AgentService {
  constructor(private readonly options: AgentServiceOptions) {}

  /** The session, when its stdout is parsed into messages; session_not_agent otherwise. */
  async agentSession(id: string): Promise<Session> {
    const session = await this.options.sessions.get(id);
    if (session.agent === null) {
      throw new SessionError('session_not_agent', `session ${id} was not started with agent.stream_json: its output is not parsed into messages`);
    }
    return session;
  }

  /**
   * The messages after number `after`, at most `limit` and about PAGE_BUDGET_BYTES of them, as
   * the JSON text of an AgentMessagePage, streamed from the log. Faults are thrown before the
   * first byte: once the answer has begun, only a log cut meanwhile can break it.
   */
  async page(id: string, after: number, limit: number): Promise<Readable> {
    const session = await this.agentSession(id);
    const { entries, total } = await this.options.tracker.entries(id, after, limit, hasEnded(session));
    let bytes = 0;
    let taken = 0;
    while (taken < entries.length && (taken === 0 || bytes + (entries[taken]?.length ?? 0) <= PAGE_BUDGET_BYTES)) {
      bytes += entries[taken]?.length ?? 0;
      taken++;
    }
    const items = entries.slice(0, taken);
    const nextAfter = items.length > 0 ? (items[items.length - 1]?.n ?? after) : after;
    const reader = new LineReader(this.options.store, id);
    return Readable.from(renderPage(items, reader, nextAfter, nextAfter < total), { objectMode: false });
  }

  /** The format=agent log stream, from the asked position, until the session has ended. */
  async stream(session: Session, request: AgentStreamRequest, res: ServerResponse, shared: { hub: LogHub; watch: SessionWatch }): Promise<void> {
    let startOffset = 0;
    if (request.resume) startOffset = request.resume.stdout;
    else if (request.from === 'tail') {
      const { size } = await this.options.store.logStat(session.id, 'stdout');
      startOffset = Math.max(0, size - request.tailBytes);
    }
    await runAgentSse({
      store: this.options.store,
      tracker: this.options.tracker,
      hub: shared.hub,
      watch: shared.watch,
      session,
      startOffset,
      stderrOffset: request.resume?.stderr ?? 0,
      res,
      keepAliveMs: this.options.keepAliveMs,
    });
  }
}
