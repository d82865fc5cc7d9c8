// Listing order (newest started_at first, id breaking ties) and the opaque cursor that continues it.
// The order itself lives with the store's sorted index (src/store/list-index.ts).
import { newestFirst, type ListPosition as Position } from '../store/list-index.js';
import { SessionError } from './errors.js';

export { newestFirst };

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
