/** The xDS resource type URLs the bridge serves, each a constant with a literal type. */
export const CLUSTER_LOAD_ASSIGNMENT_TYPE_URL =
  "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment" as const;

/** Every type the bridge can serve. */
export type ResourceTypeUrl = typeof CLUSTER_LOAD_ASSIGNMENT_TYPE_URL;

/** Whether a requested type URL is one the bridge serves. */
export function isServedTypeUrl(typeUrl: string): typeUrl is ResourceTypeUrl {
  return typeUrl === CLUSTER_LOAD_ASSIGNMENT_TYPE_URL;
}
