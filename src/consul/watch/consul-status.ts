/** Slack beyond a blocking query's wait before a watch without a good answer counts as stalled. */
export const DEFAULT_STALL_MARGIN_MS = 15_000;

/** What a source tells about each of its blocking queries, by the watch's name. */
export interface WatchReports {
  /** The watch's loop started (its age counts from here until the first good answer). */
  onWatchStart?: (watch: string) => void;
  /** A read answered and passed validation, with its `X-Consul-Index`. */
  onWatchAnswer?: (watch: string, index: number) => void;
  onWatchError?: (watch: string, error: Error) => void;
}

/** One blocking query as `/debug/state` shows it. */
export interface WatchState {
  /** The path read, with `?dc=` for another datacenter's watch. */
  path: string;
  /** The last `X-Consul-Index` answered; 0 before the first answer. */
  index: number;
  /** ISO-8601 time of the last good answer. */
  lastGoodReadAt: string | undefined;
  /** Seconds since the last good answer (since the watch started, before the first one). */
  ageSeconds: number;
  /** No good answer for longer than the wait plus a margin: the bridge may be missing changes. */
  stalled: boolean;
  /** Failed reads since the last good one. */
  failuresSinceGoodRead: number;
  lastError: { message: string; at: string } | undefined;
}

/** The Consul side of `/debug/state`. */
export interface ConsulStatusSnapshot {
  watches: WatchState[];
  /** ISO-8601 time of the last good answer of any watch. */
  lastGoodReadAt: string | undefined;
  /** A watch is stalled once its age exceeds this many seconds. */
  stallAfterSeconds: number;
}

/** Options of {@link ConsulStatus}. */
export interface ConsulStatusOptions {
  /** The `wait` every blocking query sends, in seconds. */
  waitSeconds: number;
  marginMs?: number;
  now?: () => number;
}

/** How a watch is started: whether its stall makes the bridge not ready. */
export interface WatchRole {
  /** The local datacenter's watches gate `/ready`; another datacenter's only show. */
  gatesReady: boolean;
}

interface Watch {
  role: WatchRole;
  /** When the watch started, then when it last answered well (ms on the clock of `now`). */
  since: number;
  answered: boolean;
  index: number;
  failures: number;
  lastError: { message: string; at: string } | undefined;
}

/**
 * Longest silence of a healthy blocking query: Consul answers at the latest after `wait` plus
 * up to wait/16 of jitter (docs/architecture.md §3, "Blocking queries"); the margin covers the
 * network and the handling of an answer before the next read is sent.
 */
export function stallAfterMs(waitSeconds: number, marginMs = DEFAULT_STALL_MARGIN_MS): number {
  return waitSeconds * 1000 * (17 / 16) + marginMs;
}

/**
 * What the watches last saw of Consul, fed through the sources' watch reports; the composition
 * root joins it with the xDS side for `/debug/state`, and `/ready` asks it for stalled watches.
 * A watch whose request hangs (Consul frozen, a body cut in the middle) fails no read and
 * answers nothing: only its age since the last good answer shows it.
 */
export class ConsulStatus {
  private readonly watches = new Map<string, Watch>();
  private lastGoodAt: number | undefined;
  private readonly now: () => number;
  private readonly stallMs: number;

  constructor(options: ConsulStatusOptions) {
    this.now = options.now ?? Date.now;
    this.stallMs = stallAfterMs(options.waitSeconds, options.marginMs);
  }

  /** The watch on `path` started. */
  started(path: string, role: WatchRole): void {
    this.watches.set(path, this.fresh(role));
  }

  /** A watch on `path` answered with `index`. */
  answered(path: string, index: number): void {
    const watch = this.watch(path);
    watch.index = index;
    watch.since = this.now();
    watch.answered = true;
    watch.failures = 0;
    this.lastGoodAt = watch.since;
  }

  /** A read of the watch on `path` failed. */
  failed(path: string, error: Error): void {
    const watch = this.watch(path);
    watch.failures += 1;
    watch.lastError = { message: error.message, at: this.iso(this.now()) };
  }

  /** Each watch's age in seconds since its last good answer (for a gauge read at scrape time). */
  ages(): Map<string, number> {
    const now = this.now();
    return new Map([...this.watches].map(([path, watch]) => [path, (now - watch.since) / 1000]));
  }

  /**
   * Why the bridge is not ready because of its watches: each watch that gates readiness and has
   * had no good answer for longer than its wait plus the margin; undefined when there is none.
   */
  stalledReason(): string | undefined {
    const now = this.now();
    const stalled = [...this.watches]
      .filter(([, watch]) => watch.role.gatesReady && now - watch.since > this.stallMs)
      .map(([path, watch]) => `${path} (${Math.round((now - watch.since) / 1000)} s)`);
    if (stalled.length === 0) return undefined;
    return `no good answer from consul watch ${stalled.join(", ")} for longer than the wait plus margin (${Math.round(this.stallMs / 1000)} s)`;
  }

  /** A copy of what is known now. */
  snapshot(): ConsulStatusSnapshot {
    const now = this.now();
    return {
      watches: [...this.watches].map(([path, watch]) => ({
        path,
        index: watch.index,
        lastGoodReadAt: watch.answered ? this.iso(watch.since) : undefined,
        ageSeconds: (now - watch.since) / 1000,
        stalled: now - watch.since > this.stallMs,
        failuresSinceGoodRead: watch.failures,
        lastError: watch.lastError && { ...watch.lastError },
      })),
      lastGoodReadAt: this.lastGoodAt === undefined ? undefined : this.iso(this.lastGoodAt),
      stallAfterSeconds: this.stallMs / 1000,
    };
  }

  /** The watch on `path`; one reported before it started counts from now and gates readiness. */
  private watch(path: string): Watch {
    let watch = this.watches.get(path);
    if (watch === undefined) this.watches.set(path, (watch = this.fresh({ gatesReady: true })));
    return watch;
  }

  private fresh(role: WatchRole): Watch {
    return {
      role,
      since: this.now(),
      answered: false,
      index: 0,
      failures: 0,
      lastError: undefined,
    };
  }

  private iso(ms: number): string {
    return new Date(ms).toISOString();
  }
}
