/**
 * The sleep of a loop that something can wake: `poke()` ends the current sleep at once, and a poke
 * that comes while the loop is awake ends its next sleep at once, so no poke is ever lost (a row
 * written while the loop was busy is read without waiting a whole interval).
 */
export class WakeUp {
  private wake: (() => void) | undefined;
  private pending = false;

  poke(): void {
    this.pending = true;
    this.wake?.();
  }

  /** Sleeps `ms`, or not at all when a poke is pending or `awake` (the loop is stopping). */
  sleep(ms: number, awake = false): Promise<void> {
    if (this.pending || awake) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      // Forgets the wake-up once the sleep is over, or a later poke would be spent on it and lost.
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.wake = () => {
        this.pending = false;
        done();
      };
    });
  }
}
