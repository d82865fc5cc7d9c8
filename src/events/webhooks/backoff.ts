// The retry schedule of a failed delivery: exponential from the first delay, doubling, capped,
// with jitter so endpoints that failed together do not retry together; and when to give up.

export const DEFAULT_FIRST_RETRY_MS = 5000;
export const DEFAULT_MAX_RETRY_DELAY_MS = 60 * 60 * 1000;
/** A message is retried for at least this long after its first attempt (api.md: 24 hours). */
export const DEFAULT_RETRY_WINDOW_MS = 24 * 60 * 60 * 1000;

export interface BackoffOptions {
  firstRetryMs: number;
  maxDelayMs: number;
  /** [0, 1); Math.random by default. */
  random?: () => number;
}

/**
 * The wait after failed attempt number `attempt` (1 for the first): the nominal delay
 * min(max, first * 2^(attempt-1)) less up to a quarter of it at random, so it lies in
 * (0.75 * nominal, nominal]: never over the cap, never far under the schedule.
 */
export function retryDelayMs(attempt: number, options: BackoffOptions): number {
  const doublings = Math.min(Math.max(attempt - 1, 0), 52);
  const nominal = Math.min(options.maxDelayMs, options.firstRetryMs * 2 ** doublings);
  const random = options.random ?? Math.random;
  return Math.max(1, Math.round(nominal - (nominal / 4) * random()));
}

/**
 * After a failed attempt at `attemptedAt`: null to give up (the attempt came at least `windowMs`
 * after the first one), or when to try next. Giving up only once the window has passed is what
 * makes the retries last at least the window.
 */
export function nextRetryAt(
  attempt: number,
  firstAttemptAt: number,
  attemptedAt: number,
  finishedAt: number,
  options: BackoffOptions & { windowMs: number },
): number | null {
  if (attemptedAt - firstAttemptAt >= options.windowMs) return null;
  return finishedAt + retryDelayMs(attempt, options);
}
