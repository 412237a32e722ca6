import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { CONSUL_ENDPOINTS } from "../consul/client/consul-client.ts";
import { RESOURCE_TYPES, SERVED_TYPE_URLS } from "../xds/resources/resource-types.ts";

/** gRPC services a stream can be opened on, as the `type` label of connected streams. */
export const XDS_STREAM_SERVICES = ["ads", ...RESOURCE_TYPES.map((type) => type.grpc.label)];
/** How a stream speaks xDS, as the `mode` label. */
export const XDS_STREAM_MODES = ["sotw", "delta"] as const;
/** How an xDS request was classified, as the `kind` label. */
const XDS_REQUEST_KINDS = ["initial", "ack", "nack", "stale", "update", "unsupported"] as const;
/** Latency buckets in seconds: 1 ms to 10 s. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The bridge's Prometheus metrics, in a registry of its own (no global state). */
export interface BridgeMetrics {
  registry: Registry;
  consulErrors: Counter<"endpoint">;
  consulRequestDuration: Histogram<"endpoint">;
  consulIndexResets: Counter<"reason">;
  consulChecksHeld: Counter;
  consulServiceReads: Counter;
  /** Index probes of services a catalog change left unexplained (service-indexes.ts). */
  consulServiceProbes: Counter;
  consulRejectedInstances: Counter<"service">;
  /** Consul answers refused for ACL reasons (unknown-token, denied, filtered). */
  consulAccessProblems: Counter<"kind">;
  /** 1 while Consul's answers can be trusted as complete, 0 during an ACL problem. */
  consulAccessOk: Gauge;
  /** Stale answers past --consul-max-stale, read again from the leader. */
  consulTooStale: Counter<"endpoint">;
  xdsStreams: Gauge<"type" | "mode">;
  xdsRequests: Counter<"kind" | "type_url" | "mode">;
  xdsResponses: Counter<"type_url" | "mode">;
  /**
   * Adds `flush` to what runs each time {@link BridgeMetrics.xdsRequests} or
   * {@link BridgeMetrics.xdsResponses} is read: their events are tallied where they happen and
   * added at scrape time (counter-tally.ts).
   */
  beforeXdsCountsRead(flush: () => void): void;
  xdsNacks: Counter<"type_url" | "mode">;
  xdsEncodings: Counter<"type">;
  xdsResponseEncodings: Counter<"type">;
  serviceMetaInvalid: Counter<"service" | "key">;
  /** Endpoint metadata keys left out by the size limits (each endpoint once). */
  endpointMetadataDropped: Counter<"service">;
  /** Seconds since each Consul watch's last good answer, read at scrape time. */
  consulWatchAge: Gauge<"watch">;
  /** Sets where {@link BridgeMetrics.consulWatchAge} reads the ages (watch → seconds). */
  readWatchAges(read: () => ReadonlyMap<string, number>): void;
  /** 1 while another datacenter (--datacenters) does not answer; its last endpoints are kept. */
  consulDatacenterUnreachable: Gauge<"dc">;
  /** Failed or empty resolutions of a --dns-services name; its last endpoints are kept. */
  dnsErrors: Counter<"service">;
  xdsRefused: Counter<"reason">;
  shimRequests: Counter<"route" | "status">;
  changeToPush: Histogram;
  pushToAck: Histogram<"type_url">;
  endpoints: Gauge<"service" | "health">;
  ready: Gauge;
  buildInfo: Gauge<"version" | "node_version">;
}

/**
 * Creates the metrics; `withDefaults` adds the standard process and Node.js metrics, unprefixed
 * as stock dashboards expect. The bridge's own are under `bridge_`, and every labelled counter
 * whose label values are known up front starts at 0 for each of them.
 */
