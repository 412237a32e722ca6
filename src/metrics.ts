import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";

/** The bridge's Prometheus metrics, in a registry of its own (no global state). */
export interface BridgeMetrics {
  registry: Registry;
  consulErrors: Counter<"watch">;
  consulIndexResets: Counter<"reason">;
  consulChecksHeld: Counter;
  consulServiceReads: Counter;
  consulRejectedInstances: Counter<"service">;
  xdsStreams: Gauge;
  xdsRequests: Counter<"kind" | "type_url">;
  xdsResponses: Counter<"type_url">;
  xdsNacks: Counter<"type_url">;
  serviceMetaInvalid: Counter<"service" | "key">;
  xdsRefused: Counter<"reason">;
  shimRequests: Counter<"route" | "status">;
}

/** Creates the metrics; `withDefaults` adds process metrics (memory, event loop). */
export function createMetrics(withDefaults = true): BridgeMetrics {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: "bridge_" });
  const registers = [registry];
  return {
    registry,
    consulErrors: new Counter({
      name: "bridge_consul_errors_total",
      help: "Failed or malformed Consul reads",
      labelNames: ["watch"],
      registers,
    }),
    consulIndexResets: new Counter({
      name: "bridge_consul_index_resets_total",
      help: "Blocking-query resets: index went backwards, or content changed at the same index",
      labelNames: ["reason"],
      registers,
    }),
    consulChecksHeld: new Counter({
      name: "bridge_consul_checks_held_total",
      help: "Previously healthy checks held while in an agent's start-up default (not run yet)",
      registers,
    }),
    consulServiceReads: new Counter({
      name: "bridge_consul_service_reads_total",
      help: "Targeted /v1/health/service reads",
      registers,
    }),
    consulRejectedInstances: new Counter({
      name: "bridge_consul_rejected_instances_total",
      help: "Instances skipped for a bad address or port",
      labelNames: ["service"],
      registers,
    }),
    xdsStreams: new Gauge({ name: "bridge_xds_streams", help: "Open xDS streams", registers }),
    xdsRequests: new Counter({
      name: "bridge_xds_requests_total",
      help: "xDS requests by kind (initial, ack, nack, stale, unsupported)",
      labelNames: ["kind", "type_url"],
      registers,
    }),
    xdsResponses: new Counter({
      name: "bridge_xds_responses_total",
      help: "xDS responses sent",
      labelNames: ["type_url"],
      registers,
    }),
    xdsNacks: new Counter({
      name: "bridge_xds_nacks_total",
      help: "xDS responses rejected by clients",
      labelNames: ["type_url"],
      registers,
    }),
    xdsRefused: new Counter({
      name: "bridge_xds_refused_total",
      help: "xDS clients refused: token (missing or wrong bearer token), tls (handshake failed)",
      labelNames: ["reason"],
      registers,
    }),
    serviceMetaInvalid: new Counter({
      name: "bridge_service_meta_invalid_total",
      help: "Service meta values ignored for a default (each service, key and value once)",
      labelNames: ["service", "key"],
      registers,
    }),
    shimRequests: new Counter({
      name: "bridge_shim_requests_total",
      help: "Shim requests by route and HTTP status",
      labelNames: ["route", "status"],
      registers,
    }),
  };
}
