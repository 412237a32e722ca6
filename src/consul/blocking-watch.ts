import { setTimeout as sleep } from "node:timers/promises";
import pRetry from "p-retry";
import type { Logger } from "pino";
import { nextIndex } from "./blocking-index.ts";
import type { ConsulRead } from "./consul-client.ts";
import type { TokenBucket } from "./token-bucket.ts";

/** Counters a watch reports through (metrics are wired by the composition root). */
export interface WatchHooks {
  onError?: (error: Error) => void;
  onReset?: () => void;
}

/** Options of {@link watchBlocking}. */
export interface BlockingWatchOptions<T> {
  /** Reads once; `index` 0 means "answer now". */
  read: (index: number, signal: AbortSignal) => Promise<ConsulRead<unknown>>;
  /** Checks an answer's shape; throws to have it logged, counted and skipped. */
  validate: (body: unknown) => T;
  /**
   * Called with each answer whose index moved or was reset. The caller compares content (its
   * diff of the previous answer) before emitting anything, as design.md §3 asks: a moved index
   * does not mean a change that matters, and for `/v1/catalog/services` it is the only sign
   * that an instance changed.
   */
  onChange: (body: T, index: number) => void | Promise<void>;
  limiter: TokenBucket;
  logger: Logger;
  signal: AbortSignal;
  hooks?: WatchHooks;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * Runs a blocking-query loop until the signal aborts (design.md §3): index rules from
 * blocking-index.ts, a token bucket on the happy path, jittered exponential back-off on errors
 * that never gives up, and `onChange` only when the index moved.
 * A bad answer is logged and counted and the last good state stays in place.
 */
export async function watchBlocking<T>(options: BlockingWatchOptions<T>): Promise<void> {
  const { logger, signal, hooks } = options;
  let index = 0;
  while (!signal.aborted) {
    try {
      await options.limiter.take(signal);
      const answer = await pRetry(
        async () => {
          const read = await options.read(index, signal);
          return { index: read.index, body: options.validate(read.body) };
        },
        {
          retries: Number.POSITIVE_INFINITY,
          randomize: true,
          factor: 2,
          minTimeout: options.minBackoffMs ?? 100,
          maxTimeout: options.maxBackoffMs ?? 10_000,
          signal,
          onFailedAttempt: ({ error, attemptNumber }) => {
            if (signal.aborted) return;
            hooks?.onError?.(error);
            logger.warn({ err: error, attempt: attemptNumber }, "consul read failed; backing off");
          },
        },
      );
      const step = nextIndex(index, answer.index);
      if (step.reset) {
        hooks?.onReset?.();
        logger.warn(
          { previous: index, returned: answer.index },
          "consul index went backwards; resyncing",
        );
      }
      // A wait that timed out returns the same index: nothing happened, nothing is delivered.
      if (answer.index !== index || step.reset) {
        logger.debug({ index: answer.index }, "consul answer");
        await options.onChange(answer.body, answer.index);
      }
      // Advanced only once the answer is handled: a failed onChange is retried with a fresh read.
      index = step.next;
    } catch (error) {
      if (signal.aborted) return;
      hooks?.onError?.(error as Error);
      logger.error({ err: error }, "handling a consul answer failed; reading again");
      await sleep(options.minBackoffMs ?? 100, undefined, { signal }).catch(() => undefined);
    }
  }
}
