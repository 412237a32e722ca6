import type { Logger } from "pino";
import type { ConsulAccessHooks } from "../consul/client/consul-access.ts";
import {
  consulEndpointOf,
  ConsulRequestError,
  type ConsulClientHooks,
} from "../consul/client/consul-client.ts";
import type { CatalogSourceHooks } from "../consul/watch/catalog-source.ts";
import type { ConsulStatus, WatchReports, WatchRole } from "../consul/watch/consul-status.ts";
import type { EndpointStore } from "../model/endpoint-store.ts";
import type { ResourceCacheOptions } from "../xds/cache/resource-cache.ts";
import type { StreamRegistry, StreamRegistryHooks } from "../xds/protocol/stream-registry.ts";
import type { DiscoveryHooks } from "../xds/server/discovery-server.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL } from "../xds/resources/cluster-load-assignment.ts";
import { CounterTally } from "./counter-tally.ts";
import type { EventFeed } from "./event-feed.ts";
import type { BridgeMetrics } from "./metrics.ts";

/** Services whose change is listed on the status page per store change; the rest are counted. */
const FEED_SERVICES_PER_CHANGE = 20;

/**
 * Now in ms since the epoch at sub-ms resolution: comparable across the bridge's processes, so
 * a change stamped by the primary is timed to a push by an xDS worker.
 */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/** Consul request metrics: latency of reads that do not block, failures by endpoint. */
export function consulRequestHooks(metrics: BridgeMetrics): ConsulClientHooks {
  return {
    onRequest: (endpoint, seconds, failed) => {
      if (seconds !== undefined) metrics.consulRequestDuration.observe({ endpoint }, seconds);
      if (failed) metrics.consulErrors.inc({ endpoint });
    },
    onTooStale: (endpoint) => metrics.consulTooStale.inc({ endpoint }),
  };
}

/** What the observer reports into. */
export interface PipelineObserverOptions {
  metrics: BridgeMetrics;
  /** The status page's change feed (`/events`). */
  feed: EventFeed;
  /** Each Consul watch's last answer, for `/debug/state` and `/ready`. */
  consulStatus: ConsulStatus;
  logger: Logger;
}

/**
 * Turns what the discovery pipeline's parts report through their hooks into metrics, the status
 * page's change feed and the Consul watch status, so the composition root only wires parts. It
 * also times a Consul change to the first EDS response sent after it.
 */
export class PipelineObserver {
  private readonly metrics: BridgeMetrics;
  private readonly feed: EventFeed;
  /** When the store changed while streams were connected, until the next EDS response (epoch ms). */
  private changedAt: number | undefined;
  /** The first store change not yet stamped on an update to the xDS workers (epoch ms). */
  private unsentChangeAt: number | undefined;
  private unsentClearing = false;
  /** The health labels each service's endpoint gauge is set for, to update one service alone. */
  private readonly endpointHealths = new Map<string, Set<string>>();

  constructor(private readonly options: PipelineObserverOptions) {
    this.metrics = options.metrics;
    this.feed = options.feed;
    options.metrics.readWatchAges(() => options.consulStatus.ages());
  }

  /** Hooks of the Consul connection. */
  consulRequests(): ConsulClientHooks {
    return consulRequestHooks(this.metrics);
  }

  /** Hooks of the stream registry: connected streams by service and mode, the change feed. */
  streams(): StreamRegistryHooks {
    const { metrics, feed } = this;
    return {
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
    };
  }

  /** Hooks of the resource cache. */
  cache(): Pick<ResourceCacheOptions, "onMetadataDropped" | "onInvalidMeta" | "onEncode"> {
    const { metrics } = this;
    return {
      onMetadataDropped: (service, dropped) =>
        metrics.endpointMetadataDropped.inc({ service }, dropped),
      onInvalidMeta: (service, problem) =>
        metrics.serviceMetaInvalid.inc({ service, key: problem.key }),
      onEncode: (typeUrl) => metrics.xdsEncodings.inc({ type: typeUrl }),
    };
  }

  /** Hooks of the xDS server; requests and responses are tallied until read (counter-tally.ts). */
  xds(): DiscoveryHooks {
    const { metrics, feed } = this;
    const requests = new CounterTally(metrics.xdsRequests, ["kind", "type_url", "mode"]);
    const responses = new CounterTally(metrics.xdsResponses, ["type_url", "mode"]);
    metrics.beforeXdsCountsRead(() => {
      requests.flush();
      responses.flush();
    });
    return {
      onRequest: (kind, typeUrl, mode) => requests.inc(kind, typeUrl, mode),
      onResponse: (typeUrl, _count, mode) => {
        responses.inc(typeUrl, mode);
        if (typeUrl === CLUSTER_LOAD_ASSIGNMENT_TYPE_URL && this.changedAt !== undefined) {
          metrics.changeToPush.observe(Math.max(0, epochMs() - this.changedAt) / 1000);
          this.changedAt = undefined;
        }
      },
      onNack: (node, typeUrl, message, mode) => {
        metrics.xdsNacks.inc({ type_url: typeUrl, mode });
        feed.publish("stream", `${node} rejected ${typeUrl.split(".").pop()}: ${message}`);
      },
      onRefused: (reason) => metrics.xdsRefused.inc({ reason }),
      onResponseEncode: (typeUrl) => metrics.xdsResponseEncodings.inc({ type: typeUrl }),
    };
  }

