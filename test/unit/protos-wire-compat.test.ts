import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { ServiceDefinition } from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";
import {
  DEFAULT_SERVICE_SETTINGS,
  type ServiceSettings,
} from "../../src/model/service-settings.ts";
import { toCluster } from "../../src/xds/resources/cluster.ts";
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  toClusterLoadAssignment,
} from "../../src/xds/resources/cluster-load-assignment.ts";
import { toApiListener, toGatewayListener } from "../../src/xds/resources/listener.ts";
import { loadXdsProtos, PROTO_OPTIONS, type XdsProtos } from "../../src/xds/resources/protos.ts";
import { RESOURCE_TYPES } from "../../src/xds/resources/resource-types.ts";
import {
  toCatchAllVirtualHost,
  toRouteConfiguration,
  type RoutedService,
  type RouteObject,
} from "../../src/xds/resources/route-configuration.ts";
import { endpoint, service } from "../support/model-fixtures.ts";
import { FULL_NODE, NACK_STATUS } from "../support/xds-request-fixtures.ts";
import {
  definitionMismatches,
  loadOurs,
  loadUpstream,
  WireCompat,
} from "../support/proto-compat.ts";

const CLA = "envoy.config.endpoint.v3.ClusterLoadAssignment";
const CLUSTER = "envoy.config.cluster.v3.Cluster";
const LISTENER = "envoy.config.listener.v3.Listener";
const ROUTES = "envoy.config.route.v3.RouteConfiguration";
const HCM = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const DISCOVERY = "envoy.service.discovery.v3";
const typeUrl = (name: string): string => `type.googleapis.com/${name}`;

const settings = (overrides: Partial<ServiceSettings>): ServiceSettings => ({
  ...DEFAULT_SERVICE_SETTINGS,
  ...overrides,
});

/** A service whose meta sets every setting. */
const FULL: RoutedService = {
  name: "billing",
  settings: settings({
    connectTimeoutMs: 2_500,
    lbPolicy: "least_request",
    protocol: "grpc",
    outlierDetection: true,
    circuitBreakers: { maxConnections: 10, maxPendingRequests: 20, maxRequests: 30, maxRetries: 3 },
    routePrefix: "/api",
    routeTimeoutMs: 1_500,
    retry: { numRetries: 2, retryOn: "5xx,reset", perTryTimeoutMs: 500 },
    localityLb: "zone-aware",
    subsets: {
      selectors: [["version"], ["stage", "version"]],
      header: { name: "x-version", key: "version" },
    },
  }),
  subsetValues: ["v1", "v2"],
};

const ASSIGNMENT = toClusterLoadAssignment(
  service(
    "web",
    endpoint("10.0.0.1", {
      weight: 3,
      locality: { region: "dc1", zone: "a" },
      tags: ["canary"],
      meta: { version: "v2" },
    }),
    endpoint("10.0.0.2", { health: "degraded", locality: { region: "dc1", zone: "a" } }),
    endpoint("10.0.1.1", { health: "draining", locality: { region: "dc1", zone: "b" } }),
    endpoint("10.0.2.1", {
      health: "unhealthy",
      port: 9090,
      locality: { region: "dc2", zone: "" },
    }),
  ),
  "web",
);

/** `object` without `key`: a message given as an `@type` Any, unpacked; or a oneof member dropped. */
function without(object: object, key: string): object {
  return Object.fromEntries(Object.entries(object).filter(([name]) => name !== key));
}

const unpacked = (object: object): object => without(object, "@type");

