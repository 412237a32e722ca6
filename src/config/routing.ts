import type { OptionSpec } from "./option-spec.ts";
import { readInteger, type Given } from "./values.ts";
import { SERVICE_NAME_PATTERN } from "../model/names.ts";
import { parseServiceFilter, type ServiceFilter } from "../model/service-filter.ts";

/** Which services become clusters and routes, and what the bridge serves besides them. */
export interface RoutingConfig {
  /** Services exported over CDS, EDS, RDS and LDS (`--services`). */
  services: ServiceFilter;
  /** How long a service that left keeps its empty cluster, in seconds. */
  clusterGraceSeconds: number;
  /** Name of the RouteConfiguration holding one virtual host per service. */
  routeConfigName: string;
  /** The gateway listener (`consul-gateway`); none when undefined. */
  gateway:
    | {
        host: string;
        port: number;
        /** Where a Host that names no service goes; a 404 that says why when undefined. */
        defaultService: string | undefined;
        zipkinCluster?: string | undefined;
      }
    | undefined;
}

export const DEFAULT_CLUSTER_GRACE_SECONDS = 60;
export const DEFAULT_ROUTE_CONFIG_NAME = "consul-services";
export const DEFAULT_GATEWAY_HOST = "0.0.0.0";

/** The routing options, in the shape of the option table (option-spec.ts). */
export const ROUTING_OPTIONS = {
  services: {
    flag: "services",
    env: "BRIDGE_SERVICES",
    group: "xds",
    placeholder: "PATTERN,...",
    description:
      "services to export: name globs (api-*), tag:NAME, meta:KEY=VALUE; any match exports",
    whenUnset: "all but consul",
  },
  clusterGrace: {
    flag: "cluster-grace",
    env: "BRIDGE_CLUSTER_GRACE",
    group: "xds",
    placeholder: "SECONDS",
    description: "how long a departed service keeps its empty cluster, 0-86400",
    default: DEFAULT_CLUSTER_GRACE_SECONDS,
  },
  routeConfigName: {
    flag: "route-config-name",
    env: "BRIDGE_ROUTE_CONFIG_NAME",
    group: "xds",
    placeholder: "NAME",
    description: "name of the RouteConfiguration of all services",
    default: DEFAULT_ROUTE_CONFIG_NAME,
  },
  gatewayPort: {
    flag: "gateway-port",
    env: "BRIDGE_GATEWAY_PORT",
    group: "gateway",
    placeholder: "PORT",
    description: "serve the Listener consul-gateway on this port",
    whenUnset: "no gateway listener",
  },
  gatewayHost: {
    flag: "gateway-host",
    env: "BRIDGE_GATEWAY_HOST",
    group: "gateway",
    placeholder: "HOST",
    description: "address the gateway listener binds in Envoy",
    default: DEFAULT_GATEWAY_HOST,
  },
  gatewayDefaultService: {
    flag: "gateway-default-service",
    env: "BRIDGE_GATEWAY_DEFAULT_SERVICE",
    group: "gateway",
    placeholder: "NAME",
    description:
      "service a request whose Host names no service goes to; empty: none, such a request gets a 404 saying how to name one",
    whenUnset: "the shim's --default-service",
    emptyIsValue: true,
  },
  gatewayZipkin: {
    flag: "gateway-zipkin",
    env: "BRIDGE_GATEWAY_ZIPKIN",
    group: "gateway",
    placeholder: "CLUSTER",
    description:
      "Envoy cluster of a Zipkin collector the gateway sends spans to (envoy.yaml defines zipkin_collector, 127.0.0.1:9411)",
    whenUnset: "no tracing",
  },
} as const satisfies Record<string, OptionSpec>;

/** The routing values as given, by option name. */
export type RoutingGiven = Record<keyof typeof ROUTING_OPTIONS, Given>;

const ROUTE_CONFIG_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const HOST = /^[A-Za-z0-9.:-]{1,253}$/;
const CLUSTER_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * Reads the routing options, pushing every problem to `problems`. `shimService` is the shim's
 * default service, the gateway's too unless one is given (docs/edsservice-compatibility.md).
 */
export function readRoutingConfig(
  given: RoutingGiven,
  shimService: string,
  problems: string[],
): RoutingConfig {
  let services: ServiceFilter = { patterns: [] };
  if (given.services) {
    const parsed = parseServiceFilter(given.services.value);
    for (const problem of parsed.problems) problems.push(`${given.services.source}: ${problem}`);
    services = parsed.filter;
  }
  const clusterGraceSeconds = readInteger(
    given.clusterGrace,
    DEFAULT_CLUSTER_GRACE_SECONDS,
    0,
    86_400,
    problems,
  );
  const routeConfigName = given.routeConfigName?.value ?? DEFAULT_ROUTE_CONFIG_NAME;
  if (!ROUTE_CONFIG_NAME.test(routeConfigName)) {
    problems.push(
      `${given.routeConfigName?.source}=${routeConfigName}: letters, digits, _, . and - only`,
    );
  }
  const host = given.gatewayHost?.value ?? DEFAULT_GATEWAY_HOST;
  if (!HOST.test(host)) {
    problems.push(`${given.gatewayHost?.source}=${host}: not a host name or IP address`);
  }
  const zipkinCluster = given.gatewayZipkin?.value;
  if (zipkinCluster !== undefined && !CLUSTER_NAME.test(zipkinCluster)) {
    problems.push(`${given.gatewayZipkin?.source}=${zipkinCluster}: not an Envoy cluster name`);
  }
  const defaultService = given.gatewayDefaultService?.value ?? shimService;
  if (defaultService !== "" && !SERVICE_NAME_PATTERN.test(defaultService)) {
    problems.push(
      `${given.gatewayDefaultService?.source}=${defaultService}: not a service name (letters, digits, _ and - only)`,
    );
  }
  let gateway: RoutingConfig["gateway"];
  if (given.gatewayPort) {
    gateway = {
      host,
      port: readInteger(given.gatewayPort, 0, 1, 65_535, problems),
      defaultService: defaultService === "" ? undefined : defaultService,
      ...(zipkinCluster === undefined ? {} : { zipkinCluster }),
    };
  } else {
    for (const option of [given.gatewayHost, given.gatewayDefaultService, given.gatewayZipkin])
      if (option) problems.push(`${option.source} needs a gateway port (--gateway-port)`);
  }
  return { services, clusterGraceSeconds, routeConfigName, gateway };
}
