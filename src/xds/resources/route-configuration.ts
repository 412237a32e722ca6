import type { ServiceSettings } from "../../model/service-settings.ts";
import { LB_METADATA_NAMESPACE } from "./cluster-load-assignment.ts";
import {
  duration,
  stringStruct,
  type DurationObject,
  type StringStruct,
  type Wrapped,
} from "./proto-values.ts";
import type { ResourceType } from "./resource-type.ts";

/** RDS: the type URL of RouteConfiguration. */
export const ROUTE_CONFIGURATION_TYPE_URL =
  "type.googleapis.com/envoy.config.route.v3.RouteConfiguration" as const;

/** A service as the route builders see it: its name and settings. */
export interface RoutedService {
  name: string;
  settings: ServiceSettings;
  /** Values of the subset header's key among the instances, sorted (exported-services.ts). */
  subsetValues?: readonly string[];
}

/** An envoy.config.route.v3.Route as a plain object. */
export interface RouteObject {
  name: string;
  match: {
    prefix: string;
    headers?: { name: string; string_match: { exact: string } }[];
  };
  route: {
    cluster: string;
    metadata_match?: { filter_metadata: Record<string, StringStruct> };
    timeout?: DurationObject;
    retry_policy?: {
      retry_on: string;
      num_retries: Wrapped<number>;
      per_try_timeout?: DurationObject;
    };
  };
}

/** A Route that answers by itself (envoy.config.route.v3.DirectResponseAction). */
export interface DirectRouteObject {
  name: string;
  match: { prefix: string };
  direct_response: { status: number; body: { inline_string: string } };
}

/** An envoy.config.route.v3.VirtualHost as a plain object. */
export interface VirtualHostObject {
  name: string;
  domains: string[];
  routes: (RouteObject | DirectRouteObject)[];
}

/** An envoy.config.route.v3.RouteConfiguration as a plain object. */
export interface RouteConfigurationObject {
  name: string;
  virtual_hosts: VirtualHostObject[];
}

/** Domain (and name) of the gateway's catch-all virtual host: any Host no service has. */
export const ANY_HOST = "*";

/** Name of the route answering a Host that names no service (the gateway listener's reply names it). */
export const UNKNOWN_HOST_ROUTE = "*:unknown-host";

/** What to do about an unknown Host, after `no service "HOST" in Consul; `. */
export const UNKNOWN_HOST_HINT = "address a service with Host: NAME or NAME.service.consul";

/**
 * The Host values that reach a service (docs/architecture.md §4): `NAME` and
 * `NAME.service.consul`, each also with any port (Envoy matches Host with its port).
 */
export function serviceDomains(name: string): string[] {
  const consulName = `${name}.service.consul`;
  return [name, `${name}:*`, consulName, `${consulName}:*`];
}

/**
 * A service's routes: with a subset header (lb-settings.ts), first one route per value V of the
 * header's key among the instances, matching `header: V` and asking the cluster's subset load
 * balancer for endpoints whose `envoy.lb` metadata has key = V; then the default route, which
 * balances over every endpoint. Envoy takes the first route that matches.
 */
export function toRoutes(service: RoutedService): RouteObject[] {
  const route = toRoute(service);
  const header = service.settings.subsets?.header;
  if (!header) return [route];
  const picked = (service.subsetValues ?? []).map((value): RouteObject => ({
    name: `${service.name}:${header.name}=${value}`,
    match: { ...route.match, headers: [{ name: header.name, string_match: { exact: value } }] },
    route: {
      ...route.route,
      metadata_match: {
        filter_metadata: { [LB_METADATA_NAMESPACE]: stringStruct({ [header.key]: value }) },
      },
    },
  }));
  return [...picked, route];
}

/** A service's default route: its path prefix to its cluster, timeout and retries from meta. */
export function toRoute({ name, settings }: RoutedService): RouteObject {
  const route: RouteObject = {
    name,
    match: { prefix: settings.routePrefix },
    route: { cluster: name },
  };
  if (settings.routeTimeoutMs !== undefined)
    route.route.timeout = duration(settings.routeTimeoutMs);
  if (settings.retry) {
    route.route.retry_policy = {
      retry_on: settings.retry.retryOn,
      num_retries: { value: settings.retry.numRetries },
    };
    if (settings.retry.perTryTimeoutMs !== undefined) {
      route.route.retry_policy.per_try_timeout = duration(settings.retry.perTryTimeoutMs);
    }
  }
  return route;
}