export function createMetrics(withDefaults = true, version = "unknown"): BridgeMetrics {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let watchAges: () => ReadonlyMap<string, number> = () => new Map();
  const xdsCountFlushes = new Set<() => void>();
  const flushXdsCounts = (): void => xdsCountFlushes.forEach((flush) => flush());
  const metrics: BridgeMetrics = {
    registry,
    consulErrors: new Counter({
      name: "bridge_consul_errors_total",
      help: "Failed Consul requests and malformed answers, by endpoint",
      labelNames: ["endpoint"],
      registers,
    }),
    consulRequestDuration: new Histogram({
      name: "bridge_consul_request_duration_seconds",
      help: "Duration of Consul requests that do not block, by endpoint",
      labelNames: ["endpoint"],
      buckets: LATENCY_BUCKETS,
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
    consulServiceProbes: new Counter({
      name: "bridge_consul_service_probes_total",
      help: "Index probes of /v1/health/service (empty answers) for services a catalog change left unexplained",
      registers,
    }),
    consulRejectedInstances: new Counter({
      name: "bridge_consul_rejected_instances_total",
      help: "Instances skipped for a bad address or port",
      labelNames: ["service"],
      registers,
    }),
    consulAccessProblems: new Counter({
      name: "bridge_consul_access_problems_total",
      help: "Consul answers refused for ACL reasons: unknown-token, denied (403), filtered (empty by ACLs)",
      labelNames: ["kind"],
      registers,
    }),
    consulAccessOk: new Gauge({
      name: "bridge_consul_access_ok",
      help: "1 while the ACL token reads Consul in full, 0 while answers are refused or filtered",
      registers,
    }),
    consulTooStale: new Counter({
      name: "bridge_consul_too_stale_total",
      help: "Stale answers whose X-Consul-LastContact exceeded --consul-max-stale (read again from the leader)",
      labelNames: ["endpoint"],
      registers,
    }),
    xdsStreams: new Gauge({
      name: "bridge_xds_streams",
      help: "Connected xDS streams by gRPC service (ads, cds, eds, lds, rds) and mode",
      labelNames: ["type", "mode"],
      registers,
    }),
    xdsRequests: new Counter({
      name: "bridge_xds_requests_total",
      help: "xDS requests by kind (initial, ack, nack, stale, update, unsupported) and mode (sotw, delta)",
      labelNames: ["kind", "type_url", "mode"],
      registers,
      collect: flushXdsCounts,
    }),
    xdsResponses: new Counter({
      name: "bridge_xds_responses_total",
      help: "xDS responses sent, by mode (sotw, delta)",
      labelNames: ["type_url", "mode"],
      registers,
      collect: flushXdsCounts,
    }),
    beforeXdsCountsRead(flush) {
      xdsCountFlushes.add(flush);
    },
    xdsNacks: new Counter({
      name: "bridge_xds_nacks_total",
      help: "xDS responses rejected by clients, by mode (sotw, delta)",
      labelNames: ["type_url", "mode"],
      registers,
    }),
    xdsEncodings: new Counter({
      name: "bridge_xds_encodings_total",
      help: "Resources encoded, by type URL (each version once, whatever the number of streams)",
      labelNames: ["type"],
      registers,
    }),
    xdsResponseEncodings: new Counter({
      name: "bridge_xds_response_encodings_total",
      help: "xDS responses encoded, by type URL (once per response shared by many streams)",
      labelNames: ["type"],
      registers,
    }),
    xdsRefused: new Counter({
      name: "bridge_xds_refused_total",
      help: "xDS clients refused: token (missing or wrong bearer token), tls (handshake failed), names (a stream subscribing to too many or too long resource names)",
      labelNames: ["reason"],
      registers,
    }),
    serviceMetaInvalid: new Counter({
      name: "bridge_service_meta_invalid_total",
      help: "Service meta values ignored for a default (each service, key and value once)",
      labelNames: ["service", "key"],
      registers,
    }),
    endpointMetadataDropped: new Counter({
      name: "bridge_endpoint_metadata_dropped_total",
      help: "Endpoint metadata keys (tags, meta) left out by the limits of 32 keys and 256 bytes (each endpoint once)",
      labelNames: ["service"],
      registers,
    }),
    consulWatchAge: new Gauge({
      name: "bridge_consul_watch_age_seconds",
      help: "Seconds since each Consul blocking query's last good answer (since it started, before the first)",
      labelNames: ["watch"],
      registers,
      collect() {
        this.reset();
        for (const [watch, age] of watchAges()) this.set({ watch }, age);
      },
    }),
    readWatchAges(read) {
      watchAges = read;
    },
    consulDatacenterUnreachable: new Gauge({
      name: "bridge_consul_datacenter_unreachable",
      help: "1 while a datacenter of --datacenters does not answer (its last endpoints are kept)",
      labelNames: ["dc"],
      registers,
    }),
    dnsErrors: new Counter({
      name: "bridge_dns_errors_total",
      help: "Failed or empty resolutions of a --dns-services name (its last endpoints are kept)",
      labelNames: ["service"],
      registers,
    }),
    shimRequests: new Counter({
      name: "bridge_shim_requests_total",
      help: "Shim requests by route and HTTP status",
      labelNames: ["route", "status"],
      registers,
    }),
    changeToPush: new Histogram({
      name: "bridge_change_to_push_seconds",
      help: "From a change reaching the endpoint model to the first EDS response sent after it",
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    pushToAck: new Histogram({
      name: "bridge_push_to_ack_seconds",
      help: "From an xDS response written to the client's ACK of it",
      labelNames: ["type_url"],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    endpoints: new Gauge({
      name: "bridge_endpoints",
      help: "Endpoints known, by service and health",
      labelNames: ["service", "health"],
      registers,
    }),
    ready: new Gauge({
      name: "bridge_ready",
      help: "1 once the first full read of Consul is done and xDS answers are served",
      registers,
    }),
    buildInfo: new Gauge({
      name: "bridge_build_info",
      help: "Always 1; the labels name the bridge's version and Node.js version",
      labelNames: ["version", "node_version"],
      registers,
    }),
  };
  initialize(metrics);
  metrics.buildInfo.set({ version, node_version: process.version }, 1);
  metrics.ready.set(0);
  return metrics;
}

/** Every known label value at 0, so rates and alerts work before the first event. */
function initialize(metrics: BridgeMetrics): void {
  for (const endpoint of CONSUL_ENDPOINTS) {
    metrics.consulErrors.inc({ endpoint }, 0);
    metrics.consulRequestDuration.zero({ endpoint });
  }
  for (const kind of ["unknown-token", "denied", "filtered"]) {
    metrics.consulAccessProblems.inc({ kind }, 0);
  }
  metrics.consulAccessOk.set(1);
  for (const reason of ["index-backwards", "content-changed"]) {
    metrics.consulIndexResets.inc({ reason }, 0);
  }
  for (const type of XDS_STREAM_SERVICES) {
    for (const mode of XDS_STREAM_MODES) metrics.xdsStreams.set({ type, mode }, 0);
  }
  for (const type_url of SERVED_TYPE_URLS) {
    for (const mode of XDS_STREAM_MODES) {
      for (const kind of XDS_REQUEST_KINDS) metrics.xdsRequests.inc({ kind, type_url, mode }, 0);
      metrics.xdsResponses.inc({ type_url, mode }, 0);
      metrics.xdsNacks.inc({ type_url, mode }, 0);
    }
    metrics.pushToAck.zero({ type_url });
  }
  for (const reason of ["token", "tls", "names", "view"]) metrics.xdsRefused.inc({ reason }, 0);
}
