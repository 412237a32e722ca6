import type { Logger } from "pino";
import type { BridgeConfig } from "./config/config.ts";
import { readBridgeState } from "./observe/bridge-state.ts";
import { bridgeVersion } from "./observe/build-info.ts";
import pLimit from "p-limit";
import { CatalogSource } from "./consul/watch/catalog-source.ts";
import { readLocalDatacenter } from "./consul/client/local-datacenter.ts";
import { RemoteDatacenterSource } from "./consul/watch/remote-datacenter-source.ts";
import type { DatacenterOrder } from "./model/datacenter-priority.ts";
import { ConsulAccess } from "./consul/client/consul-access.ts";
import { connectConsul, type ConsulConnection } from "./consul/client/consul-client.ts";
import { ConsulStatus } from "./consul/watch/consul-status.ts";
import { EventFeed, type FeedEvent } from "./observe/event-feed.ts";
import { consulRequestHooks, PipelineObserver } from "./observe/observe-pipeline.ts";
import type { TranslationOptions } from "./consul/watch/to-service-endpoints.ts";
import { createRegistrar } from "./consul/register/registration.ts";
import {
  startHttpServer,
  type RequestHandler,
  type RunningHttpServer,
} from "./http/http-server.ts";
import { machineAddresses } from "./http/address-policy.ts";
import { boundLookups, DEFAULT_LOOKUP_BOUNDS, lookupHost } from "./http/resolve-host.ts";
import { createShimRules } from "./http/shim-rules.ts";
import { createShimHandler } from "./http/shim-server.ts";
import { createStatusHandler } from "./http/status-handler.ts";
import { createStatusPageHandler } from "./http/status-page.ts";
import { createMetrics, type BridgeMetrics } from "./observe/metrics.ts";
import { aggregatedMetrics } from "./observe/worker-metrics.ts";
import { EndpointStore } from "./model/endpoint-store.ts";
import { mergeSourcesInto } from "./model/merged-sources.ts";
import { DnsSource } from "./dns/dns-source.ts";
import type { DiscoveryServer } from "./xds/server/discovery-server.ts";
import type { XdsWorkers } from "./xds/server/xds-workers.ts";
import { startXdsServing } from "./xds/server/xds-serving.ts";
import type { WorkerXdsSettings } from "./xds/server/xds-worker.ts";
import { loadXdsProtos } from "./xds/resources/protos.ts";
import { ResourceCache } from "./xds/cache/resource-cache.ts";
import { StreamRegistry } from "./xds/protocol/stream-registry.ts";

/** Connections kept for the local blocking queries; the rest serve targeted reads. */
const BLOCKING_CONNECTIONS = 3;
/** Connections of the shim's registrar, apart from the watcher's. */
const REGISTRAR_CONNECTIONS = 2;
/** Why the bridge is not ready before its first full read of Consul. */
const WAITING_FOR_FIRST_READ = "waiting for the first full read of Consul";
/** Trailing window in which store changes are merged into one push (docs/architecture.md §5). */
export const DEFAULT_COALESCE_WINDOW_MS = 20;

/** The running discovery side of the bridge: Consul → model → xDS. */
export interface DiscoveryPipeline {
  readonly connection: ConsulConnection;
  readonly store: EndpointStore;
  readonly cache: ResourceCache;
  readonly xds: DiscoveryServer;
  /** The worker processes serving xDS, with `--xds-workers` above 1. */
  readonly workers: XdsWorkers | undefined;
  /** The open streams of this process (none with workers: see {@link XdsWorkers.state}). */
  readonly streams: StreamRegistry;
  readonly consulStatus: ConsulStatus;
  /** Changes for the status page (`/events`). */
  readonly feed: EventFeed;
  /** ACL problems with Consul's answers; the bridge is not ready while there is one. */
  readonly access: ConsulAccess;
  stop(): Promise<void>;
}

/** The DNS source of `--dns-services`, its endpoints in the local datacenter; none without names. */
function startDnsSource(
  config: BridgeConfig["dns"],
  datacenter: string,
  view: EndpointStore,
  logger: Logger,
  observer: PipelineObserver,
): DnsSource | undefined {
  if (config.targets.length === 0) return undefined;
  const source = new DnsSource({
    targets: config.targets,
    server: config.server,
    minTtlSeconds: config.minTtlSeconds,
    maxTtlSeconds: config.maxTtlSeconds,
    locality: { region: datacenter, zone: "" },
    logger,
    onEndpoints: (update) => view.apply([update]),
    onError: (error) => observer.dnsFailed(error.service),
  });
  source.start();
  return source;
}

/**
 * The store xDS serves and the views the sources write: with DNS names, the catalog and DNS
 * write views of their own, merged into the store; without, the catalog writes the store.
 */
function storeViews(config: BridgeConfig): {
  store: EndpointStore;
  catalogView: EndpointStore;
  dnsView: EndpointStore;
  stopMerging: () => void;
} {
  const store = new EndpointStore();
  if (config.dns.targets.length === 0) {
    return {
      store,
      catalogView: store,
      dnsView: new EndpointStore(),
      stopMerging: () => undefined,
    };
  }
  const catalogView = new EndpointStore();
  const dnsView = new EndpointStore();
  const stopMerging = mergeSourcesInto({
    consul: catalogView,
    dns: dnsView,
    target: store,
    mode: config.dns.merge,
  });
  return { store, catalogView, dnsView, stopMerging };
}

