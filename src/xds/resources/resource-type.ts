import type { DatacenterOrder } from "../../model/datacenter-priority.ts";
import type { ServiceEndpoints } from "../../model/endpoint.ts";
import type { ExportedService } from "./exported-services.ts";

/**
 * What an xDS resource type is, declared once per type (one module each: cluster.ts,
 * cluster-load-assignment.ts, listener.ts, route-configuration.ts) and listed in the table of
 * resource-types.ts. The cache, the streams and the gRPC services loop over that table.
 */

/**
 * Where the gateway listener listens, which route configuration it uses, where a request for an
 * unknown Host goes and where its spans go.
 */
export interface GatewayOptions {
  host: string;
  port: number;
  routeConfigName: string;
  /** The service a Host that names no service goes to; a 404 that says why when absent. */
  defaultService?: string | undefined;
  /** Envoy cluster of a Zipkin collector: every request traced there; no tracer when absent. */
  zipkinCluster?: string | undefined;
}

/** The exported services a builder sees: all of them, or those of one node's view. */
export interface ExportedSet {
  /** The exported service of that name (present or in its grace period). */
  get(name: string): ExportedService | undefined;
  /** Every exported service name, sorted. */
  names(): readonly string[];
  all(): Iterable<ExportedService>;
}

/** What every type's names and builder read: the model, the exported services, the options. */
export interface ResourceSource {
  /** A service's endpoints in the model. */
  endpoints(service: string): ServiceEndpoints | undefined;
  readonly exported: ExportedSet;
  readonly routeConfigName: string;
  /** Where the gateway listener listens; no gateway listener when undefined. */
  readonly gateway: Omit<GatewayOptions, "routeConfigName"> | undefined;
  /** Local and other datacenters (failover priorities of assignments), once learnt. */
  datacenters(): DatacenterOrder | undefined;
  /** An endpoint whose tags and meta exceed the metadata limits lost `dropped` keys. */
  onMetadataDropped(service: string, endpointId: string, dropped: number): void;
  /** Services left out of the route configuration (one of their Host names is taken). */
  onShadowed(services: readonly string[]): void;
}

/** What changed in the model since the last notice to the streams. */
export interface ModelChange {
  /** Services whose endpoints changed. */
  readonly endpoints: Iterable<string>;
  /** Services whose cluster or virtual host changed: exported, gone, or settings changed. */
  readonly routing: readonly string[];
}

/** A resource as its builder made it: a plain proto object, and whether it stands for a thing. */
export interface BuiltResource {
  value: object;
  /** False for a placeholder (the empty assignment of a cluster that has no service). */
  exists: boolean;
}

/** How a resource differs between node views (see {@link ResourceType.scope}). */
export type ViewScope = { service: string } | "all" | "view";

/** A type that depends on another: sent after it on an ADS stream (docs/architecture.md §4). */
export interface Dependent {
  typeUrl: string;
  /**
   * Whether a resource of the depending type is sent again, even if unchanged, after the
   * resource of the same name of this type was sent anew (Envoy keeps a changed cluster warming
   * until its assignment arrives again).
   */
  resend: boolean;
}

/** The single-type gRPC service of a type (`EndpointDiscoveryService`, …), beside ADS. */
export interface SingleTypeService {
  /** How streams of the service are labelled (`/debug/state`, metrics): `eds`, `cds`, … */
  label: string;
  /** Full name of the service in protos/. */
  service: string;
  /** Its state-of-the-world and incremental methods. */
  sotw: string;
  delta: string;
}

/** One xDS resource type: all the bridge knows of it. */
export interface ResourceType<Url extends string = string> {
  /** `type.googleapis.com/` and the message's full name. */
  readonly typeUrl: Url;
  readonly grpc: SingleTypeService;
  /** Files of protos/ that declare the message, its service and the extensions it embeds. */
  readonly protoFiles: readonly string[];
  /**
   * Whether a state-of-the-world response carries every resource the client subscribes to, so a
   * resource left out is deleted on the client (CDS, LDS), or only the changed ones (EDS, RDS).
   */
  readonly fullSet: boolean;
  /** Types that depend on this one. */
  readonly dependents: readonly Dependent[];
  /** Every resource of the type that exists: what a wildcard subscription gets. */
  names(source: ResourceSource): readonly string[];
  /**
   * How a resource differs between node views (docs/architecture.md §4): `service`, the one
   * service's resource, the same in every view that holds the service and absent (or the empty
   * placeholder) in the others; `all`, the same in every view; `view`, built from the view's
   * services (encoded once per view).
   */
  scope(name: string): ViewScope;
  /** Builds the resource of that name; undefined when there is none. */
  build(source: ResourceSource, name: string): BuiltResource | undefined;
  /**
   * The names whose resource changed with `change`; `subscribed` lists the names streams
   * subscribe to by name, for types whose names are not the services' own.
   */
  changed(
    change: ModelChange,
    source: ResourceSource,
    subscribed: () => Iterable<string>,
  ): Iterable<string>;
}

/** The message a type URL names (`type.googleapis.com/envoy.config.cluster.v3.Cluster` → …Cluster). */
export function messageOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
}
