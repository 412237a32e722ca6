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
import {
  connectConsul,
  consulEndpointOf,
  ConsulRequestError,
  type ConsulClientHooks,
  type ConsulConnection,
} from "./consul/client/consul-client.ts";
import { ConsulStatus } from "./consul/watch/consul-status.ts";
import { EventFeed } from "./observe/event-feed.ts";
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
import { CounterTally } from "./observe/counter-tally.ts";
import { createMetrics, type BridgeMetrics } from "./observe/metrics.ts";
import { EndpointStore } from "./model/endpoint-store.ts";
import { mergeSourcesInto } from "./model/merged-sources.ts";
import { DnsSource } from "./dns/dns-source.ts";
import { startDiscoveryServer, type DiscoveryServer } from "./xds/server/discovery-server.ts";
import { loadXdsProtos } from "./xds/resources/protos.ts";
import { ResourceCache } from "./xds/cache/resource-cache.ts";
import { StreamRegistry } from "./xds/protocol/stream-registry.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL } from "./xds/resources/cluster-load-assignment.ts";

/** Connections kept for the two blocking queries; the rest serve targeted reads. */
const BLOCKING_CONNECTIONS = 2;
/** Connections of the shim's registrar, apart from the watcher's. */
const REGISTRAR_CONNECTIONS = 2;
/** Trailing window in which store changes are merged into one push (docs/architecture.md §5). */
export const DEFAULT_COALESCE_WINDOW_MS = 20;

/** The running discovery side of the bridge: Consul → model → xDS. */
export interface DiscoveryPipeline {
  readonly connection: ConsulConnection;
  readonly store: EndpointStore;
  readonly cache: ResourceCache;
  readonly xds: DiscoveryServer;
  readonly streams: StreamRegistry;
  readonly consulStatus: ConsulStatus;
  /** Changes for the status page (`/events`). */
  readonly feed: EventFeed;
  /** ACL problems with Consul's answers; the bridge is not ready while there is one. */
  readonly access: ConsulAccess;
  stop(): Promise<void>;
}

/** Consul request metrics: latency of reads that do not block, failures by endpoint. */
function consulRequestHooks(metrics: BridgeMetrics): ConsulClientHooks {
  return {
    onRequest: (endpoint, seconds, failed) => {
      if (seconds !== undefined) metrics.consulRequestDuration.observe({ endpoint }, seconds);
      if (failed) metrics.consulErrors.inc({ endpoint });
    },
    onTooStale: (endpoint) => metrics.consulTooStale.inc({ endpoint }),
  };
}

