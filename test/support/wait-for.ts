import { setTimeout as sleep } from "node:timers/promises";

/** Options for {@link waitFor}. */
export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  description?: string;
}

/**
 * Polls `probe` until it returns a value other than undefined/false, or fails after the deadline
 * with the last error or value seen. Tests use this instead of fixed sleeps.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 15_000, intervalMs = 50, description = "condition" }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${description} (last: ${detail})`,
      );
    }
    await sleep(intervalMs);
  }
}

/**
 * Runs `check` (which throws when the invariant breaks) again and again for `durationMs`, the
 * way a fault test shows that something holds throughout a fault: sampled, not read once.
 * Resolves with the number of samples taken.
 */
export async function holdsFor(
  check: () => Promise<void> | void,
  durationMs: number,
  intervalMs = 200,
): Promise<number> {
  const end = Date.now() + durationMs;
  let samples = 0;
  while (Date.now() < end) {
    await check();
    samples += 1;
    await sleep(Math.min(intervalMs, Math.max(0, end - Date.now())));
  }
  return samples;
}
