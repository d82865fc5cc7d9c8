// A one-slot wake-up call: a loop sleeps until something happens or a timeout passes.
export class Wakeup {
  private waiter: (() => void) | null = null;
  private flagged = false;

  /** Wakes the sleeper now, or makes its next sleep return at once. */
  wake(): void {
    this.flagged = true;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  /** Resolves true when woken, false when `timeoutMs` passed first (Infinity: no timeout). */
  sleep(timeoutMs: number): Promise<boolean> {
    if (this.flagged) {
      this.flagged = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = Number.isFinite(timeoutMs) ? setTimeout(() => done(false), timeoutMs) : null;
      const done = (woken: boolean) => {
        if (timer) clearTimeout(timer);
        if (this.waiter === onWake) this.waiter = null;
        this.flagged = false;
        resolve(woken);
      };
      const onWake = () => done(true);
      this.waiter = onWake;
    });
  }
}
