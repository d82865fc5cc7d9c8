// Listing order (newest started_at first, id breaking ties) and the opaque cursor that continues it.
import type { SessionRecord } from '../../schemas/session.js';
import { SessionError } from './errors.js';

type Position = Pick<SessionRecord, 'started_at' | 'id'>;

/** Negative when `a` comes before `b` in a listing. */
export function newestFirst(a: Position, b: Position): number {
  if (a.started_at !== b.started_at) return a.started_at < b.started_at ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.started_at, position.id])).toString('base64url');
}

export function decodeCursor(cursor: string): Position {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') {
      return { started_at: value[0], id: value[1] };
    }
  } catch {
    // Fall through: any undecodable cursor is the same client error.
  }
  throw new SessionError('validation_failed', 'cursor is not one this service issued');
}