/** The Consul sources: the local datacenter's and one per other datacenter of `--datacenters`. */
interface ConsulSources {
  local: CatalogSource;
  remotes: RemoteDatacenterSource[];
}

/**
 * Creates the Consul sources on one connection budget (docs/architecture.md §3, "Connections"):
 * three local blocking queries, one per other datacenter, and a targeted-read pool they share.
 */
function createConsulSources(
  config: BridgeConfig,
  parts: {
    connection: ConsulConnection;
    /** The view the catalog sources write. */
    store: EndpointStore;
    access: ConsulAccess;
    /** The local source's translation; its datacenter is set once the agent has told. */
    translation: TranslationOptions;
    observer: PipelineObserver;
    logger: Logger;
  },
): ConsulSources {
  const { connection, store, access, translation, observer, logger } = parts;
  const remoteDatacenters = config.consul.datacenters ?? [];
  const readLimit = pLimit(
    Math.max(1, config.consul.maxConnections - BLOCKING_CONNECTIONS - remoteDatacenters.length),
  );
  const remotes = remoteDatacenters.map((datacenter) => {
    observer.datacenterWatched(datacenter);
    return new RemoteDatacenterSource({
      connection,
      store,
      datacenter,
      translation: { health: config.health },
      readLimit,
      logger: logger.child({ component: "consul", datacenter }),
      onReachable: (dc, reachable) => observer.datacenterReachable(dc, reachable),
      hooks: observer.remoteWatch(),
    });
  });
  const local = new CatalogSource({
    readLimit,
    connection,
    access,
    store,
    translation,
    logger: logger.child({ component: "consul" }),
    readConcurrency: Math.max(1, config.consul.maxConnections - BLOCKING_CONNECTIONS),
    checkGraceMs: config.watch.checkGraceSeconds * 1000,
    hooks: observer.catalog(),
  });
  return { local, remotes };
}

/**
 * Wires the Consul source, the endpoint store, the resource cache and the xDS server. The xDS
 * server listens at once but answers nothing until the first full read of Consul is done.
 */
export async function startDiscovery(
  config: BridgeConfig,
  logger: Logger,
  metrics: BridgeMetrics,
): Promise<DiscoveryPipeline> {
  const feedEvents = new EventFeed();
  const consulStatus = new ConsulStatus({ waitSeconds: config.consul.waitSeconds });
  const observer = new PipelineObserver({ metrics, feed: feedEvents, consulStatus, logger });
  const connection = connectConsul(config.consul, observer.consulRequests());
  const { store, catalogView, dnsView, stopMerging } = storeViews(config);
  let dns: DnsSource | undefined;
  const streams = new StreamRegistry(observer.streams());
  const stopObserving = observer.followStore(store, streams);
  // Learnt from the agent before the first full read (docs/architecture.md §3, "Locality").
  let datacenterOrder: DatacenterOrder | undefined;
  const cache = new ResourceCache(store, loadXdsProtos(), DEFAULT_COALESCE_WINDOW_MS, {
    datacenters: () => datacenterOrder,
    filter: config.routing.services,
    clusterGraceMs: config.routing.clusterGraceSeconds * 1000,
    routeConfigName: config.routing.routeConfigName,
    gateway: config.routing.gateway,
    logger: logger.child({ component: "xds-cache" }),
    ...observer.cache(),
  });
  const xdsOptions: WorkerXdsSettings = {
    host: config.xds.host,
    port: config.xds.port,
    keepaliveTimeMs: config.xds.keepaliveTimeMs,
    maxConnectionAgeMs: config.xds.maxConnectionAgeMs,
    maxNames: config.xds.maxNames,
    tls: config.xds.tls,
    token: config.xds.token,
  };
  const { feed, serving, workersOf } = startXdsServing({
    workers: config.xds.workers,
    settings: {
      xds: xdsOptions,
      logLevel: logger.level,
      logFormat: config.logFormat ?? (process.stdout.isTTY ? "pretty" : "json"),
    },
    cache,
    registry: streams,
    hooks: observer.xds(),
    logger: logger.child({ component: "xds" }),
    changedAt: () => observer.changeForWorkers(),
    onWorkerEvents: (events, moved) => {
      for (const { kind, text } of events) feedEvents.publish(kind as FeedEvent["kind"], text);
      if (moved) feedEvents.touch();
    },
  });
  const access = new ConsulAccess({
    logger: logger.child({ component: "consul" }),
    tokenSource: config.consul.tokenSource,
    hooks: observer.access(),
  });
  // The fallback region of instances whose answer names none; set once the agent has told.
  const translation = { health: config.health, datacenter: "" };
  const { local: source, remotes } = createConsulSources(config, {
    connection,
    store: catalogView,
    access,
    translation,
    observer,
    logger,
  });
  const startUp = new AbortController();
  // Until the agent tells its datacenter every local endpoint is at priority 0, as it will be.
  const learnt = readLocalDatacenter(connection, logger, startUp.signal, () =>
    observer.consulFailed("/agent/self"),
  ).then((local) => {
    translation.datacenter = local;
    const others = (config.consul.datacenters ?? []).filter((dc) => dc !== local);
    datacenterOrder = { local, others };
    logger.info({ datacenter: local, failover: others }, "local datacenter read from the agent");
    for (const remote of remotes) if (remote.datacenter !== local) remote.start();
    if (!startUp.signal.aborted)
      dns = startDnsSource(
        config.dns,
        local,
        dnsView,
        logger.child({ component: "dns" }),
        observer,
      );
  });
  // Stopped before the agent told its datacenter: nothing to report.
  learnt.catch(() => undefined);
  void source.start().then(() => observer.firstReadDone(store.names().length));
  const stopSources = async (): Promise<void> => {
    feedEvents.close();
    startUp.abort();
    await Promise.all([source.stop(), ...remotes.map((remote) => remote.stop()), dns?.stop()]);
    stopMerging();
    stopObserving();
    feed?.close();
    cache.close();
    connection.close();
  };
  let xds: DiscoveryServer | XdsWorkers;
  try {
    xds = await serving;
  } catch (error) {
    await stopSources();
    throw error;
  }
  const workers = workersOf(xds);
  return {
    connection,
    store,
    cache,
    xds,
    workers,
    streams,
    consulStatus,
    feed: feedEvents,
    access,
    async stop() {
      feedEvents.close();
      // Streams end before the watch stops, so nothing more (and nothing empty) is pushed.
      await xds.close();
      await stopSources();
    },
  };
}

