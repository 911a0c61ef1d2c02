/** Time as Sluice's engines see it: injectable, so tests can move it on instead of waiting. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock: Date.now() and timers that do not keep the process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      timer.unref?.();
      signal?.addEventListener("abort", done, { once: true });
    }),
};

/**
 * A clock that moves only when told (`advance`), for tests of waits measured in seconds that run in
 * milliseconds. Sleeps end when the time passes their deadline or their signal aborts.
 */
export class ManualClock implements Clock {
  private ms: number;
  private sleepers: { until: number; wake: () => void }[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.ms = startMs;
  }

  now(): number {
    return this.ms;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const sleeper = { until: this.ms + Math.max(0, ms), wake: () => {} };
      sleeper.wake = () => {
        this.sleepers = this.sleepers.filter((s) => s !== sleeper);
        signal?.removeEventListener("abort", sleeper.wake);
        resolve();
      };
      this.sleepers.push(sleeper);
      signal?.addEventListener("abort", sleeper.wake, { once: true });
    });
  }

  /** Moves time on by `ms` and wakes every sleep whose deadline passed. */
  advance(ms: number): void {
    this.ms += ms;
    for (const s of [...this.sleepers]) if (s.until <= this.ms) s.wake();
  }

  /** Sleeps not yet woken (a test waits for the engine to be sleeping before it advances). */
  get sleeping(): number {
    return this.sleepers.length;
  }
}
