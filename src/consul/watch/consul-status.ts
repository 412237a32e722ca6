/** One blocking query as `/debug/state` shows it. */
export interface WatchState {
  path: string;
  /** The last `X-Consul-Index` answered; 0 before the first answer. */
  index: number;
  /** ISO-8601 time of the last good answer. */
  lastGoodReadAt: string | undefined;
  /** Failed reads since the last good one. */
  failuresSinceGoodRead: number;
  lastError: { message: string; at: string } | undefined;
}

/** The Consul side of `/debug/state`. */
export interface ConsulStatusSnapshot {
  watches: WatchState[];
  /** ISO-8601 time of the last good answer of any watch. */
  lastGoodReadAt: string | undefined;
}

/**
 * What the watchers last saw of Consul, fed through the catalog source's hooks
 * (`onWatchAnswer`, `onWatchError`); the composition root joins it with the xDS side.
 */
export class ConsulStatus {
  private readonly watches = new Map<string, WatchState>();
  private lastGoodReadAt: string | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /** A watch on `path` answered with `index`. */
  answered(path: string, index: number): void {
    const at = new Date(this.now()).toISOString();
    const watch = this.watch(path);
    watch.index = index;
    watch.lastGoodReadAt = at;
    watch.failuresSinceGoodRead = 0;
    this.lastGoodReadAt = at;
  }

  /** A read of the watch on `path` failed. */
  failed(path: string, error: Error): void {
    const watch = this.watch(path);
    watch.failuresSinceGoodRead += 1;
    watch.lastError = { message: error.message, at: new Date(this.now()).toISOString() };
  }

  /** A copy of what is known now. */
  snapshot(): ConsulStatusSnapshot {
    return {
      watches: [...this.watches.values()].map((watch) => ({
        ...watch,
        lastError: watch.lastError && { ...watch.lastError },
      })),
      lastGoodReadAt: this.lastGoodReadAt,
    };
  }

  private watch(path: string): WatchState {
    let watch = this.watches.get(path);
    if (!watch) {
      watch = {
        path,
        index: 0,
        lastGoodReadAt: undefined,
        failuresSinceGoodRead: 0,
        lastError: undefined,
      };
      this.watches.set(path, watch);
    }
    return watch;
  }
}
