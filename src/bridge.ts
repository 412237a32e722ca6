import type { Logger } from "pino";
import type { BridgeConfig } from "./config.ts";
import { CatalogSource } from "./consul/catalog-source.ts";
import { connectConsul, type ConsulConnection } from "./consul/consul-client.ts";
import { createRegistrar } from "./consul/registration.ts";
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
import { createMetrics, type BridgeMetrics } from "./metrics.ts";
import { EndpointStore } from "./model/endpoint-store.ts";
import { startDiscoveryServer, type DiscoveryServer } from "./xds/discovery-server.ts";
import { loadXdsProtos } from "./xds/protos.ts";
import { ResourceCache } from "./xds/resource-cache.ts";

/** Connections kept for the two blocking queries; the rest serve targeted reads. */
const BLOCKING_CONNECTIONS = 2;
/** Connections of the shim's registrar, apart from the watcher's. */
const REGISTRAR_CONNECTIONS = 2;
/** Trailing window in which store changes are merged into one push (design.md §5). */
export const DEFAULT_COALESCE_WINDOW_MS = 20;

/** The running discovery side of the bridge: Consul → model → xDS. */
export interface DiscoveryPipeline {
  readonly connection: ConsulConnection;
  readonly store: EndpointStore;
  readonly cache: ResourceCache;
  readonly xds: DiscoveryServer;
  stop(): Promise<void>;
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
  const connection = connectConsul(config.consul);
  const store = new EndpointStore();
  const cache = new ResourceCache(store, loadXdsProtos(), DEFAULT_COALESCE_WINDOW_MS, {
    filter: config.routing.services,
    clusterGraceMs: config.routing.clusterGraceSeconds * 1000,
    routeConfigName: config.routing.routeConfigName,
    gateway: config.routing.gateway,
    logger: logger.child({ component: "xds-cache" }),
    onInvalidMeta: (service, problem) =>
      metrics.serviceMetaInvalid.inc({ service, key: problem.key }),
  });
  const xds = await startDiscoveryServer({
    cache,
    host: config.xds.host,
    port: config.xds.port,
    keepaliveTimeMs: config.xds.keepaliveTimeMs,
    maxConnectionAgeMs: config.xds.maxConnectionAgeMs,
    tls: config.xds.tls,
    token: config.xds.token,
    logger: logger.child({ component: "xds" }),
    hooks: {
      onOpen: () => metrics.xdsStreams.inc(),
      onClose: () => metrics.xdsStreams.dec(),
      onRequest: (kind, typeUrl) => metrics.xdsRequests.inc({ kind, type_url: typeUrl }),
      onResponse: (typeUrl) => metrics.xdsResponses.inc({ type_url: typeUrl }),
      onNack: (_node, typeUrl) => metrics.xdsNacks.inc({ type_url: typeUrl }),
      onRefused: (reason) => metrics.xdsRefused.inc({ reason }),
    },
  });
  const source = new CatalogSource({
    connection,
    store,
    translation: { health: config.health, datacenter: "dc1" },
    logger: logger.child({ component: "consul" }),
    readConcurrency: Math.max(1, config.consul.maxConnections - BLOCKING_CONNECTIONS),
    checkGraceMs: config.watch.checkGraceSeconds * 1000,
    hooks: {
      onError: () => metrics.consulErrors.inc({ watch: "consul" }),
      onReset: (reason) => metrics.consulIndexResets.inc({ reason }),
      onCheckHeld: () => metrics.consulChecksHeld.inc(),
      onServiceRead: () => metrics.consulServiceReads.inc(),
      onRejectedInstance: (service) => metrics.consulRejectedInstances.inc({ service }),
    },
  });
  void source
    .start()
    .then(() =>
      logger.info({ services: store.names().length }, "first full read of Consul done; serving"),
    );
  return {
    connection,
    store,
    cache,
    xds,
    async stop() {
      await source.stop();
      await xds.close();
      cache.close();
      connection.close();
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
  metrics = createMetrics(),
): Promise<Bridge> {
  const pipeline = await startDiscovery(config, logger, metrics);
  // Its own small pool, so shim calls never queue behind a resync's reads.
  const registrarConnection = connectConsul({
    ...config.consul,
    maxConnections: REGISTRAR_CONNECTIONS,
  });
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
    ready: () => pipeline.store.ready,
    registry: metrics.registry,
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
    [countedShim, status],
    config.http.host,
    config.http.port,
    logger,
  );
  logger.info({ host: http.host, port: http.port }, "HTTP shim listening");
  return {
    pipeline,
    http,
    metrics,
    async stop() {
      await http.close();
      registrarConnection.close();
      await pipeline.stop();
    },
  };
}
