import type { ConsulStatus, ConsulStatusSnapshot } from "../consul/watch/consul-status.ts";
import type { EndpointHealth } from "../model/endpoint.ts";
import type { EndpointStore } from "../model/endpoint-store.ts";
import type { StreamRegistry, StreamSnapshot } from "../xds/protocol/stream-registry.ts";
import { CLUSTER_TYPE_URL } from "../xds/resources/cluster.ts";
import { SERVED_TYPE_URLS } from "../xds/resources/resource-types.ts";
import type { XdsCache } from "../xds/cache/xds-cache.ts";
import type { WorkerState } from "../xds/server/xds-workers.ts";

/** One endpoint as `/debug/state` shows it. */
export interface EndpointState {
  id: string;
  address: string;
  port: number;
  health: EndpointHealth;
  weight: number;
  region: string;
  zone: string;
}

/** The whole of `GET /debug/state`. */
export interface BridgeState {
  version: string;
  startedAt: string;
  ready: boolean;
  /** Every service in the model; `exported` when it is served (it has a cluster and routes). */
  services: { name: string; exported: boolean; endpoints: EndpointState[] }[];
  /** Per type URL: each resource's name and the version it is served at. */
  resources: Record<string, { name: string; version: string }[]>;
  streams: StreamSnapshot[];
  consul: ConsulStatusSnapshot;
  /** The processes serving xDS, with `--xds-workers` above 1. */
  workers?: WorkerState[];
}

/** The parts the state is read from (the composition root owns them). */
export interface StateParts {
  version: string;
  startedAt: string;
  store: EndpointStore;
  cache: XdsCache;
  /** The open streams: of this process (its registry), or of every xDS worker. */
  streams: Pick<StreamRegistry, "snapshot">;
  consul: ConsulStatus;
  workers?: WorkerState[] | undefined;
}

/** Joins the model, the xDS cache, the stream registry and the Consul status into one view. */
export function readBridgeState(parts: StateParts): BridgeState {
  const { store, cache } = parts;
  // The services the filter exports are those with a cluster (cluster.ts).
  const served = new Set(cache.names(CLUSTER_TYPE_URL));
  const services = store.names().map((name) => ({
    name,
    exported: served.has(name),
    endpoints: (store.get(name)?.endpoints ?? []).map((endpoint) => ({
      id: endpoint.id,
      address: endpoint.address,
      port: endpoint.port,
      health: endpoint.health,
      weight: endpoint.weight,
      region: endpoint.locality.region,
      zone: endpoint.locality.zone,
    })),
  }));
  const resources: BridgeState["resources"] = {};
  for (const typeUrl of SERVED_TYPE_URLS) {
    resources[typeUrl] = cache.names(typeUrl).flatMap((name) => {
      const version = cache.get(typeUrl, name)?.version;
      return version === undefined ? [] : [{ name, version }];
    });
  }
  return {
    version: parts.version,
    startedAt: parts.startedAt,
    ready: store.ready,
    services,
    resources,
    streams: parts.streams.snapshot(),
    consul: parts.consul.snapshot(),
    ...(parts.workers ? { workers: parts.workers } : {}),
  };
}
