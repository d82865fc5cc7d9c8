// Small shared reads of sessions for the commands: one session, and whether it has ended.
import { TERMINAL_STATUSES, type Session } from '../../schemas/session.js';
import type { Api } from './api.js';

export const sessionPath = (id: string) => `/v1/sessions/${encodeURIComponent(id)}`;

export async function getSession(api: Api, id: string): Promise<Session> {
  return (await api.json<Session>('GET', sessionPath(id))).body;
}

export const hasEnded = (session: Pick<Session, 'status'>) => (TERMINAL_STATUSES as readonly string[]).includes(session.status);