/** A service's virtual host, matched by its domains (or the ones given). */
export function toVirtualHost(
  service: RoutedService,
  domains: string[] = serviceDomains(service.name),
): VirtualHostObject {
  return { name: service.name, domains, routes: toRoutes(service) };
}

/**
 * The gateway's catch-all virtual host (`*`): a Host that names no service goes to the default
 * service's routes; with none, a 404 whose body says how to address a service (the gateway
 * listener puts the requested Host into it, listener.ts). Envoy tries `*` only after every exact
 * domain, so known Hosts route as before.
 */
export function toCatchAllVirtualHost(
  defaultService: RoutedService | undefined,
): VirtualHostObject {
  // Named `*`, not after the service, whose own host keeps its name (and its stats).
  if (defaultService) return { ...toVirtualHost(defaultService, [ANY_HOST]), name: ANY_HOST };
  return {
    name: ANY_HOST,
    domains: [ANY_HOST],
    routes: [
      {
        name: UNKNOWN_HOST_ROUTE,
        match: { prefix: "/" },
        direct_response: {
          status: 404,
          body: { inline_string: `no service for this Host in Consul; ${UNKNOWN_HOST_HINT}\n` },
        },
      },
    ],
  };
}

/**
 * The route configuration of every exported service, one virtual host each, sorted by name,
 * then the catch-all host when one is given (the gateway's); without it an unknown Host gets
 * Envoy's empty 404. Envoy matches domains case-insensitively and rejects a whole configuration
 * that has a domain twice, so a service any of whose domains an earlier one (by name) already
 * has (`Web` after `web`; `a.service.consul` next to `a`) is left out and returned in `shadowed`.
 */
export function toRouteConfiguration(
  name: string,
  services: Iterable<RoutedService>,
  catchAll?: VirtualHostObject,
): { value: RouteConfigurationObject; shadowed: string[] } {
  const seen = new Set<string>();
  const shadowed: string[] = [];
  const virtualHosts: VirtualHostObject[] = [];
  for (const service of [...services].sort((a, b) => compare(a.name, b.name))) {
    const domains = serviceDomains(service.name).map((domain) => domain.toLowerCase());
    if (domains.some((domain) => seen.has(domain))) {
      shadowed.push(service.name);
      continue;
    }
    for (const domain of domains) seen.add(domain);
    virtualHosts.push(toVirtualHost(service));
  }
  if (catchAll) virtualHosts.push(catchAll);
  return { value: { name, virtual_hosts: virtualHosts }, shadowed };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * RDS: one route configuration (`consul-services` by default) with a virtual host per exported
 * service, and the catch-all host when the gateway is served, rebuilt when a service's cluster or
 * virtual host changes (docs/architecture.md §4); the default service's changes are among them.
 */
export const routeType: ResourceType<typeof ROUTE_CONFIGURATION_TYPE_URL> = {
  typeUrl: ROUTE_CONFIGURATION_TYPE_URL,
  grpc: {
    label: "rds",
    service: "envoy.service.route.v3.RouteDiscoveryService",
    sotw: "StreamRoutes",
    delta: "DeltaRoutes",
  },
  protoFiles: ["envoy/service/route/v3/rds.proto", "envoy/config/route/v3/route.proto"],
  fullSet: false,
  dependents: [],
  names: (source) => [source.routeConfigName],
  scope: () => "view",
  build(source, name) {
    if (name !== source.routeConfigName) return undefined;
    const { gateway, exported } = source;
    const fallback = gateway?.defaultService;
    const catchAll =
      gateway && toCatchAllVirtualHost(fallback ? exported.get(fallback) : undefined);
    const { value, shadowed } = toRouteConfiguration(name, exported.all(), catchAll);
    if (shadowed.length > 0) source.onShadowed(shadowed);
    return { value, exists: true };
  },
  changed: (change, source) => (change.routing.length > 0 ? [source.routeConfigName] : []),
};
