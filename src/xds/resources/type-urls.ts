/** The xDS resource type URLs the bridge serves, each a constant with a literal type. */
export const CLUSTER_LOAD_ASSIGNMENT_TYPE_URL =
  "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment" as const;
/** CDS. */
export const CLUSTER_TYPE_URL = "type.googleapis.com/envoy.config.cluster.v3.Cluster" as const;
/** LDS. */
export const LISTENER_TYPE_URL = "type.googleapis.com/envoy.config.listener.v3.Listener" as const;
/** RDS. */
export const ROUTE_CONFIGURATION_TYPE_URL =
  "type.googleapis.com/envoy.config.route.v3.RouteConfiguration" as const;

/**
 * Every served type, in the order an ADS stream sends them: clusters before the assignments that
 * depend on them, listeners before their routes (xDS protocol, "eventual consistency
 * considerations"; docs/architecture.md §4).
 */
export const SERVED_TYPE_URLS = [
  CLUSTER_TYPE_URL,
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
] as const;

/** Every type the bridge can serve. */
export type ResourceTypeUrl = (typeof SERVED_TYPE_URLS)[number];

/** Whether a requested type URL is one the bridge serves. */
export function isServedTypeUrl(typeUrl: string): typeUrl is ResourceTypeUrl {
  return (SERVED_TYPE_URLS as readonly string[]).includes(typeUrl);
}
