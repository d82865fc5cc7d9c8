// Sleeps an adapter's close() cuts short: nothing an adapter waits on outlives it.
export interface Sleeps {
  /** Resolves after `ms`, or at once when cut (or already cut). */
  delay(ms: number): Promise<void>;
  /** Ends every pending sleep now, and every later one at once. */
  cutAll(): void;
}

export function createSleeps(): Sleeps {
  let cut = false;
  const pending = new Set<() => void>();
  return {
    delay: (ms) =>
      new Promise((resolve) => {
        if (cut) return resolve();
        const wake = (): void => {
          clearTimeout(timer);
          pending.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, ms);
        pending.add(wake);
      }),
    cutAll() {
      cut = true;
      for (const wake of [...pending]) wake();
    },
  };
}
