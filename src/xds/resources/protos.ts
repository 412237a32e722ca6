import * as protoLoader from "@grpc/proto-loader";
import {
  loadPackageDefinition,
  type GrpcObject,
  type MethodDefinition,
  type ServiceDefinition,
} from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import { loadProtoTree, PROTOS_DIR } from "./proto-tree.ts";

/**
 * Entry points into the project's own protos/ tree (protos/README.md): Envoy's xDS API as far as
 * the bridge uses it, at upstream's paths; imports are followed inside protos/ only.
 */
const PROTO_FILES = [
  "envoy/service/discovery/v3/ads.proto",
  "envoy/service/endpoint/v3/eds.proto",
  "envoy/service/cluster/v3/cds.proto",
  "envoy/service/listener/v3/lds.proto",
  "envoy/service/route/v3/rds.proto",
  "envoy/config/endpoint/v3/endpoint.proto",
  "envoy/config/cluster/v3/cluster.proto",
  "envoy/config/listener/v3/listener.proto",
  "envoy/config/route/v3/route.proto",
  "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
  "envoy/extensions/filters/http/router/v3/router.proto",
  "envoy/extensions/access_loggers/stream/v3/stream.proto",
  "envoy/config/trace/v3/zipkin.proto",
  "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
];

/** Options shared by every decode so request objects have one shape. */
export const PROTO_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** The loaded protos: gRPC service definitions and the message types the bridge encodes. */
export interface XdsProtos {
  adsService: ServiceDefinition;
  edsService: ServiceDefinition;
  cdsService: ServiceDefinition;
  ldsService: ServiceDefinition;
  rdsService: ServiceDefinition;
  clusterLoadAssignment: protobuf.Type;
  cluster: protobuf.Type;
  listener: protobuf.Type;
  routeConfiguration: protobuf.Type;
  /** The SotW response envelope, encoded once per response shared by streams (shared-responses.ts). */
  discoveryResponse: protobuf.Type;
  /** The delta response envelope, encoded once per response shared by streams (delta-responses.ts). */
  deltaDiscoveryResponse: protobuf.Type;
  /** Nested Anys (`"@type"` objects) are encoded through this root, so every type is in it. */
  root: protobuf.Root;
}

let cached: XdsProtos | undefined;

/** Loads (once per process) the Envoy protos the xDS server needs. */
export function loadXdsProtos(): XdsProtos {
  if (cached) return cached;
  const root = loadProtoTree(PROTOS_DIR, PROTO_FILES);

  const definition = protoLoader.fromJSON(root.toJSON(), PROTO_OPTIONS);
  const grpcObject = loadPackageDefinition(definition);
  const service = (path: string): ServiceDefinition => {
    let node: unknown = grpcObject;
    for (const part of path.split(".")) node = (node as GrpcObject)[part];
    return passEncodedResponses((node as { service: ServiceDefinition }).service);
  };
  cached = {
    adsService: service("envoy.service.discovery.v3.AggregatedDiscoveryService"),
    edsService: service("envoy.service.endpoint.v3.EndpointDiscoveryService"),
    cdsService: service("envoy.service.cluster.v3.ClusterDiscoveryService"),
    ldsService: service("envoy.service.listener.v3.ListenerDiscoveryService"),
    rdsService: service("envoy.service.route.v3.RouteDiscoveryService"),
    clusterLoadAssignment: root.lookupType("envoy.config.endpoint.v3.ClusterLoadAssignment"),
    cluster: root.lookupType("envoy.config.cluster.v3.Cluster"),
    listener: root.lookupType("envoy.config.listener.v3.Listener"),
    routeConfiguration: root.lookupType("envoy.config.route.v3.RouteConfiguration"),
    discoveryResponse: root.lookupType("envoy.service.discovery.v3.DiscoveryResponse"),
    deltaDiscoveryResponse: root.lookupType("envoy.service.discovery.v3.DeltaDiscoveryResponse"),
    root,
  };
  return cached;
}

/**
 * The service with responses that are already encoded (a Buffer: one DiscoveryResponse encoded
 * once for many streams, docs/architecture.md §5) written as they are; objects are still
 * encoded by proto-loader's serializer. Requests are decoded as before.
 */
function passEncodedResponses(service: ServiceDefinition): ServiceDefinition {
  const methods: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service)) {
    const encode = method.responseSerialize;
    methods[name] = {
      ...method,
      responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : encode(value)),
    };
  }
  return methods;
}
