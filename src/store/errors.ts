// Coded errors the stores throw, so the manager can tell "taken" and "gone" from real faults.
import { errnoCode } from './atomic-write.js';

export type StoreErrorCode = 'exists' | 'not_found' | 'corrupt' | 'io';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/** Wraps an fs fault (ENOSPC, EIO, EACCES, ...) as StoreError `io`, keeping the original as cause. */
export function ioError(err: unknown, message: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = errnoCode(err);
  return new StoreError('io', code === undefined ? message : `${message} (${code})`, { cause: err });
}

/** The file or one of its folders is not there. */
export function isMissing(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}
