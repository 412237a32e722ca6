import type { Logger } from "pino";
import type { DatacenterOrder } from "../../model/datacenter-priority.ts";
import type { EndpointStore } from "../../model/endpoint-store.ts";
import { EXPORT_ALL, type ServiceFilter } from "../../model/service-filter.ts";
import type { MetaProblem } from "../../model/service-settings.ts";
import { toCluster } from "../resources/cluster.ts";
import { toClusterLoadAssignment } from "../resources/cluster-load-assignment.ts";
import { Coalescer } from "./coalescer.ts";
import { ExportedServices } from "../resources/exported-services.ts";
import {
  GATEWAY_LISTENER_NAME,
  toApiListener,
  toGatewayListener,
  type GatewayOptions,
} from "../resources/listener.ts";
import type { XdsProtos } from "../resources/protos.ts";
import { toRouteConfiguration } from "../resources/route-configuration.ts";
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS,
  CLUSTER_TYPE_URL as CDS,
  LISTENER_TYPE_URL as LDS,
  ROUTE_CONFIGURATION_TYPE_URL as RDS,
  SERVED_TYPE_URLS,
  type ResourceTypeUrl,
} from "../resources/type-urls.ts";
import { contentVersion } from "./version.ts";
import type { CacheChanges, EncodedResource, XdsCache } from "./xds-cache.ts";

export type { CacheChanges, EncodedResource } from "./xds-cache.ts";

/** Default name of the route configuration (docs/architecture.md §4). */
export const DEFAULT_ROUTE_CONFIG_NAME = "consul-services";
/** Default time a service that left keeps its cluster. */
export const DEFAULT_CLUSTER_GRACE_MS = 60_000;

/** What the cache serves beyond assignments; every field has a default. */
export interface ResourceCacheOptions {
  /** Services to export (default: all but Consul's own). */
  filter?: ServiceFilter;
  /** How long a departed service keeps its empty cluster and virtual host. */
  clusterGraceMs?: number;
  routeConfigName?: string;
  /**
   * Local and other datacenters, read when an assignment is built (the local one is learnt from
   * the agent before the first full read): assignments put each at its failover priority.
   */
  datacenters?: () => DatacenterOrder | undefined;
  /** Where the gateway listener listens; no gateway listener without it. */
  gateway?: Omit<GatewayOptions, "routeConfigName">;
  logger?: Logger;
  /** Told once per service, meta key and value that was ignored. */
  onInvalidMeta?: (service: string, problem: MetaProblem) => void;
  /** Told once per endpoint whose tags and meta exceed the metadata limits (endpoint-metadata.ts). */
  onMetadataDropped?: (service: string, dropped: number) => void;
  /** Told each time a resource is encoded (a new version of it, shared by every stream). */
  onEncode?: (typeUrl: ResourceTypeUrl) => void;
}

/** `NAME`, `NAME:PORT`, `NAME.service.consul[:PORT]`: the service a listener name is for. */
const API_LISTENER_NAME = /^(.+?)(?:\.service\.consul)?(?::\d{1,5})?$/;

/**
 * The resource cache between the endpoint model and the xDS streams (design: docs/architecture.md
 * §2, §5): clusters, assignments, listeners and the route configuration, each encoded once per
 * version and shared by every stream. Store changes are coalesced, then turned into change
 * notices per type: assignments change with their service's endpoints; clusters, virtual hosts
 * and API listeners only when a service is exported, leaves after its grace, or changes settings.
 */
export class ResourceCache implements XdsCache {
  /** Encoded resources by type and name; null remembers a name that has no resource. */
  private readonly encoded: Record<ResourceTypeUrl, Map<string, EncodedResource | null>> = {
    [CDS]: new Map(),
    [EDS]: new Map(),
    [LDS]: new Map(),
    [RDS]: new Map(),
  };
  private readonly encodeCounts: Record<ResourceTypeUrl, number> = {
    [CDS]: 0,
    [EDS]: 0,
    [LDS]: 0,
    [RDS]: 0,
  };
  private readonly listeners = new Set<(changes: CacheChanges) => void>();
  private readonly coalescer: Coalescer;
  private readonly unsubscribe: () => void;
  private readonly exported: ExportedServices;
  private readonly routeConfigName: string;
  private readonly reportedShadows = new Set<string>();
  private readonly reportedDrops = new Set<string>();

  constructor(
    private readonly store: EndpointStore,
    private readonly protos: XdsProtos,
    coalesceWindowMs: number,
    private readonly options: ResourceCacheOptions = {},
  ) {
    this.routeConfigName = options.routeConfigName ?? DEFAULT_ROUTE_CONFIG_NAME;
    this.exported = new ExportedServices({
      filter: options.filter ?? EXPORT_ALL,
      graceMs: options.clusterGraceMs ?? DEFAULT_CLUSTER_GRACE_MS,
      onExpired: (name) => this.publish([], [name]),
      onInvalidMeta: (service, problem) => {
        options.logger?.warn(
          { service, key: problem.key, value: problem.value, reason: problem.reason },
          "service meta value ignored; the default is used",
        );
        options.onInvalidMeta?.(service, problem);
      },
    });
    this.exported.update(store.names(), (name) => store.get(name));
    this.coalescer = new Coalescer(coalesceWindowMs, (names) => {
      const routing = this.exported.update(names, (name) => store.get(name));
      this.publish(names, routing);
    });
    this.unsubscribe = store.subscribe((changed) => this.coalescer.push(changed));
  }

  get ready(): boolean {
    return this.store.ready;
  }