/** The DNS source of `--dns-services`, its endpoints in the local datacenter; none without names. */
function startDnsSource(
  config: BridgeConfig["dns"],
  datacenter: string,
  view: EndpointStore,
  logger: Logger,
  metrics: BridgeMetrics,
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
    onError: (error) => metrics.dnsErrors.inc({ service: error.service }),
  });
  source.start();
  return source;
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
  const connection = connectConsul(config.consul, consulRequestHooks(metrics));
  const store = new EndpointStore();
  // With DNS names, the catalog and DNS write views of their own, merged into `store` for xDS.
  const catalogView = config.dns.targets.length > 0 ? new EndpointStore() : store;
  const dnsView = new EndpointStore();
  const stopMerging =
    catalogView === store
      ? () => undefined
      : mergeSourcesInto({
          consul: catalogView,
          dns: dnsView,
          target: store,
          mode: config.dns.merge,
        });
  let dns: DnsSource | undefined;
  const feed = new EventFeed();
  const consulStatus = new ConsulStatus();
  // Consul change → first EDS response after it (only while some stream is there to push to).
  let changedAt: number | undefined;
  const streams = new StreamRegistry({
    onAckLatency: (typeUrl, seconds) => metrics.pushToAck.observe({ type_url: typeUrl }, seconds),
    onChange: (stream, event) => {
      const labels = { type: stream.service, mode: stream.mode };
      if (event === "open") metrics.xdsStreams.inc(labels);
      if (event === "close") metrics.xdsStreams.dec(labels);
      if (event === "update") return feed.touch();
      feed.publish(
        "stream",
        `${event === "open" ? "stream opened" : `${stream.nodeId} disconnected`} (${stream.service}, ${stream.peer})`,
      );
    },
  });
  store.subscribe((changed) => {
    if (changedAt === undefined && store.ready && streams.size > 0) changedAt = performance.now();
    metrics.endpoints.reset();
    for (const name of store.names()) {
      const counts = new Map<string, number>();
      for (const endpoint of store.get(name)?.endpoints ?? []) {
        counts.set(endpoint.health, (counts.get(endpoint.health) ?? 0) + 1);
      }
      for (const [health, count] of counts) metrics.endpoints.set({ service: name, health }, count);
    }
    for (const name of changed.slice(0, 20)) {
      const endpoints = store.get(name)?.endpoints;
      const healthy = endpoints?.filter((e) => e.health === "healthy").length ?? 0;
      feed.publish(
        "service",
        endpoints
          ? `${name}: ${endpoints.length} endpoint${endpoints.length === 1 ? "" : "s"}, ${healthy} healthy`
          : `${name}: removed`,
      );
    }
  });
  // Learnt from the agent before the first full read (docs/architecture.md §3, "Locality").
  let datacenterOrder: DatacenterOrder | undefined;
  const cache = new ResourceCache(store, loadXdsProtos(), DEFAULT_COALESCE_WINDOW_MS, {
    datacenters: () => datacenterOrder,
    onMetadataDropped: (service, dropped) =>
      metrics.endpointMetadataDropped.inc({ service }, dropped),
    filter: config.routing.services,
    clusterGraceMs: config.routing.clusterGraceSeconds * 1000,
    routeConfigName: config.routing.routeConfigName,
    gateway: config.routing.gateway,
    logger: logger.child({ component: "xds-cache" }),
    onInvalidMeta: (service, problem) =>
      metrics.serviceMetaInvalid.inc({ service, key: problem.key }),
    onEncode: (typeUrl) => metrics.xdsEncodings.inc({ type: typeUrl }),
  });
  // Counted per request and per response: added to prom-client once per turn.
  const requests = new CounterTally(metrics.xdsRequests, ["kind", "type_url", "mode"]);
  const responses = new CounterTally(metrics.xdsResponses, ["type_url", "mode"]);
  const xds = await startDiscoveryServer({
    cache,
    host: config.xds.host,
    port: config.xds.port,
    keepaliveTimeMs: config.xds.keepaliveTimeMs,
    maxConnectionAgeMs: config.xds.maxConnectionAgeMs,
    tls: config.xds.tls,
    token: config.xds.token,
    logger: logger.child({ component: "xds" }),
    registry: streams,
    hooks: {
      onRequest: (kind, typeUrl, mode) => requests.inc(kind, typeUrl, mode),
      onResponse: (typeUrl, _count, mode) => {
        responses.inc(typeUrl, mode);
        if (typeUrl === CLUSTER_LOAD_ASSIGNMENT_TYPE_URL && changedAt !== undefined) {
          metrics.changeToPush.observe((performance.now() - changedAt) / 1000);
          changedAt = undefined;
        }
      },
      onNack: (node, typeUrl, message, mode) => {
        metrics.xdsNacks.inc({ type_url: typeUrl, mode });
        feed.publish("stream", `${node} rejected ${typeUrl.split(".").pop()}: ${message}`);
      },
      onRefused: (reason) => metrics.xdsRefused.inc({ reason }),
      onResponseEncode: (typeUrl) => metrics.xdsResponseEncodings.inc({ type: typeUrl }),
    },
  });
  const access = new ConsulAccess({
    logger: logger.child({ component: "consul" }),
    tokenSource: config.consul.tokenSource,
    hooks: {
      onProblem: (kind) => metrics.consulAccessProblems.inc({ kind }),
      onStateChange: (ok) => metrics.consulAccessOk.set(ok ? 1 : 0),
    },
  });
  // One connection budget: 2 local blocking queries, 1 per other datacenter, a shared read pool.
  const remoteDatacenters = config.consul.datacenters ?? [];
  const readLimit = pLimit(
    Math.max(1, config.consul.maxConnections - BLOCKING_CONNECTIONS - remoteDatacenters.length),
  );
  // The fallback region of instances whose answer names none; set once the agent has told.
  const translation = { health: config.health, datacenter: "" };
  const remotes = remoteDatacenters.map((datacenter) => {
    metrics.consulDatacenterUnreachable.set({ dc: datacenter }, 0);
    return new RemoteDatacenterSource({
      connection,
      store: catalogView,
      datacenter,
      translation: { health: config.health },
      readLimit,
      logger: logger.child({ component: "consul", datacenter }),
      onReachable: (dc, reachable) => {
        metrics.consulDatacenterUnreachable.set({ dc }, reachable ? 0 : 1);
        feed.publish("consul", `datacenter ${dc} ${reachable ? "answering again" : "unreachable"}`);
      },
    });
  });
  const startUp = new AbortController();
  const source = new CatalogSource({
    readLimit,
    connection,
    access,
    store: catalogView,
    translation,
    logger: logger.child({ component: "consul" }),
    readConcurrency: Math.max(1, config.consul.maxConnections - BLOCKING_CONNECTIONS),
    checkGraceMs: config.watch.checkGraceSeconds * 1000,
    hooks: {
      onWatchAnswer: (path, index) => consulStatus.answered(path, index),
      onWatchError: (path, error) => {
        consulStatus.failed(path, error);
        // Failed requests are counted by the connection; this counts malformed answers.
        if (!(error instanceof ConsulRequestError))
          metrics.consulErrors.inc({ endpoint: consulEndpointOf(path) });
      },
      onReset: (reason) => metrics.consulIndexResets.inc({ reason }),
      onCheckHeld: () => metrics.consulChecksHeld.inc(),
      onServiceRead: () => metrics.consulServiceReads.inc(),
      onServiceProbe: () => metrics.consulServiceProbes.inc(),
      onRejectedInstance: (service) => metrics.consulRejectedInstances.inc({ service }),
    },
  });
  // Until the agent tells its datacenter every local endpoint is at priority 0, as it will be.
  const learnt = readLocalDatacenter(connection, logger, startUp.signal, () =>
    metrics.consulErrors.inc({ endpoint: "/agent/self" }),
  ).then((local) => {
    translation.datacenter = local;
    const others = remoteDatacenters.filter((dc) => dc !== local);
    datacenterOrder = { local, others };
    logger.info({ datacenter: local, failover: others }, "local datacenter read from the agent");
    for (const remote of remotes) if (remote.datacenter !== local) remote.start();
    if (!startUp.signal.aborted)
      dns = startDnsSource(config.dns, local, dnsView, logger.child({ component: "dns" }), metrics);
  });
  // Stopped before the agent told its datacenter: nothing to report.
  learnt.catch(() => undefined);
  void source.start().then(() => {
    metrics.ready.set(1);
    feed.publish("consul", `first full read of Consul: ${store.names().length} services`);
    logger.info({ services: store.names().length }, "first full read of Consul done; serving");
  });
  return {
    connection,
    store,
    cache,
    xds,
    streams,
    consulStatus,
    feed,
    access,
    async stop() {
      feed.close();
      // Streams end before the watch stops, so nothing more (and nothing empty) is pushed.
      await xds.close();
      startUp.abort();
      await Promise.all([source.stop(), ...remotes.map((remote) => remote.stop()), dns?.stop()]);
      stopMerging();
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
    ready: () => pipeline.store.ready && pipeline.access.problem() === undefined,
    notReadyReason: () => pipeline.access.problem(),
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
    [
      countedShim,
      status,
      pipeline.feed.handler,
      createStatusPageHandler(() =>
        readBridgeState({
          version: bridgeVersion(),
          startedAt,
          store: pipeline.store,
          cache: pipeline.cache,
          streams: pipeline.streams,
          consul: pipeline.consulStatus,
        }),
      ),
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
