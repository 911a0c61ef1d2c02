/** Doubling waits between retries: `initialMs`, twice that, ... up to `maxMs`. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/** The wait before retry number `attempt` (1 for the first retry): initialMs · 2^(attempt-1), capped. */
export function backoffDelay(attempt: number, policy: BackoffPolicy): number {
  const doublings = Math.min(Math.max(attempt - 1, 0), 30);
  return Math.min(policy.maxMs, policy.initialMs * 2 ** doublings);
}

/**
 * The waits of one fault while it lasts: `next()` gives the next wait, `reset()` starts over once the
 * fault is gone. The policy is read at each wait, so a reloaded setting applies from the next one.
 */
export class Backoff {
  private attempts = 0;

  constructor(private readonly policy: () => BackoffPolicy) {}

  /** The wait `next()` will return, without taking it. */
  peek(): number {
    return backoffDelay(this.attempts + 1, this.policy());
  }

  next(): number {
    this.attempts++;
    return backoffDelay(this.attempts, this.policy());
  }

  reset(): void {
    this.attempts = 0;
  }
}
