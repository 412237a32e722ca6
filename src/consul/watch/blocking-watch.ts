import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { stepAnswer, type AnswerKind, type SeenAnswer } from "./blocking-index.ts";
import type { ConsulRead } from "../client/consul-client.ts";
import type { TokenBucket } from "./token-bucket.ts";

/** Why a watch threw away what it knew: the index went backwards or the body changed under it. */
export type ResetReason = Extract<AnswerKind, "index-backwards" | "content-changed">;

/** Counters a watch reports through (metrics are wired by the composition root). */
export interface WatchHooks {
  onError?: (error: Error) => void;
  onReset?: (reason: ResetReason) => void;
  /** A read answered and passed validation, with its `X-Consul-Index`. */
  onAnswer?: (index: number) => void;
}

/** How an answer handed to the consumer relates to the previous one. */
export interface WatchAnswer {
  index: number;
  kind: AnswerKind;
  /** Re-read everything derived from this view now: earlier answers may have missed changes. */
  resync: boolean;
}

/** Retry back-off after a failed read: the first retry well under a second, then capped. */
export const DEFAULT_MIN_BACKOFF_MS = 100;
/** See {@link DEFAULT_MIN_BACKOFF_MS}. */
export const DEFAULT_MAX_BACKOFF_MS = 2_000;

/** Options of {@link watchBlocking}. */
export interface BlockingWatchOptions<T> {
  /** Reads once; `index` 0 means "answer now". */
  read: (index: number, signal: AbortSignal) => Promise<ConsulRead<unknown>>;
  /** Checks an answer's shape; throws to have it logged, counted and skipped. */
  validate: (body: unknown) => T;
  /**
   * Called with every answer whose index moved or whose content changed (and with the first).
   * The consumer still diffs content: a moved index need not mean a change that matters, and
   * for `/v1/catalog/services` it is the only sign that an instance changed.
   */
  onChange: (body: T, answer: WatchAnswer) => void | Promise<void>;
  limiter: TokenBucket;
  logger: Logger;
  signal: AbortSignal;
  hooks?: WatchHooks;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * A fingerprint of an answer's body, to see a change the index does not show, for a read that
 * carries no digest of its bytes (the transport's reads do: consul-transport.ts).
 */
export function hashBody(body: unknown): string {
  return createHash("sha1")
    .update(JSON.stringify(body) ?? "")
    .digest("base64");
}

/**
 * Runs a blocking-query loop until the signal aborts (docs/architecture.md §3): every answer is
 * compared by index and content (blocking-index.ts), a token bucket paces the happy path, and
 * failed reads back off with jitter (first retry within 0.1 s, then doubling up to 2 s), never
 * giving up. After failed reads the next read does not block (index 0) and its answer is handed
 * on as a resync, so what changed during an outage is seen as soon as Consul answers again. A
 * bad answer is logged and counted and the last good state stays in place.
 */
export async function watchBlocking<T>(options: BlockingWatchOptions<T>): Promise<void> {
  const { logger, signal, hooks } = options;
  const minBackoff = options.minBackoffMs ?? DEFAULT_MIN_BACKOFF_MS;
  let index = 0;
  let seen: SeenAnswer | undefined;
  let recovering = false;
  const failed = (error: Error): void => {
    // Consul may come back with less than it had (a lost data dir): do not block at our index.
    index = 0;
    recovering = true;
    hooks?.onError?.(error);
  };
  while (!signal.aborted) {
    try {
      await options.limiter.take(signal);
      const answer = await readAnswer(options, () => index, failed);
      hooks?.onAnswer?.(answer.index);
      const step = stepAnswer(seen, answer, { sent: answer.sent, recovering });
      report(logger, hooks, step.kind, seen?.index ?? 0, answer.index);
      if (step.deliver) {
        await options.onChange(answer.body, {
          index: answer.index,
          kind: step.kind,
          resync: step.resync,
        });
      }
      // Advanced only once the answer is handled: a failed onChange is retried with a fresh read.
      index = step.next;
      seen = step.seen;
      recovering = false;
    } catch (error) {
      if (signal.aborted) return;
      failed(error as Error);
      logger.error({ err: error }, "handling a consul answer failed; reading again");
      await sleep(minBackoff, undefined, { signal }).catch(() => undefined);
    }
  }
}

/** Reads until an answer passes validation, backing off between failed attempts. */
async function readAnswer<T>(
  options: BlockingWatchOptions<T>,
  index: () => number,
  failed: (error: Error) => void,
): Promise<{ index: number; body: T; hash: string; sent: number }> {
  const { signal, logger } = options;
  for (let attempt = 1; ; attempt += 1) {
    try {
      const sent = index();
      const read = await options.read(sent, signal);
      const body = options.validate(read.body);
      return { index: read.index, body, hash: read.digest ?? hashBody(read.body), sent };
    } catch (error) {
      if (signal.aborted) throw error;
      failed(error as Error);
      const delayMs = backoffDelay(
        attempt,
        options.minBackoffMs ?? DEFAULT_MIN_BACKOFF_MS,
        options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS,
      );
      // The first failure at warn, then one reminder per 30 attempts (about a minute at the cap).
      const level = attempt === 1 || attempt % 30 === 0 ? "warn" : "debug";
      logger[level]({ err: error, attempt, delayMs }, "consul read failed; backing off");
      await sleep(delayMs, undefined, { signal });
    }
  }
}

/**
 * The wait before retry number `attempt` (1-based): exponential from `minMs`, capped at `maxMs`,
 * each wait drawn from the upper half of its step so that bridges restarted together spread out.
 */
export function backoffDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const step = Math.min(maxMs, minMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(step / 2 + (random() * step) / 2);
}

function report(
  logger: Logger,
  hooks: WatchHooks | undefined,
  kind: AnswerKind,
  previous: number,
  returned: number,
): void {
  switch (kind) {
    case "index-backwards":
    case "content-changed":
      hooks?.onReset?.(kind);
      logger.warn(
        { previous, returned, reason: kind },
        kind === "index-backwards"
          ? "consul index went backwards; resyncing"
          : "consul content changed at same index; resyncing",
      );
      return;
    case "reconnected":
      logger.info({ index: returned }, "consul answered again after failed reads; resyncing");
      return;
    case "unchanged":
      return;
    default:
      logger.debug({ index: returned, kind }, "consul answer");
  }
}
