import { datacenterPriorities, type DatacenterOrder } from "../../model/datacenter-priority.ts";
import type { Endpoint, EndpointHealth, Locality, ServiceEndpoints } from "../../model/endpoint.ts";
import { endpointMetadata, type MetadataValues } from "../../model/endpoint-metadata.ts";
import type { ResourceType } from "./resource-type.ts";

/** EDS: the type URL of ClusterLoadAssignment. */
export const CLUSTER_LOAD_ASSIGNMENT_TYPE_URL =
  "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment" as const;

/** Envoy's HealthStatus enum names (envoy/config/core/v3/health_check.proto). */
const HEALTH_STATUS: Record<EndpointHealth, string> = {
  unknown: "UNKNOWN",
  healthy: "HEALTHY",
  unhealthy: "UNHEALTHY",
  draining: "DRAINING",
  degraded: "DEGRADED",
};

/** A ClusterLoadAssignment as a plain object in proto field names, ready for protobufjs. */
export interface ClusterLoadAssignmentObject {
  cluster_name: string;
  endpoints: {
    locality: { region: string; zone: string };
    priority: number;
    load_balancing_weight: { value: number };
    lb_endpoints: {
      endpoint: { address: { socket_address: { address: string; port_value: number } } };
      health_status: string;
      metadata?: LbMetadataObject;
      load_balancing_weight: { value: number };
    }[];
  }[];
}

/** The filter-metadata namespace Envoy's load balancer and route `metadata_match` read. */
export const LB_METADATA_NAMESPACE = "envoy.lb";

/** envoy.config.core.v3.Metadata with the endpoint's tags and meta under `envoy.lb`. */
export interface LbMetadataObject {
  filter_metadata: {
    [LB_METADATA_NAMESPACE]: {
      fields: Record<string, { string_value: string } | { bool_value: true }>;
    };
  };
}

/** Metadata values as a google.protobuf.Struct under `envoy.lb`. */
function lbMetadata(values: MetadataValues): LbMetadataObject {
  const fields: LbMetadataObject["filter_metadata"]["envoy.lb"]["fields"] = {};
  for (const [key, value] of Object.entries(values)) {
    fields[key] = value === true ? { bool_value: true } : { string_value: value };
  }
  return { filter_metadata: { [LB_METADATA_NAMESPACE]: { fields } } };
}

const localityKey = (locality: Locality): string => `${locality.region}\u0000${locality.zone}`;

/** Which of two instances on one address and port is kept: the one most able to take traffic. */
const HEALTH_PREFERENCE: Record<EndpointHealth, number> = {
  healthy: 0,
  unknown: 1,
  degraded: 2,
  draining: 3,
  unhealthy: 4,
};

/**
 * One endpoint per address and port: gRPC rejects a whole assignment that lists an address
 * twice (two registrations of one backend, under two IDs or on two nodes). The one kept is the
 * healthiest, then the first in canonical order.
 */
function uniqueAddresses(endpoints: readonly Endpoint[]): Endpoint[] {
  const kept = new Map<string, Endpoint>();
  for (const endpoint of endpoints) {
    const key = `${endpoint.address}\u0000${endpoint.port}`;
    const other = kept.get(key);
    if (!other || HEALTH_PREFERENCE[endpoint.health] < HEALTH_PREFERENCE[other.health]) {
      kept.set(key, endpoint);
    }
  }
  return endpoints.filter(
    (endpoint) => kept.get(`${endpoint.address}\u0000${endpoint.port}`) === endpoint,
  );
}

/**
 * Translates a service into the ClusterLoadAssignment named after it: one LocalityLbEndpoints per
 * (region, zone), all at priority 0 — or, given the datacenter order, each region (datacenter)
 * at its failover priority (see datacenterPriorities; docs/architecture.md §3) — each with a locality weight (the sum of its endpoints'
 * weights) because strict clients such as gRPC reject unweighted localities, and each address
 * and port once (see uniqueAddresses). Each endpoint carries its tags and meta as `envoy.lb`
 * metadata (endpoint-metadata.ts); `onMetadataDropped` hears how many keys its limits left out,
 * per endpoint that lost any. A service with no
 * endpoints — unknown yet, or deregistered — gives an empty assignment (docs/architecture.md §4).
 */
export function toClusterLoadAssignment(
  service: ServiceEndpoints | undefined,
  name: string,
  datacenters?: DatacenterOrder,
  onMetadataDropped?: (endpointId: string, dropped: number) => void,
): ClusterLoadAssignmentObject {
  const groups = new Map<string, ClusterLoadAssignmentObject["endpoints"][number]>();
  for (const endpoint of uniqueAddresses(service?.endpoints ?? [])) {
    const key = localityKey(endpoint.locality);
    let group = groups.get(key);
    if (!group) {
      group = {
        locality: { region: endpoint.locality.region, zone: endpoint.locality.zone },
        priority: 0,
        load_balancing_weight: { value: 0 },
        lb_endpoints: [],
      };
      groups.set(key, group);
    }
    group.load_balancing_weight.value += endpoint.weight;
    const metadata = endpointMetadata(endpoint);
    if (metadata.dropped > 0) onMetadataDropped?.(endpoint.id, metadata.dropped);
    group.lb_endpoints.push({
      endpoint: {
        address: { socket_address: { address: endpoint.address, port_value: endpoint.port } },
      },
      health_status: HEALTH_STATUS[endpoint.health],
      ...(Object.keys(metadata.values).length > 0 ? { metadata: lbMetadata(metadata.values) } : {}),
      load_balancing_weight: { value: endpoint.weight },
    });
  }
  if (datacenters) {
    const groupList = [...groups.values()];
    const priorities = datacenterPriorities(
      groupList.map((group) => group.locality.region),
      datacenters,
    );
    for (const group of groupList) group.priority = priorities.get(group.locality.region) ?? 0;
  }
  const endpoints = [...groups.entries()]
    .sort(([a, x], [b, y]) => x.priority - y.priority || a.localeCompare(b))
    .map(([, group]) => group);
  return { cluster_name: name, endpoints };
}

/**
 * EDS: one assignment per service, named after it. Every name has one: a service that does not
 * exist (yet, or any more) gets an empty assignment (`exists` false), so Envoy does not sit in
 * cluster warming (docs/architecture.md §4). Responses carry only what changed.
 */
export const endpointType: ResourceType<typeof CLUSTER_LOAD_ASSIGNMENT_TYPE_URL> = {
  typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  grpc: {
    label: "eds",
    service: "envoy.service.endpoint.v3.EndpointDiscoveryService",
    sotw: "StreamEndpoints",
    delta: "DeltaEndpoints",
  },
  protoFiles: ["envoy/service/endpoint/v3/eds.proto", "envoy/config/endpoint/v3/endpoint.proto"],
  fullSet: false,
  dependents: [],
  names: (source) => source.exported.names(),
  scope: (name) => ({ service: name }),
  build(source, name) {
    const present = source.exported.get(name)?.present === true;
    const value = toClusterLoadAssignment(
      present ? source.endpoints(name) : undefined,
      name,
      source.datacenters(),
      (endpointId, dropped) => source.onMetadataDropped(name, endpointId, dropped),
    );
    return { value, exists: present };
  },
  changed: (change) => change.endpoints,
};
