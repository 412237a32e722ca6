/** The endpoint model: what the sources know of a service, free of Consul and xDS types. */

/** Whether an endpoint should take traffic (docs/architecture.md §4, "Health statuses"). */
export type EndpointHealth = "healthy" | "degraded" | "unhealthy" | "draining" | "unknown";

/** Where an endpoint runs: the datacenter as region, a zone when the node names one. */
export interface Locality {
  region: string;
  zone: string;
}

/** One instance of a service. */
export interface Endpoint {
  /** Stable identity within the service (Consul: node + service ID). */
  id: string;
  /** An IP literal. */
  address: string;
  port: number;
  health: EndpointHealth;
  /** Relative load-balancing weight, at least 1. */
  weight: number;
  locality: Locality;
  /** The instance's tags (Consul service tags), in their registered order. */
  tags: string[];
  /** The instance's key/value metadata (Consul service meta); service settings are read from it. */
  meta: Record<string, string>;
}

/** A service and all of its known instances. */
export interface ServiceEndpoints {
  service: string;
  endpoints: Endpoint[];
}

/** Orders endpoints canonically so equal content compares and hashes equal. */
export function sortEndpoints(endpoints: readonly Endpoint[]): Endpoint[] {
  return [...endpoints].sort(
    (a, b) =>
      a.locality.region.localeCompare(b.locality.region) ||
      a.locality.zone.localeCompare(b.locality.zone) ||
      a.address.localeCompare(b.address) ||
      a.port - b.port ||
      a.id.localeCompare(b.id),
  );
}
