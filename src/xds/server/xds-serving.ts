import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import type { LogFormat } from "../../config/config.ts";
import { CacheFeed } from "../cache/cache-feed.ts";
import type { ResourceCache } from "../cache/resource-cache.ts";
import type { StreamRegistry } from "../protocol/stream-registry.ts";
import {
  startDiscoveryServer,
  type DiscoveryHooks,
  type DiscoveryServer,
} from "./discovery-server.ts";
import type { WorkerXdsSettings } from "./xds-worker.ts";
import { startXdsWorkers, type XdsWorkers } from "./xds-workers.ts";

/** What the primary starts each xDS worker with. */
export interface WorkerSettings {
  xds: WorkerXdsSettings;
  logLevel: string;
  logFormat: LogFormat;
}

/** The module a worker runs: the bridge's entry point (src/main.ts, or dist/main.js when built). */
const WORKER_ENTRY = fileURLToPath(
  new URL(`../../main${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

/** Options of {@link startXdsServing}. */
export interface XdsServingOptions {
  /** Processes serving the xDS port; 1 serves it from this one. */
  workers: number;
  settings: WorkerSettings;
  cache: ResourceCache;
  /** Where this process's streams register (one process only; workers keep their own). */
  registry: StreamRegistry;
  hooks: DiscoveryHooks;
  logger: Logger;
  /** With workers: when the store change behind the cache's current change happened (epoch ms). */
  changedAt: () => number | undefined;
  /** A worker's events for the status page's change feed; `moved`: the state changed besides. */
  onWorkerEvents: (events: readonly { kind: string; text: string }[], moved: boolean) => void;
}

/** The xDS port being opened, and the feed of the workers when there are any. */
export interface XdsServing {
  feed: CacheFeed | undefined;
  /** Resolves once the port serves (every worker, with workers). */
  serving: Promise<DiscoveryServer | XdsWorkers>;
  /** The workers, once serving resolved with them. */
  workersOf(server: DiscoveryServer | XdsWorkers): XdsWorkers | undefined;
}

/**
 * Opens the xDS port (docs/architecture.md §5): served by this process over `cache`, or, with
 * more than one worker, by worker processes fed the encoded resources through a {@link CacheFeed}.
 */
export function startXdsServing(options: XdsServingOptions): XdsServing {
  const { cache, logger, settings } = options;
  if (options.workers <= 1) {
    return {
      feed: undefined,
      serving: startDiscoveryServer({
        ...settings.xds,
        cache,
        logger,
        registry: options.registry,
        hooks: options.hooks,
      }),
      workersOf: () => undefined,
    };
  }
  const feed = new CacheFeed(cache, options.changedAt);
  return {
    feed,
    serving: startXdsWorkers({
      count: options.workers,
      entry: WORKER_ENTRY,
      settings,
      feed,
      logger,
      onEvents: options.onWorkerEvents,
    }),
    workersOf: (server) => server as XdsWorkers,
  };
}
