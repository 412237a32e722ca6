import { lookup } from "node:dns/promises";
import { BoundedQueue, QueueFullError } from "../consul/register/bounded-queue.ts";

/** Resolves a DNS name to its addresses (injected so validation stays testable). */
export type HostResolver = (name: string) => Promise<string[]>;

/**
 * Resolves a shim host name with the system resolver (`/etc/hosts`, then DNS), IPv4 first:
 * backends commonly listen on IPv4 only, and `localhost` would otherwise become `::1`.
 */
export const lookupHost: HostResolver = async (name) => {
  const found = await lookup(name, { all: true });
  return [...found].sort((a, b) => a.family - b.family).map((entry) => entry.address);
};

/** Bounds of {@link boundLookups}. */
export interface LookupBounds {
  /** Lookups running at once (the system resolver runs each on one of libuv's 4 threads). */
  concurrency: number;
  /** Lookups waiting for a turn; more are refused at once. */
  maxWaiting: number;
  /** Longest a caller waits, turn and lookup together, in milliseconds. */
  timeoutMs: number;
}

/** Default {@link LookupBounds}: 2 at a time, 16 waiting, 2 s. */
export const DEFAULT_LOOKUP_BOUNDS: LookupBounds = {
  concurrency: 2,
  maxWaiting: 16,
  timeoutMs: 2_000,
};

/** A name lookup that could not be done now: the resolver is slow, busy or failing (a 503, not a 400). */
export class HostLookupError extends Error {
  override readonly name = "HostLookupError";
  constructor(
    readonly reason: "timeout" | "busy" | "failed",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Wraps `resolve` so lookups are bounded in time and number: a caller waits at most
 * `timeoutMs`, and a lookup that outlives its caller keeps its slot until it really ends, so
 * a resolver that never answers cannot pile up work. IP literals never come here, so they never
 * wait behind names.
 */
export function boundLookups(resolve: HostResolver, bounds: LookupBounds): HostResolver {
  const queue = new BoundedQueue(bounds.concurrency, bounds.maxWaiting);
  return (name) =>
    new Promise((resolveNames, reject) => {
      const abort = new AbortController();
      const timer = setTimeout(() => {
        abort.abort();
        reject(
          new HostLookupError(
            "timeout",
            `the lookup of ${name} did not finish within ${bounds.timeoutMs} ms`,
          ),
        );
      }, bounds.timeoutMs);
      queue
        .run(() => resolve(name), { signal: abort.signal })
        .then(
          (addresses) => {
            clearTimeout(timer);
            resolveNames(addresses);
          },
          (error: unknown) => {
            clearTimeout(timer);
            if (error instanceof QueueFullError) {
              const busy = `${error.running} running, ${error.waiting} waiting`;
              reject(
                new HostLookupError("busy", `too many name lookups (${busy})`, { cause: error }),
              );
            } else reject(error);
          },
        );
    });
}