describe("protos/ against upstream's complete definitions", () => {
  let compat: WireCompat;
  let protos: XdsProtos;
  const any = (name: string, object: object): { type_url: string; value: Buffer } => ({
    type_url: typeUrl(name),
    value: Buffer.from(compat.assertSurvives(name, object)),
  });

  before(() => {
    protos = loadXdsProtos();
    compat = new WireCompat(loadOurs(), loadUpstream(), protos.root);
  });

  it("defines every message, field, enum value and method exactly as upstream does", () => {
    assert.deepEqual(definitionMismatches(compat.ours, compat.upstream), []);
  });

  it("serves the xDS services on upstream's method paths with upstream's message types", () => {
    const definition = (root: protobuf.Root): protoLoader.PackageDefinition =>
      protoLoader.fromJSON(root.toJSON(), PROTO_OPTIONS);
    const ours = definition(compat.ours);
    const theirs = definition(compat.upstream);
    const services: Record<string, string[]> = {
      "envoy.service.discovery.v3.AggregatedDiscoveryService": [
        "StreamAggregatedResources",
        "DeltaAggregatedResources",
      ],
      "envoy.service.endpoint.v3.EndpointDiscoveryService": ["StreamEndpoints", "DeltaEndpoints"],
      "envoy.service.cluster.v3.ClusterDiscoveryService": ["StreamClusters", "DeltaClusters"],
      "envoy.service.listener.v3.ListenerDiscoveryService": ["StreamListeners", "DeltaListeners"],
      "envoy.service.route.v3.RouteDiscoveryService": ["StreamRoutes", "DeltaRoutes"],
    };
    for (const [name, methods] of Object.entries(services)) {
      const mine = ours[name] as ServiceDefinition;
      for (const method of methods) {
        const a = mine[method]!;
        const b = (theirs[name] as ServiceDefinition)[method]!;
        assert.equal(a.path, `/${name}/${method}`);
        assert.deepEqual(
          [a.path, a.requestStream, a.responseStream],
          [b.path, b.requestStream, b.responseStream],
        );
      }
    }
    const served = [
      protos.adsService,
      ...RESOURCE_TYPES.map((type) => protos.service(type.typeUrl)),
    ];
    assert.ok(served.length >= 5);
    for (const serviceDefinition of served) {
      for (const method of Object.values(serviceDefinition)) {
        const [, name, methodName] = method.path.split("/");
        const upstreamMethod = (theirs[name!] as ServiceDefinition)[methodName!]!;
        assert.deepEqual(
          [method.path, method.requestStream, method.responseStream],
          [upstreamMethod.path, upstreamMethod.requestStream, upstreamMethod.responseStream],
        );
      }
    }
  });

  it("is what the bridge loads: every definition it encodes with is ours, field for field", () => {
    assert.deepEqual(definitionMismatches(protos.root, compat.ours), []);
    for (const value of Object.values(protos)) {
      if (value instanceof protobuf.Type) assert.equal(value.root, protos.root);
    }
  });

  it("a ClusterLoadAssignment the bridge encodes reads the same upstream, every field intact", () => {
    const type = protos.resource(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);
    compat.assertCarries(CLA, ASSIGNMENT, type.encode(type.fromObject(ASSIGNMENT)).finish());
    compat.assertSurvives(CLA, toClusterLoadAssignment(undefined, "gone"));
  });

  it("every Cluster variant survives upstream decoding: policies, protocols, breakers, outliers", () => {
    for (const lbPolicy of ["round_robin", "least_request", "ring_hash", "maglev"] as const) {
      for (const protocol of ["http1", "http2", "grpc"] as const) {
        compat.assertSurvives(CLUSTER, toCluster("web", settings({ lbPolicy, protocol })));
      }
    }
    const cluster = toCluster(FULL.name, FULL.settings);
    compat.assertSurvives(CLUSTER, cluster);
    assert.ok(cluster.lb_subset_config && cluster.common_lb_config);
    compat.assertSurvives(CLUSTER, toCluster("web", settings({ localityLb: "weighted" })));
    const options = Object.values(cluster.typed_extension_protocol_options ?? {});
    assert.equal(options.length, 1);
    compat.assertSurvives(options[0]!["@type"].split("/")[1]!, unpacked(options[0]!));
  });

  it("a RouteConfiguration with prefixes, timeouts, retries and subset routes survives upstream decoding", () => {
    const plain = { name: "plain", settings: DEFAULT_SERVICE_SETTINGS };
    const { value } = toRouteConfiguration("consul-services", [FULL, plain]);
    const routes = value.virtual_hosts[0]!.routes as RouteObject[];
    assert.ok(routes[0]!.match.headers && routes[0]!.route.metadata_match);
    compat.assertSurvives(ROUTES, value);
  });

  it("the gateway's catch-all hosts survive: the default service's routes, and the unknown-Host 404", () => {
    for (const catchAll of [toCatchAllVirtualHost(FULL), toCatchAllVirtualHost(undefined)]) {
      compat.assertSurvives(
        ROUTES,
        toRouteConfiguration("consul-services", [FULL], catchAll).value,
      );
    }
  });

  it("gateway and API listeners survive, with their connection manager, router, access log and tracer", () => {
    const gateway = toGatewayListener({
      host: "0.0.0.0",
      port: 10000,
      routeConfigName: "consul-services",
      zipkinCluster: "zipkin_collector",
    });
    compat.assertSurvives(LISTENER, gateway);
    compat.assertSurvives(LISTENER, toApiListener("billing:50051", FULL));
    const hcm = gateway.filter_chains![0]!.filters[0]!.typed_config;
    compat.assertSurvives(HCM, unpacked(hcm));
    const packedName = (object: { "@type": string }): string => object["@type"].split("/")[1]!;
    for (const filter of hcm.http_filters) {
      compat.assertSurvives(packedName(filter.typed_config), unpacked(filter.typed_config));
    }
    for (const log of hcm.access_log ?? []) {
      compat.assertSurvives("envoy.config.accesslog.v3.AccessLog", log);
      compat.assertSurvives(packedName(log.typed_config), unpacked(log.typed_config));
    }
    const reply = hcm.local_reply_config;
    assert.ok(reply, "the gateway rewrites its unknown-Host reply");
    for (const mapper of reply.mappers) {
      const filter = mapper.filter.extension_filter.typed_config;
      compat.assertSurvives(packedName(filter), unpacked(filter));
    }
    const tracer = hcm.tracing?.provider;
    assert.ok(tracer, "the gateway has a tracer");
    compat.assertSurvives("envoy.config.trace.v3.Tracing.Http", tracer);
    compat.assertSurvives(packedName(tracer.typed_config), unpacked(tracer.typed_config));
  });

  it("a DiscoveryResponse the bridge serializes decodes upstream, resources included", () => {
    const response = {
      version_info: "1700000000-3f2a",
      resources: [
        any(CLUSTER, toCluster(FULL.name, FULL.settings)),
        any(CLA, ASSIGNMENT),
        any(LISTENER, toGatewayListener({ host: "::", port: 8080, routeConfigName: "r" })),
        any(ROUTES, toRouteConfiguration("r", [FULL]).value),
      ],
      canary: false,
      type_url: typeUrl(CLUSTER),
      nonce: "7",
      control_plane: { identifier: "consul-xds-bridge" },
    };
    const method = protos.adsService.StreamAggregatedResources!;
    compat.assertCarries(
      `${DISCOVERY}.DiscoveryResponse`,
      response,
      method.responseSerialize(response),
    );
  });

  it("a DeltaDiscoveryResponse the bridge serializes decodes upstream, every field intact", () => {
    const response = {
      system_version_info: "1700000000",
      resources: [
        {
          name: "web",
          aliases: ["web.service.consul"],
          version: "3f2a",
          resource: any(CLA, ASSIGNMENT),
          ttl: { seconds: 30, nanos: 0 },
          cache_control: { do_not_cache: true },
        },
      ],
      type_url: typeUrl(CLA),
      removed_resources: ["old"],
      nonce: "8",
      control_plane: { identifier: "consul-xds-bridge" },
    };
    const method = protos.adsService.DeltaAggregatedResources!;
    compat.assertCarries(
      `${DISCOVERY}.DeltaDiscoveryResponse`,
      response,
      method.responseSerialize(response),
    );
  });

  it("a DeltaDiscoveryResponse encoded once for many streams (delta-responses.ts) decodes upstream", () => {
    const response = {
      system_version_info: "epoch-1",
      resources: [{ name: "web", version: "3f2a", resource: any(CLA, ASSIGNMENT) }],
      type_url: typeUrl(CLA),
      removed_resources: ["old"],
      nonce: "1",
    };
    compat.assertCarries(
      `${DISCOVERY}.DeltaDiscoveryResponse`,
      response,
      protos.deltaDiscoveryResponse.encode(response).finish(),
    );
  });

  /** Encodes `request` with upstream's definitions and reads it the way the bridge does. */
  function assertBridgeReads(typeName: string, method: string, request: object): void {
    const deserialize = protos.adsService[method]!.requestDeserialize;
    compat.assertReadFromUpstream(`${DISCOVERY}.${typeName}`, request, deserialize);
  }

  it("a DiscoveryRequest encoded upstream reads the same with ours: node, ACK and NACK", () => {
    const request = {
      version_info: "1700000000-3f2a",
      node: FULL_NODE,
      resource_names: ["web", "billing"],
      type_url: typeUrl(CLA),
      response_nonce: "7",
      error_detail: NACK_STATUS,
    };
    assertBridgeReads("DiscoveryRequest", "StreamAggregatedResources", request);
    const older = { ...without(FULL_NODE, "user_agent_build_version"), user_agent_version: "1.40" };
    assertBridgeReads("DiscoveryRequest", "StreamAggregatedResources", { ...request, node: older });
  });

  it("a DeltaDiscoveryRequest encoded upstream reads the same with ours: subscriptions, versions held", () => {
    const request = {
      node: FULL_NODE,
      type_url: typeUrl(CLUSTER),
      resource_names_subscribe: ["web", "billing"],
      resource_names_unsubscribe: ["old"],
      initial_resource_versions: { web: "v1", billing: "v2" },
      response_nonce: "9",
      error_detail: NACK_STATUS,
    };
    assertBridgeReads("DeltaDiscoveryRequest", "DeltaAggregatedResources", request);
  });

  it("fails when a resource sets a field our protos lack, however deep", () => {
    const cluster = toCluster("web", DEFAULT_SERVICE_SETTINGS);
    const unknownField = { ...cluster, health_checks: [{ timeout: { seconds: 1, nanos: 0 } }] };
    assert.throws(() => compat.assertSurvives(CLUSTER, unknownField), /fields lost/);
    const unknownType = {
      ...cluster,
      typed_extension_protocol_options: {
        x: {
          "@type": typeUrl("envoy.config.core.v3.HealthCheck"),
          timeout: { seconds: 1, nanos: 0 },
        },
      },
    };
    assert.throws(() => compat.assertSurvives(CLUSTER, unknownType), /fields lost/);
  });
});
