import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { DatacenterOrder } from "../../model/datacenter-priority.ts";
import type { EndpointStore } from "../../model/endpoint-store.ts";
import { EXPORT_ALL, type ServiceFilter } from "../../model/service-filter.ts";
import type { MetaProblem } from "../../model/service-settings.ts";
import { Coalescer } from "./coalescer.ts";
import { ExportedServices } from "../resources/exported-services.ts";
import type { XdsProtos } from "../resources/protos.ts";
import type {
  GatewayOptions,
  ModelChange,
  ResourceSource,
  ResourceType,
} from "../resources/resource-type.ts";
import { RESOURCE_TYPES, resourceType, type ResourceTypeUrl } from "../resources/resource-types.ts";
import { CacheView } from "./cache-view.ts";
import { KeptTypes } from "./kept-resources.ts";
import type {
  CacheChanges,
  EncodedResource,
  NodeView,
  XdsCache,
  XdsCacheView,
} from "./xds-cache.ts";

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
  gateway?: Omit<GatewayOptions, "routeConfigName"> | undefined;
  logger?: Logger;
  /** Told once per service, meta key and value that was ignored. */
  onInvalidMeta?: (service: string, problem: MetaProblem) => void;
  /** Told once per endpoint whose tags and meta exceed the metadata limits (endpoint-metadata.ts). */
  onMetadataDropped?: (service: string, dropped: number) => void;
  /** Told each time a resource is encoded (a new version of it, shared by every stream). */
  onEncode?: (typeUrl: ResourceTypeUrl) => void;
}

/**
 * The resource cache between the endpoint model and the xDS streams (design: docs/architecture.md
 * §2, §5): every type of the table (resource-types.ts), each resource encoded once per version
 * and shared by every stream. Store changes are coalesced, then turned into change notices per
 * type: assignments change with their service's endpoints; clusters, virtual hosts and API
 * listeners only when a service is exported, leaves after its grace, or changes settings.
 *
 * Only what streams subscribe to is kept (a count per name, and per type for wildcards), so no
 * client can grow the cache by asking for names; what the last subscriber leaves is dropped at
 * once, at a cost of the names it held. Nodes that ask for some services only read a view
 * (cache-view.ts), opened by their streams and dropped with the last of them.
 */
export class ResourceCache implements XdsCache {
  private readonly kept = new KeptTypes();
  /** Node views by their canonical text, while some stream holds them. */
  private readonly views = new Map<string, CacheView>();
  private readonly encodeCounts = new Map<ResourceTypeUrl, number>();
  private readonly listeners = new Set<(changes: CacheChanges) => void>();
  private readonly coalescer: Coalescer;
  private readonly unsubscribe: () => void;
  private readonly exported: ExportedServices;
  private readonly source: ResourceSource;
  private readonly reportedShadows = new Set<string>();
  private readonly reportedDrops = new Set<string>();

  constructor(
    private readonly store: EndpointStore,
    private readonly protos: XdsProtos,
    coalesceWindowMs: number,
    private readonly options: ResourceCacheOptions = {},
  ) {
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
    this.source = {
      endpoints: (service) => store.get(service),
      exported: this.exported,
      routeConfigName: options.routeConfigName ?? DEFAULT_ROUTE_CONFIG_NAME,
      gateway: options.gateway,
      datacenters: () => options.datacenters?.(),
      onMetadataDropped: (service, endpointId, dropped) =>
        this.reportDropped(service, endpointId, dropped),
      onShadowed: (services) => this.reportShadowed(services),
    };
    for (const type of RESOURCE_TYPES) {
      this.encodeCounts.set(type.typeUrl, 0);
    }
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
    let total = 0;
    for (const count of this.encodeCounts.values()) total += count;
    return total;
  }

  /** How many resources of each type were encoded since start (for benchmarks and metrics). */
  encodingsByType(): Record<ResourceTypeUrl, number> {
    return Object.fromEntries(this.encodeCounts) as Record<ResourceTypeUrl, number>;
  }

  names(typeUrl: ResourceTypeUrl): readonly string[] {
    return resourceType(typeUrl).names(this.source);
  }

  get(typeUrl: ResourceTypeUrl, name: string): EncodedResource | undefined {
    const type = resourceType(typeUrl);
    return this.kept.of(typeUrl).get(name, () => this.build(type, this.source, name));
  }

  retain(typeUrl: ResourceTypeUrl, name: string): void {
    this.kept.of(typeUrl).retain(name);
  }

  release(typeUrl: ResourceTypeUrl, name: string): void {
    this.kept.of(typeUrl).release(name);
  }

  subscribe(listener: (changes: CacheChanges) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  openView(view: NodeView): XdsCacheView {
    let opened = this.views.get(view.text);
    if (!opened) {
      opened = new CacheView(view.filter, {
        cache: this,
        source: this.source,
        build: (type, source, name) => this.build(type, source, name),
        onClosed: () => this.views.delete(view.text),
      });
      this.views.set(view.text, opened);
    }
    opened.open();
    return opened;
  }

  /** Stops listening to the store and cancels pending timers. */
  close(): void {
    this.unsubscribe();
    this.coalescer.close();
    this.exported.close();
  }

  /** Drops the stale encodings and tells the streams what changed, then each node view. */
  private publish(endpoints: Iterable<string>, routing: readonly string[]): void {
    const change: ModelChange = { endpoints, routing };
    const changes = this.kept.forgetChanged(change, this.source);
    if (changes.size > 0) for (const listener of this.listeners) listener(changes);
    for (const view of this.views.values()) view.update(change);
  }

  private build(
    type: ResourceType<ResourceTypeUrl>,
    source: ResourceSource,
    name: string,
  ): EncodedResource | undefined {
    const built = type.build(source, name);
    if (!built) return undefined;
    const message = this.protos.resource(type.typeUrl);
    const bytes = message.encode(message.fromObject(built.value)).finish();
    const value = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.encodeCounts.set(type.typeUrl, (this.encodeCounts.get(type.typeUrl) ?? 0) + 1);
    this.options.onEncode?.(type.typeUrl);
    return {
      name,
      version: contentVersion(value),
      exists: built.exists,
      any: { type_url: type.typeUrl, value },
    };
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

  private reportShadowed(shadowed: readonly string[]): void {
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

/** A resource's version: a hash of its encoded bytes, equal for equal content everywhere. */
export function contentVersion(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("base64url").slice(0, 16);
}
