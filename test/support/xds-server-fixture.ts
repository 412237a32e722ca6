import { join } from "node:path";
import { afterEach, type TestContext } from "node:test";
import type { WorkerSettings } from "../../src/xds/server/xds-serving.ts";
import { CacheFeed } from "../../src/xds/cache/cache-feed.ts";
import { startXdsWorkers, type XdsWorkers } from "../../src/xds/server/xds-workers.ts";
import type { Logger } from "pino";
import { repoRoot } from "./tools.ts";
import type { ServiceEndpoints } from "../../src/model/endpoint.ts";
import { EndpointStore } from "../../src/model/endpoint-store.ts";
import {
  startDiscoveryServer,
  type DiscoveryHooks,
  type DiscoveryServer,
} from "../../src/xds/server/discovery-server.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import { ResourceCache, type ResourceCacheOptions } from "../../src/xds/cache/resource-cache.ts";
import type { XdsCache } from "../../src/xds/cache/xds-cache.ts";
import { memoryLogger } from "./memory-logger.ts";
import {
  openDeltaXdsStream,
  openXdsStream,
  type DeltaXdsTestStream,
  type XdsServiceKind,
  type XdsTestStream,
} from "./xds-client.ts";

/** A discovery server over `cache` on a free loopback port, logging warnings to memory. */
export function startLoopbackDiscoveryServer(cache: XdsCache): Promise<DiscoveryServer> {
  return startDiscoveryServer({
    cache,
    host: "127.0.0.1",
    port: 0,
    keepaliveTimeMs: 30_000,
    maxConnectionAgeMs: 600_000,
    logger: memoryLogger("warn").logger,
  });
}

/** How many worker processes serve the fixtures' xDS; 1 serves it in this process. */
let fixtureWorkers = 1;

/**
 * Serves the xDS of every fixture started from now on from `count` worker processes fed by this
 * process's cache (docs/architecture.md §5, "xDS workers"), as `--xds-workers` does. Call it
 * before importing the test files to run them that way.
 */
export function serveFixturesFromWorkers(count: number): void {
  fixtureWorkers = count;
}

/**
 * Serves `cache` from `count` xDS worker processes on a free loopback port, fed as
 * `--xds-workers` feeds them; closing them closes their feed. `logger`: the primary's side.
 */
export async function startLoopbackWorkers(
  cache: XdsCache,
  count: number,
  { maxNames, logger = memoryLogger("warn").logger }: { maxNames?: number; logger?: Logger } = {},
): Promise<XdsWorkers> {
  const settings: WorkerSettings = {
    xds: {
      host: "127.0.0.1",
      port: 0,
      keepaliveTimeMs: 30_000,
      maxConnectionAgeMs: 600_000,
      maxNames: maxNames ?? 100_000,
      tls: undefined,
      token: undefined,
    },
    logLevel: "fatal",
    logFormat: "json",
  };
  const feed = new CacheFeed(cache);
  const workers = await startXdsWorkers({
    count,
    entry: join(repoRoot, "src", "main.ts"),
    settings,
    feed,
    logger,
  });
  return {
    ...workers,
    close: async () => {
      await workers.close();
      feed.close();
    },
  };
}

/** Options of {@link XdsServerFixture.start}. */
export interface XdsServerFixtureOptions {
  /** Services in the store before the server starts. */
  services?: ServiceEndpoints[];
  /** Whether the store has had its first full read (default true). */
  ready?: boolean;
  /** The resource cache's options (its defaults when absent). */
  cache?: ResourceCacheOptions;
  hooks?: DiscoveryHooks;
  /** Most names one stream may subscribe to (the server's default when absent). */
  maxNames?: number;
}

/** A real discovery server on a free loopback port over a store the test drives. */
export interface XdsServerHandle {
  store: EndpointStore;
  server: DiscoveryServer;
  logs: ReturnType<typeof memoryLogger>;
  port: number;
  /** Opens a state-of-the-world stream, closed after the test. */
  stream(kind?: XdsServiceKind): XdsTestStream;
  /** Opens a delta stream, closed after the test. */
  delta(kind?: XdsServiceKind): DeltaXdsTestStream;
}

/** Starts servers for the tests of the enclosing suite; all of a test's are closed after it. */
export interface XdsServerFixture {
  /**
   * Worker processes serving xDS (1: this process). With workers, hooks and logs of the xDS
   * server are the workers': tests that read them run only in this process.
   */
  readonly workers: number;
  start(options?: XdsServerFixtureOptions): Promise<XdsServerHandle>;
  /** Runs `cleanup` after the current test (before what was opened earlier is closed). */
  defer(cleanup: () => Promise<void> | void): void;
}

/**
 * Call inside a `describe`: registers an `afterEach` that closes, newest first, every server,
 * cache and stream the test opened through the fixture.
 */
export function xdsServerFixture(): XdsServerFixture {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const opened = <T extends { close(): void }>(stream: T): T => {
    cleanups.push(() => stream.close());
    return stream;
  };
  return {
    workers: fixtureWorkers,
    defer: (cleanup) => void cleanups.push(cleanup),
    async start(options = {}) {
      const store = new EndpointStore();
      if (options.services) store.apply(options.services);
      if (options.ready !== false) store.markReady();
      const cache = new ResourceCache(store, loadXdsProtos(), 0, options.cache);
      const logs = memoryLogger();
      const server =
        fixtureWorkers > 1
          ? await startLoopbackWorkers(cache, fixtureWorkers, { maxNames: options.maxNames })
          : await startDiscoveryServer({
              cache,
              host: "127.0.0.1",
              port: 0,
              keepaliveTimeMs: 30_000,
              maxConnectionAgeMs: 600_000,
              logger: logs.logger,
              hooks: options.hooks,
              maxNames: options.maxNames,
            });
      cleanups.push(
        () => server.close(),
        () => cache.close(),
      );
      return {
        store,
        server,
        logs,
        port: server.port,
        stream: (kind = "ads") => opened(openXdsStream(server.port, kind)),
        delta: (kind = "ads") => opened(openDeltaXdsStream(server.port, kind)),
      };
    },
  };
}

/**
 * Skips the running test when the fixture serves xDS from workers, saying why: for tests that
 * read what only the serving process sees (its hooks, its logs). True when it skipped.
 */
export function skippedInWorkers(
  fixture: XdsServerFixture,
  t: TestContext,
  reason: string,
): boolean {
  if (fixture.workers <= 1) return false;
  t.skip(reason);
  return true;
}