  /** Hooks of the ACL guard. */
  access(): ConsulAccessHooks {
    const { metrics } = this;
    return {
      onProblem: (kind) => metrics.consulAccessProblems.inc({ kind }),
      onStateChange: (ok) => metrics.consulAccessOk.set(ok ? 1 : 0),
    };
  }

  /** Hooks of the local datacenter's source: watch status, resets, reads, probes, holds. */
  catalog(): CatalogSourceHooks {
    const { metrics } = this;
    return {
      ...this.watchReports({ gatesReady: true }),
      onReset: (reason) => metrics.consulIndexResets.inc({ reason }),
      onCheckHeld: () => metrics.consulChecksHeld.inc(),
      onServiceRead: () => metrics.consulServiceReads.inc(),
      onServiceProbe: () => metrics.consulServiceProbes.inc(),
      onRejectedInstance: (service) => metrics.consulRejectedInstances.inc({ service }),
    };
  }

  /** Watch reports of another datacenter's source: shown, but its stall does not gate `/ready`. */
  remoteWatch(): WatchReports {
    return this.watchReports({ gatesReady: false });
  }

  /** Another datacenter is watched: it counts as reachable until it fails to answer. */
  datacenterWatched(datacenter: string): void {
    this.metrics.consulDatacenterUnreachable.set({ dc: datacenter }, 0);
  }

  /** Another datacenter stopped answering, or answers again. */
  datacenterReachable(datacenter: string, reachable: boolean): void {
    this.metrics.consulDatacenterUnreachable.set({ dc: datacenter }, reachable ? 0 : 1);
    this.feed.publish(
      "consul",
      `datacenter ${datacenter} ${reachable ? "answering again" : "unreachable"}`,
    );
  }

  /** A Consul call outside the watches failed (`/agent/self` at start). */
  consulFailed(endpoint: string): void {
    this.metrics.consulErrors.inc({ endpoint });
  }

  /** A `--dns-services` name failed to resolve or resolved empty. */
  dnsFailed(service: string): void {
    this.metrics.dnsErrors.inc({ service });
  }

  /**
   * Follows the store: the endpoint gauge of each changed service, the change feed, and the
   * start of a change-to-push measurement while streams are connected. Returns the unsubscribe.
   */
  followStore(store: EndpointStore, streams: StreamRegistry): () => void {
    return store.subscribe((changed) => {
      if (store.ready) {
        const at = epochMs();
        this.changeArrived(at, streams.size);
        this.unsentChangeAt ??= at;
      }
      for (const name of changed) this.countEndpoints(name, store);
      for (const name of changed.slice(0, FEED_SERVICES_PER_CHANGE)) {
        const endpoints = store.get(name)?.endpoints;
        const healthy = endpoints?.filter((e) => e.health === "healthy").length ?? 0;
        this.feed.publish(
          "service",
          endpoints
            ? `${name}: ${endpoints.length} endpoint${endpoints.length === 1 ? "" : "s"}, ${healthy} healthy`
            : `${name}: removed`,
        );
      }
    });
  }

  /**
   * A store change reached this process's streams' cache at `at` (epoch ms): the first EDS
   * response after it is timed, when streams are connected. An xDS worker calls it with the time
   * the primary stamped on the update ({@link changeForWorkers}).
   */
  changeArrived(at: number, streams: number): void {
    if (this.changedAt === undefined && streams > 0) this.changedAt = at;
  }

  /**
   * When the store change behind the cache change being sent to the xDS workers happened: the
   * first one since the last update stamped. Every update sent in the same turn (one per scope)
   * gets the same time.
   */
  changeForWorkers(): number | undefined {
    const at = this.unsentChangeAt;
    if (at !== undefined && !this.unsentClearing) {
      this.unsentClearing = true;
      setImmediate(() => {
        this.unsentClearing = false;
        if (this.unsentChangeAt === at) this.unsentChangeAt = undefined;
      });
    }
    return at;
  }

  /** The first full read of Consul is done: the bridge serves. */
  firstReadDone(services: number): void {
    this.metrics.ready.set(1);
    this.feed.publish("consul", `first full read of Consul: ${services} services`);
    this.options.logger.info({ services }, "first full read of Consul done; serving");
  }

  /** A watch's start, answers and failures into the watch status; malformed answers counted. */
  private watchReports(role: WatchRole): WatchReports {
    const { metrics, options } = this;
    return {
      onWatchStart: (path) => options.consulStatus.started(path, role),
      onWatchAnswer: (path, index) => options.consulStatus.answered(path, index),
      onWatchError: (path, error) => {
        options.consulStatus.failed(path, error);
        // Failed requests are counted by the connection; this counts malformed answers.
        if (!(error instanceof ConsulRequestError))
          metrics.consulErrors.inc({ endpoint: consulEndpointOf(path) });
      },
    };
  }

  /** Sets one service's endpoint gauge by health, removing the healths it no longer has. */
  private countEndpoints(service: string, store: EndpointStore): void {
    const counts = new Map<string, number>();
    for (const endpoint of store.get(service)?.endpoints ?? []) {
      counts.set(endpoint.health, (counts.get(endpoint.health) ?? 0) + 1);
    }
    for (const health of this.endpointHealths.get(service) ?? []) {
      if (!counts.has(health)) this.metrics.endpoints.remove({ service, health });
    }
    for (const [health, count] of counts) this.metrics.endpoints.set({ service, health }, count);
    if (counts.size > 0) this.endpointHealths.set(service, new Set(counts.keys()));
    else this.endpointHealths.delete(service);
  }
}
