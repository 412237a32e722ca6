import cluster from "node:cluster";
import type { Logger } from "pino";
import type { FeedInterest } from "../cache/cache-feed.ts";
import { MirrorCache } from "../cache/mirror-cache.ts";
import { StreamRegistry, type StreamRegistryHooks } from "../protocol/stream-registry.ts";
import { startDiscoveryServer, type DiscoveryHooks } from "./discovery-server.ts";
import type { FromWorker, ToWorker } from "./xds-workers.ts";
import type { XdsTlsOptions } from "./xds-port.ts";

/** The xDS server's settings, as the primary sends them to each worker. */
export interface WorkerXdsSettings {
  host: string;
  port: number;
  keepaliveTimeMs: number;
  maxConnectionAgeMs: number;
  maxNames: number;
  tls: XdsTlsOptions | undefined;
  token: string | undefined;
}

/** What the worker's composition gives its xDS server. */
export interface WorkerParts {
  logger: Logger;
  hooks: DiscoveryHooks;
  streamHooks: StreamRegistryHooks;
  /** A change the primary stamped reached this worker's cache (epoch ms; see cache-feed.ts). */
  onChange?: (at: number, streams: number) => void;
  /** The worker's metrics, as `registry.getMetricsAsJSON()` gives them. */
  metrics(): Promise<object[]>;
}

/** Streams of worker N are numbered from N × this, so ids are unique across workers. */
const IDS_PER_WORKER = 1_000_000;

/**
 * In a worker: tells the primary what happened for the status page's change feed, and whether
 * the state moved besides (ACKs, subscriptions).
 */
export function reportEvents(events: { kind: string; text: string }[], moved: boolean): void {
  if (process.connected) process.send?.({ kind: "events", events, moved } satisfies FromWorker);
}

/** In a worker: waits for the primary's start message and resolves with its settings. */
export function workerSettings<Settings>(): Promise<Settings> {
  return new Promise((resolve) => {
    const onMessage = (message: ToWorker<Settings>): void => {
      if (message.kind !== "start") return;
      process.off("message", onMessage);
      resolve(message.settings);
    };
    process.on("message", onMessage);
    process.send?.({ kind: "hello" } satisfies FromWorker);
  });
}

/**
 * Runs a worker's xDS server (docs/architecture.md §5, "xDS workers"): streams read a copy of the
 * primary's cache (mirror-cache.ts) and report into a registry of their own, which the primary
 * is told of; metrics are answered when asked. Told to stop (or left by the primary), it ends
 * its streams with status OK and exits.
 */
export async function serveXdsWorker(
  settings: WorkerXdsSettings,
  parts: WorkerParts,
): Promise<void> {
  const send = (message: FromWorker): void => {
    if (process.connected) process.send?.(message);
  };
  const { logger } = parts;
  const registry = new StreamRegistry(
    parts.streamHooks,
    Date.now,
    (cluster.worker?.id ?? 0) * IDS_PER_WORKER + 1,
  );
  const cache = new MirrorCache((interest: FeedInterest) => send({ kind: "feed", interest }));
  const serving = startDiscoveryServer({
    ...settings,
    cache,
    logger,
    registry,
    hooks: parts.hooks,
  });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void serving.then((server) => server.close()).then(() => process.exit(0));
  };
  // Listening while the server binds: the primary answers the cache's first message at once.
  process.on("message", (message: ToWorker<unknown>) => {
    if (message.kind === "feed") {
      // Before the streams are woken, so the first response after the change is the one timed.
      const { changedAt } = message.update;
      if (changedAt !== undefined) parts.onChange?.(changedAt, registry.size);
      cache.receive(message.update);
    } else if (message.kind === "stop") stop();
    else if (message.kind === "streams") {
      send({ kind: "streams", id: message.id, streams: registry.snapshot() });
    } else if (message.kind === "metrics") {
      void parts.metrics().then((metrics) => send({ kind: "metrics", id: message.id, metrics }));
    }
  });
  const server = await serving;
  // The primary is gone (it crashed or was killed): nothing feeds this cache any more.
  process.on("disconnect", stop);
  // Signals sent to the whole process group (Ctrl-C) are the primary's to act on.
  process.on("SIGINT", () => undefined);
  process.on("SIGTERM", () => undefined);
  send({ kind: "serving", port: server.port });
}
