// Coded errors the stores throw, so the manager can tell "taken" and "gone" from real faults.
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