  whenReady(): Promise<void> {
    return this.store.whenReady();
  }

  /** How many resources were encoded since start, all types together. */
  get encodings(): number {
    return SERVED_TYPE_URLS.reduce((total, type) => total + this.encodeCounts[type], 0);
  }

  /** How many resources of each type were encoded since start (for benchmarks and metrics). */
  encodingsByType(): Record<ResourceTypeUrl, number> {
    return { ...this.encodeCounts };
  }

  names(typeUrl: ResourceTypeUrl): readonly string[] {
    switch (typeUrl) {
      case CDS:
      case EDS:
        return this.exported.names();
      case RDS:
        return [this.routeConfigName];
      case LDS:
        return this.options.gateway ? [GATEWAY_LISTENER_NAME] : [];
    }
  }

  get(typeUrl: ResourceTypeUrl, name: string): EncodedResource | undefined {
    const byName = this.encoded[typeUrl];
    const cached = byName.get(name);
    if (cached !== undefined) return cached ?? undefined;
    const fresh = this.build(typeUrl, name);
    byName.set(name, fresh ?? null);
    return fresh;
  }

  subscribe(listener: (changes: CacheChanges) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops listening to the store and cancels pending timers. */
  close(): void {
    this.unsubscribe();
    this.coalescer.close();
    this.exported.close();
  }

  /** Drops the stale encodings and tells the streams what changed. */
  private publish(endpointsChanged: Iterable<string>, routingChanged: readonly string[]): void {
    const changes = new Map<ResourceTypeUrl, Set<string>>();
    const invalidate = (type: ResourceTypeUrl, names: Iterable<string>): void => {
      const byName = this.encoded[type];
      let set = changes.get(type);
      if (!set) changes.set(type, (set = new Set()));
      for (const name of names) {
        byName.delete(name);
        set.add(name);
      }
    };
    invalidate(EDS, endpointsChanged);
    if (routingChanged.length > 0) {
      const services = new Set(routingChanged);
      invalidate(CDS, routingChanged);
      invalidate(RDS, [this.routeConfigName]);
      // API listeners are cached under the names clients asked for (`NAME:PORT` too, and names
      // that had no service yet); one nobody asked for is neither announced nor encoded.
      const listenerNames = [...this.encoded[LDS].keys()].filter(
        (name) => name !== GATEWAY_LISTENER_NAME && services.has(serviceOfListener(name)),
      );
      invalidate(LDS, listenerNames);
    }
    for (const [type, names] of changes) if (names.size === 0) changes.delete(type);
    if (changes.size === 0) return;
    for (const listener of this.listeners) listener(changes);
  }

  private build(typeUrl: ResourceTypeUrl, name: string): EncodedResource | undefined {
    switch (typeUrl) {
      case EDS: {
        const present = this.exported.get(name)?.present === true;
        const service = present ? this.store.get(name) : undefined;
        const value = toClusterLoadAssignment(
          service,
          name,
          this.options.datacenters?.(),
          (id, n) => this.reportDropped(name, id, n),
        );
        return this.encode(EDS, this.protos.clusterLoadAssignment, name, value, present);
      }
      case CDS: {
        const service = this.exported.get(name);
        if (!service) return undefined;
        return this.encode(CDS, this.protos.cluster, name, toCluster(name, service.settings));
      }
      case RDS: {
        if (name !== this.routeConfigName) return undefined;
        const { value, shadowed } = toRouteConfiguration(name, this.exported.all());
        this.reportShadowed(shadowed);
        return this.encode(RDS, this.protos.routeConfiguration, name, value);
      }
      case LDS:
        return this.buildListener(name);
    }
  }

  private buildListener(name: string): EncodedResource | undefined {
    const { gateway } = this.options;
    if (name === GATEWAY_LISTENER_NAME) {
      if (!gateway) return undefined;
      const value = toGatewayListener({ ...gateway, routeConfigName: this.routeConfigName });
      return this.encode(LDS, this.protos.listener, name, value);
    }
    const service = this.exported.get(serviceOfListener(name));
    if (!service) return undefined;
    return this.encode(LDS, this.protos.listener, name, toApiListener(name, service));
  }

  private encode(
    typeUrl: ResourceTypeUrl,
    type: XdsProtos["cluster"],
    name: string,
    object: object,
    exists = true,
  ): EncodedResource {
    const bytes = type.encode(type.fromObject(object)).finish();
    const value = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.encodeCounts[typeUrl] += 1;
    this.options.onEncode?.(typeUrl);
    return { name, version: contentVersion(value), exists, any: { type_url: typeUrl, value } };
  }

  private reportDropped(service: string, endpointId: string, dropped: number): void {
    const key = `${service}\u0000${endpointId}\u0000${dropped}`;
    if (this.reportedDrops.has(key)) return;
    this.reportedDrops.add(key);
    this.options.logger?.warn(
      { service, endpoint: endpointId, dropped },
      "endpoint metadata over its limits (32 keys, 256 bytes each); the rest left out",
    );
    this.options.onMetadataDropped?.(service, dropped);
  }

  private reportShadowed(shadowed: string[]): void {
    for (const name of shadowed) {
      if (this.reportedShadows.has(name)) continue;
      this.reportedShadows.add(name);
      this.options.logger?.warn(
        { service: name },
        "service not routed: another service already has one of its Host names",
      );
    }
  }
}

/** The service an API listener name is for (docs/architecture.md §4, proxyless gRPC). */
export function serviceOfListener(listenerName: string): string {
  return API_LISTENER_NAME.exec(listenerName)?.[1] ?? listenerName;
}