/** The whole bridge: discovery pipeline plus the HTTP shim and status endpoints. */
export interface Bridge {
  readonly pipeline: DiscoveryPipeline;
  readonly http: RunningHttpServer;
  readonly metrics: BridgeMetrics;
  stop(): Promise<void>;
}

/** Starts everything the configuration describes. */
export async function startBridge(
  config: BridgeConfig,
  logger: Logger,
  metrics = createMetrics(true, bridgeVersion()),
): Promise<Bridge> {
  const startedAt = new Date().toISOString();
  const pipeline = await startDiscovery(config, logger, metrics);
  // Its own small pool, so shim calls never queue behind a resync's reads.
  const registrarConnection = connectConsul(
    { ...config.consul, maxConnections: REGISTRAR_CONNECTIONS },
    consulRequestHooks(metrics),
  );
  const registrar = createRegistrar({
    connection: registrarConnection,
    config: config.http,
    logger: logger.child({ component: "registrar" }),
    queueLimit: config.shim.queueLimit,
  });
  const shim = createShimHandler({
    registrar,
    config: config.http,
    logger: logger.child({ component: "shim" }),
    resolveHost: boundLookups(lookupHost, {
      ...DEFAULT_LOOKUP_BOUNDS,
      timeoutMs: config.shim.lookupTimeoutMs,
    }),
    rules: createShimRules(config.shim, config.consul, machineAddresses()),
  });
  const status = createStatusHandler({
    // An ACL problem, no first full read yet (docs/architecture.md §4, "Never an empty world"),
    // or a local watch without a good answer for longer than its wait plus a margin.
    // With workers, also until every worker serves.
    notReady: () =>
      pipeline.access.problem() ??
      (pipeline.store.ready ? pipeline.consulStatus.stalledReason() : WAITING_FOR_FIRST_READ) ??
      pipeline.workers?.notServing(),
    registry: pipeline.workers ? aggregatedMetrics(metrics, pipeline.workers) : metrics.registry,
  });
  const countedShim: RequestHandler = (request, response) => {
    if (!shim(request, response)) return false;
    const route = (request.url ?? "").split("?")[0] ?? "";
    response.once("finish", () =>
      metrics.shimRequests.inc({ route, status: String(response.statusCode) }),
    );
    return true;
  };
  const http = await startHttpServer(
    [
      countedShim,
      status,
      pipeline.feed.handler,
      createStatusPageHandler({
        state: async () => {
          // With workers, their streams are asked of them now.
          const served = await pipeline.workers?.state();
          return readBridgeState({
            version: bridgeVersion(),
            startedAt,
            store: pipeline.store,
            cache: pipeline.cache,
            streams: served ? { snapshot: () => served.streams } : pipeline.streams,
            consul: pipeline.consulStatus,
            workers: served?.workers,
          });
        },
        changes: () => pipeline.feed.recent(),
      }),
    ],
    config.http.host,
    config.http.port,
    logger,
  );
  return {
    pipeline,
    http,
    metrics,
    /** Both servers stop accepting at once; shim calls in flight finish before Consul is let go. */
    async stop() {
      // pipeline.stop() ends the status page's event streams at once, so HTTP can drain.
      const discovery = pipeline.stop();
      const shim = http.close().then(() => registrarConnection.close());
      await Promise.all([discovery, shim]);
    },
  };
}
