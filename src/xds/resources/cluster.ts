import type { LbPolicy, ServiceSettings } from "../../model/service-settings.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL } from "./cluster-load-assignment.ts";
import {
  ADS_CONFIG_SOURCE,
  duration,
  type AdsConfigSource,
  type DurationObject,
  type Wrapped,
} from "./proto-values.ts";
import type { ResourceType } from "./resource-type.ts";

/** CDS: the type URL of Cluster. */
export const CLUSTER_TYPE_URL = "type.googleapis.com/envoy.config.cluster.v3.Cluster" as const;

/** Type URL and extension name of the upstream HTTP protocol options. */
export const HTTP_PROTOCOL_OPTIONS_TYPE_URL =
  "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
const HTTP_PROTOCOL_OPTIONS_NAME = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

const LB_POLICY: Record<LbPolicy, string> = {
  round_robin: "ROUND_ROBIN",
  least_request: "LEAST_REQUEST",
  ring_hash: "RING_HASH",
  maglev: "MAGLEV",
};

/** An envoy.config.cluster.v3.Cluster as a plain object (proto field names, `@type` Anys). */
export interface ClusterObject {
  name: string;
  type: "EDS";
  eds_cluster_config: { eds_config: AdsConfigSource };
  connect_timeout: DurationObject;
  lb_policy: string;
  typed_extension_protocol_options?: Record<
    string,
    { "@type": string; explicit_http_config: { http2_protocol_options: Record<string, never> } }
  >;
  outlier_detection?: {
    consecutive_5xx: Wrapped<number>;
    interval: DurationObject;
    base_ejection_time: DurationObject;
    max_ejection_percent: Wrapped<number>;
  };
  circuit_breakers?: { thresholds: CircuitBreakerThreshold[] };
  lb_subset_config?: {
    fallback_policy: "ANY_ENDPOINT";
    subset_selectors: { keys: string[] }[];
  };
  common_lb_config?:
    | { locality_weighted_lb_config: Record<string, never> }
    | { zone_aware_lb_config: Record<string, never> };
}

/** envoy.config.cluster.v3.CircuitBreakers.Thresholds; an unset limit keeps Envoy's default. */
export interface CircuitBreakerThreshold {
  priority: "DEFAULT";
  max_connections?: Wrapped<number>;
  max_pending_requests?: Wrapped<number>;
  max_requests?: Wrapped<number>;
  max_retries?: Wrapped<number>;
}

/**
 * The cluster of a service: named after it, type EDS with its endpoints over ADS, settings from
 * its meta. No active health checks: Consul checks health and EDS carries the result.
 * Localities are weighted by default (each carries a weight, docs/architecture.md §3), or
 * zone-aware when asked; subset selectors fall back to any endpoint when no subset matches.
 */
export function toCluster(name: string, settings: ServiceSettings): ClusterObject {
  const cluster: ClusterObject = {
    name,
    type: "EDS",
    eds_cluster_config: { eds_config: ADS_CONFIG_SOURCE },
    connect_timeout: duration(settings.connectTimeoutMs),
    lb_policy: LB_POLICY[settings.lbPolicy],
  };
  if (settings.protocol !== "http1") {
    cluster.typed_extension_protocol_options = {
      [HTTP_PROTOCOL_OPTIONS_NAME]: {
        "@type": HTTP_PROTOCOL_OPTIONS_TYPE_URL,
        explicit_http_config: { http2_protocol_options: {} },
      },
    };
  }
  if (settings.outlierDetection) {
    cluster.outlier_detection = {
      consecutive_5xx: { value: 5 },
      interval: duration(10_000),
      base_ejection_time: duration(30_000),
      max_ejection_percent: { value: 50 },
    };
  }
  const limits = settings.circuitBreakers;
  if (Object.keys(limits).length > 0) {
    const threshold: CircuitBreakerThreshold = { priority: "DEFAULT" };
    if (limits.maxConnections) threshold.max_connections = { value: limits.maxConnections };
    if (limits.maxPendingRequests) {
      threshold.max_pending_requests = { value: limits.maxPendingRequests };
    }
    if (limits.maxRequests) threshold.max_requests = { value: limits.maxRequests };
    if (limits.maxRetries) threshold.max_retries = { value: limits.maxRetries };
    cluster.circuit_breakers = { thresholds: [threshold] };
  }
  if (settings.localityLb === "weighted") {
    cluster.common_lb_config = { locality_weighted_lb_config: {} };
  } else if (settings.localityLb === "zone-aware") {
    cluster.common_lb_config = { zone_aware_lb_config: {} };
  }
  if (settings.subsets) {
    cluster.lb_subset_config = {
      fallback_policy: "ANY_ENDPOINT",
      subset_selectors: settings.subsets.selectors.map((keys) => ({ keys })),
    };
  }
  return cluster;
}

/**
 * CDS: one cluster per exported service (and per service that left less than the grace period
 * ago). Responses carry the full set. Assignments depend on clusters: a cluster sent anew is
 * followed by its assignment again, even if unchanged (docs/architecture.md §4).
 */
export const clusterType: ResourceType<typeof CLUSTER_TYPE_URL> = {
  typeUrl: CLUSTER_TYPE_URL,
  grpc: {
    label: "cds",
    service: "envoy.service.cluster.v3.ClusterDiscoveryService",
    sotw: "StreamClusters",
    delta: "DeltaClusters",
  },
  protoFiles: [
    "envoy/service/cluster/v3/cds.proto",
    "envoy/config/cluster/v3/cluster.proto",
    "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
  ],
  fullSet: true,
  dependents: [{ typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, resend: true }],
  names: (source) => source.exported.names(),
  scope: (name) => ({ service: name }),
  build(source, name) {
    const service = source.exported.get(name);
    return service && { value: toCluster(name, service.settings), exists: true };
  },
  changed: (change) => change.routing,
};
