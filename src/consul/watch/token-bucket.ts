import { setTimeout as sleep } from "node:timers/promises";

/**
 * A token bucket: `burst` operations at once, then `ratePerSecond`. It bounds the happy path of a
 * watch loop so a churning catalog degrades to polling instead of a hot loop (docs/architecture.md §3).
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.updatedAt = now();
  }

  /** Milliseconds until a token is available (0 when one is). Takes it when available. */
  tryTake(): number {
    const now = this.now();
    this.tokens = Math.min(
      this.burst,
      this.tokens + ((now - this.updatedAt) / 1000) * this.ratePerSecond,
    );
    this.updatedAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }

  /** Waits for a token, or until the signal aborts. */
  async take(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const waitMs = this.tryTake();
      if (waitMs === 0) return;
      await sleep(waitMs, undefined, { signal });
    }
  }
}
